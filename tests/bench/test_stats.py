from __future__ import annotations

import builtins
from typing import Any

import pytest
import scipy.stats

from trace2skill.bench.stats import Paired, PassRate, paired, pass_rate
from trace2skill.errors import InvalidInput


def arms(*, both: int = 0, gained: int = 0, lost: int = 0, neither: int = 0) -> tuple[dict[str, bool], dict[str, bool]]:
    """Two arms over the same tasks, built from how many tasks fall in each cell of the 2x2 table."""
    cells = [(True, True)] * both + [(False, True)] * gained + [(True, False)] * lost + [(False, False)] * neither
    a = {f"task-{i:03d}": before for i, (before, _) in enumerate(cells)}
    b = {f"task-{i:03d}": after for i, (_, after) in enumerate(cells)}
    return a, b


def test_wilson_interval_for_41_of_100_is_the_textbook_score_interval() -> None:
    # Wilson (no continuity correction), z = 1.96: centre 0.41333, half-width 0.09466.
    rate = pass_rate([True] * 41 + [False] * 59)
    assert (rate.passed, rate.total, rate.rate) == (41, 100, 0.41)
    assert rate.low == pytest.approx(0.31867, abs=1e-4) and rate.high == pytest.approx(0.50799, abs=1e-4)
    assert str(rate) == "41/100 = 41.0% [31.9, 50.8]"


def test_all_or_nothing_intervals_touch_the_edge_and_stay_within_zero_and_one() -> None:
    none, every = pass_rate([False] * 10), pass_rate([True] * 10)
    assert none.low == 0.0 and none.high == pytest.approx(0.27753, abs=1e-4)
    assert every.low == pytest.approx(0.72247, abs=1e-4) and every.high == 1.0
    assert 0.0 <= none.low <= none.rate <= none.high <= 1.0 and 0.0 <= every.low <= every.rate <= every.high <= 1.0


def test_no_runs_give_a_zero_rate_with_an_interval_that_claims_nothing() -> None:
    assert pass_rate([]) == PassRate(passed=0, total=0, rate=0.0, low=0.0, high=1.0)


def test_a_higher_confidence_gives_a_wider_interval_and_a_confidence_outside_zero_one_is_refused() -> None:
    outcomes = [True] * 30 + [False] * 20
    at_95, at_99 = pass_rate(outcomes), pass_rate(outcomes, confidence=0.99)
    assert at_99.low < at_95.low and at_99.high > at_95.high
    with pytest.raises(InvalidInput, match="confidence"):
        pass_rate(outcomes, confidence=95)


def test_nine_gained_and_three_lost_give_the_exact_mcnemar_p_value_and_a_gain_of_six_points() -> None:
    a, b = arms(both=35, gained=9, lost=3, neither=53)
    result = paired(a, b)
    assert (result.n, result.gained, result.lost) == (100, 9, 3)
    assert (result.a.passed, result.b.passed) == (38, 44) and result.diff == pytest.approx(0.06)
    assert result.p_value == pytest.approx(0.14600, abs=1e-5)
    assert str(result).startswith("+6.0 points [")
    assert str(result).endswith("], 9 gained, 3 lost, McNemar p = 0.146 (n = 100)")


def test_the_difference_is_b_minus_a_so_swapping_the_arms_flips_its_sign_and_swaps_gained_and_lost() -> None:
    a, b = arms(both=10, gained=8, lost=2, neither=10)
    forward, backward = paired(a, b), paired(b, a)
    assert forward.diff == pytest.approx(0.2) and backward.diff == pytest.approx(-0.2)
    assert (forward.gained, forward.lost) == (backward.lost, backward.gained) == (8, 2)
    assert forward.p_value == backward.p_value


def test_only_tasks_present_in_both_arms_are_compared() -> None:
    a, b = arms(both=5, gained=5)
    a["only-in-a"], b["only-in-b"], b["also-only-in-b"] = True, False, False
    result = paired(a, b)
    assert result.n == result.a.total == result.b.total == 10
    assert (result.a.passed, result.b.passed, result.gained, result.lost) == (5, 10, 5, 0)


def test_no_common_tasks_give_zeros_and_p_one_without_calling_the_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_bootstrap(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the bootstrap must not run on no tasks")

    monkeypatch.setattr(scipy.stats, "bootstrap", no_bootstrap)
    result = paired({"x": True}, {"y": False})
    assert (result.n, result.diff, result.low, result.high, result.gained, result.lost) == (0, 0.0, 0.0, 0.0, 0, 0)
    assert result.p_value == 1.0 and result.a.total == result.b.total == 0
    assert str(result) == "+0.0 points [+0.0, +0.0], 0 gained, 0 lost, McNemar p = 1.000 (n = 0)"


@pytest.mark.parametrize(
    ("both", "neither", "gained", "lost", "diff"), [(30, 20, 0, 0, 0.0), (0, 0, 12, 0, 1.0), (0, 0, 0, 7, -1.0)]
)
def test_when_every_task_changed_the_same_way_the_interval_collapses_onto_the_difference(
    both: int, neither: int, gained: int, lost: int, diff: float
) -> None:
    result = paired(*arms(both=both, neither=neither, gained=gained, lost=lost))
    assert result.diff == pytest.approx(diff) and (result.low, result.high) == (result.diff, result.diff)
    if gained == lost == 0:
        assert result.p_value == 1.0


def test_the_bootstrap_interval_contains_the_difference_and_the_same_seed_gives_the_same_interval() -> None:
    a, b = arms(both=35, gained=9, lost=3, neither=53)
    first, again = paired(a, b, seed=7), paired(a, b, seed=7)
    assert first.low < first.diff < first.high
    assert (first.low, first.high) == (again.low, again.high)
    reordered = paired(dict(reversed(a.items())), dict(sorted(b.items(), key=lambda item: item[1])), seed=7)
    assert (reordered.low, reordered.high) == (first.low, first.high)


def test_the_bootstrap_interval_narrows_as_the_number_of_tasks_grows() -> None:
    small, large = (
        paired(*arms(both=4, gained=3, lost=1, neither=2)),
        paired(*arms(both=40, gained=30, lost=10, neither=20)),
    )
    assert small.diff == pytest.approx(large.diff) == pytest.approx(0.2)
    assert large.high - large.low < 0.5 * (small.high - small.low)


def test_the_bootstrap_widens_with_the_confidence_asked_for() -> None:
    a, b = arms(both=35, gained=9, lost=3, neither=53)
    at_90, at_99 = paired(a, b, confidence=0.90), paired(a, b, confidence=0.99)
    assert at_99.low < at_90.low and at_99.high > at_90.high
    assert isinstance(at_90, Paired) and at_90.a == pass_rate([True] * 38 + [False] * 62, confidence=0.90)


def test_too_few_resamples_are_refused() -> None:
    with pytest.raises(InvalidInput, match="resamples must be at least 100"):
        paired(*arms(gained=3, lost=1), resamples=10)


def test_without_scipy_the_statistics_say_in_one_line_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_scipy(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "scipy" or name.startswith("scipy."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(InvalidInput) as raised:
        pass_rate([True, False])
    assert "\n" not in str(raised.value) and "pip install 'trace2skill[bench]'" in str(raised.value)
