"""How sure a benchmark result is: pass rates with Wilson intervals, and paired comparisons of two arms.

Two arms (a skill before and after, or none and some) run on the same tasks, so they are compared
task by task: the bootstrap resamples tasks, keeping each task's pair of outcomes together, and
McNemar's exact test looks only at the tasks whose outcome changed. scipy does the statistics; it
comes with the `bench` extra and is imported only when a number is asked for. Several runs of one
task (seeds) are the caller's to combine: these functions take one outcome per task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

from trace2skill.errors import InvalidInput

__all__ = ["Paired", "PassRate", "paired", "pass_rate"]

_MIN_RESAMPLES = 100


@dataclass(frozen=True)
class PassRate:
    """Passed out of total, with a Wilson interval: unlike the normal one, it stays sensible at 0/n and n/n."""

    passed: int
    total: int
    rate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} = {self.rate:.1%} [{100 * self.low:.1f}, {100 * self.high:.1f}]"


@dataclass(frozen=True)
class Paired:
    """Arm B against arm A on the tasks both ran: the change in points, how sure it is, and what moved."""

    n: int
    a: PassRate
    b: PassRate
    diff: float
    low: float
    high: float
    gained: int
    lost: int
    p_value: float

    def __str__(self) -> str:
        p = "< 0.001" if self.p_value < 0.001 else f"= {self.p_value:.3f}"
        return (
            f"{_points(self.diff)} points [{_points(self.low)}, {_points(self.high)}], "
            f"{self.gained} gained, {self.lost} lost, McNemar p {p} (n = {self.n})"
        )


def pass_rate(outcomes: Sequence[bool], confidence: float = 0.95) -> PassRate:
    """The share of passing runs and its Wilson interval; no runs gives 0.0 in [0, 1], since nothing is known."""
    _check_confidence(confidence)
    return _wilson(sum(bool(o) for o in outcomes), len(outcomes), confidence)


def paired(
    a: Mapping[str, bool],
    b: Mapping[str, bool],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Paired:
    """Arm B minus arm A over the task ids both hold, with a seeded bootstrap interval and exact McNemar p."""
    _check_confidence(confidence)
    if resamples < _MIN_RESAMPLES:
        raise InvalidInput(
            f"resamples must be at least {_MIN_RESAMPLES} to place a tail of the interval, got {resamples}"
        )
    ids = sorted(a.keys() & b.keys())  # sorted: the seeded resampling must not depend on dict order
    before = [bool(a[i]) for i in ids]
    after = [bool(b[i]) for i in ids]
    arm_a, arm_b = _wilson(sum(before), len(ids), confidence), _wilson(sum(after), len(ids), confidence)
    changes = [int(y) - int(x) for x, y in zip(before, after, strict=True)]
    gained, lost = changes.count(1), changes.count(-1)
    if not ids:
        return Paired(0, arm_a, arm_b, 0.0, 0.0, 0.0, 0, 0, 1.0)
    diff = arm_b.rate - arm_a.rate
    low, high = _bootstrap(changes, diff, confidence, resamples, seed)
    return Paired(len(ids), arm_a, arm_b, diff, low, high, gained, lost, _mcnemar(gained, lost))


def _wilson(passed: int, total: int, confidence: float) -> PassRate:
    if total == 0:
        return PassRate(0, 0, 0.0, 0.0, 1.0)
    _, stats = _libraries()
    rate = passed / total
    ci = stats.binomtest(passed, total).proportion_ci(confidence_level=confidence, method="wilson")
    return PassRate(passed, total, rate, min(float(ci.low), rate), max(float(ci.high), rate))


def _mcnemar(gained: int, lost: int) -> float:
    """Exact McNemar: under no effect, each changed task is a fair coin between gained and lost."""
    if gained + lost == 0:
        return 1.0
    _, stats = _libraries()
    return float(stats.binomtest(gained, gained + lost, 0.5).pvalue)


def _bootstrap(changes: list[int], diff: float, confidence: float, resamples: int, seed: int) -> tuple[float, float]:
    """Resampling per-task changes (B - A) is resampling tasks with both their outcomes: a paired bootstrap."""
    if len(set(changes)) == 1:
        return diff, diff  # every resample has the same mean: no spread, and BCa would divide by zero
    np, stats = _libraries()
    result = stats.bootstrap(
        (np.asarray(changes, dtype=float),),
        np.mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="BCa",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InvalidInput(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


def _points(fraction: float) -> str:
    text = f"{100 * fraction:+.1f}"
    return "+0.0" if text == "-0.0" else text


def _libraries() -> tuple[ModuleType, ModuleType]:
    try:
        import numpy
        from scipy import stats
    except ImportError as exc:
        raise InvalidInput("benchmark statistics need scipy: pip install 'trace2skill[bench]'") from exc
    return numpy, stats
