from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.evolve.evaluator import (
    Candidate,
    Evaluation,
    ExactMatch,
    get_evaluator,
    register_evaluator,
    resolver_for,
)
from trace2skill.models import Trajectory


def _run(task: str = "t", **extra: object) -> Trajectory:
    return Trajectory.model_validate({"id": "t1", "task": task, "messages": [], **extra})


@pytest.mark.anyio
async def test_exact_match_passes_on_the_same_answer_ignoring_case_and_spacing() -> None:
    result = await ExactMatch().evaluate(Candidate(answer="  New   York "), "new york")
    assert result.passed and result.score == 1.0 and result.diff == ""


@pytest.mark.anyio
async def test_exact_match_failure_shows_expected_and_got() -> None:
    result = await ExactMatch().evaluate(Candidate(answer="41"), 42)
    assert not result.passed and result.score == 0.0
    assert "expected '42'" in result.diff and "got '41'" in result.diff
    assert result.render().startswith("FAIL")


@pytest.mark.anyio
async def test_exact_match_accepts_any_listed_alternative() -> None:
    assert (await ExactMatch().evaluate(Candidate(answer="NYC"), ["New York", "nyc"])).passed


@pytest.mark.anyio
async def test_exact_match_case_sensitive_mode_tells_case_apart() -> None:
    assert not (await ExactMatch(case_sensitive=True).evaluate(Candidate(answer="abc"), "ABC")).passed


@pytest.mark.anyio
async def test_exact_match_compares_files_one_by_one_with_a_unified_diff() -> None:
    reference = {"answer": "3", "files": {"out.csv": "a,b\n1,2\n", "log.txt": "ok"}}
    result = await ExactMatch().evaluate(Candidate(answer="3", files={"out.csv": "a,b\n1,3\n"}), reference)
    assert not result.passed
    assert result.score == pytest.approx(1 / 3)
    assert "log.txt: file missing" in result.diff
    assert "-1,2" in result.diff and "+1,3" in result.diff


@pytest.mark.anyio
async def test_exact_match_refuses_a_missing_reference() -> None:
    with pytest.raises(InvalidInput):
        await ExactMatch().evaluate(Candidate(answer="x"), None)


def test_resolver_gives_no_evaluator_without_a_reference() -> None:
    resolve = resolver_for("exact")
    assert resolve(_run()) is None
    assert isinstance(resolve(_run(reference="42")), ExactMatch)


def test_resolver_prefers_the_trajectorys_own_evaluator_and_knows_registered_ones() -> None:
    class Always:
        name = "always"

        async def evaluate(self, candidate: Candidate, reference: object) -> Evaluation:
            return Evaluation(passed=True, score=1.0)

    register_evaluator("always", Always)
    resolve = resolver_for(None)
    assert isinstance(resolve(_run(reference=1, metadata={"evaluator": "always"})), Always)
    assert resolve(_run(reference=1)) is None
    with pytest.raises(NotFound, match="no evaluator named 'nope'"):
        get_evaluator("nope")
