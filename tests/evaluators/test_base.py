from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.evaluators import ExactMatch
from trace2skill.evaluators.base import (
    HIDDEN,
    Candidate,
    Evaluation,
    evaluator_names,
    get_evaluator,
    hide_reference,
    reference_leaves,
    register_evaluator,
    resolver_for,
)
from trace2skill.models import Trajectory


def _run(task: str = "t", **extra: object) -> Trajectory:
    return Trajectory.model_validate({"id": "t1", "task": task, "messages": [], **extra})


def test_every_built_in_scorer_is_registered_by_name() -> None:
    assert {"exact", "numeric", "wikitq", "xlsx-cells", "math", "judge"} <= set(evaluator_names())
    assert get_evaluator("xlsx-cells").name == "xlsx-cells"


def test_the_evaluators_package_imports_nothing_of_the_project_but_errors_and_models() -> None:
    code = "import sys, trace2skill.evaluators; print(' '.join(m for m in sys.modules if m.startswith('trace2skill')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    outside = [m for m in loaded if not m.startswith("trace2skill.evaluators")]
    assert sorted(outside) == ["trace2skill", "trace2skill.errors", "trace2skill.models"]


def test_the_evolve_package_still_offers_the_interface() -> None:
    from trace2skill.evolve import Candidate as EvolveCandidate
    from trace2skill.evolve import get_evaluator as evolve_get_evaluator

    assert EvolveCandidate is Candidate and evolve_get_evaluator is get_evaluator


def test_a_candidate_holds_text_and_binary_files() -> None:
    candidate = Candidate(answer="x", files={"a.txt": "text", "b.xlsx": b"PK\x03\x04"})
    assert candidate.files["a.txt"] == "text" and candidate.files["b.xlsx"] == b"PK\x03\x04"


def test_an_evaluation_renders_pass_or_fail_with_its_feedback() -> None:
    assert Evaluation(passed=True, score=1.0).render() == "PASS (score 1)"
    assert (
        Evaluation(passed=False, score=0.5, feedback="- answer: wrong").render() == "FAIL (score 0.5)\n- answer: wrong"
    )


def test_options_reach_the_factory_and_those_it_does_not_take_are_left_out() -> None:
    assert get_evaluator("exact", case_sensitive=True, llm=object()).case_sensitive  # type: ignore[attr-defined]
    assert get_evaluator("numeric", rel_tol=0.5).rel_tol == 0.5  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match="needs an LLM"):
        get_evaluator("judge")


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


def test_resolver_passes_its_options_to_every_scorer_it_makes() -> None:
    resolve = resolver_for("exact", case_sensitive=True)
    assert resolve(_run(reference="A")).case_sensitive  # type: ignore[union-attr]


def test_reference_leaves_are_every_scalar_inside_the_reference() -> None:
    assert reference_leaves({"answer": ["a", 2], "files": {"x": "y"}, "n": None}) == ["a", 2, "y"]


@pytest.mark.parametrize(
    ("text", "values", "shown"),
    [
        ("the answer is 2004.", [2004], f"the answer is {HIDDEN}."),
        ("should be New  York", ["new york"], f"should be {HIDDEN}"),
        ("got 12.5 at B12 and 112", [12], "got 12.5 at B12 and 112"),
        ("value 7.5 or 7.50", [7.5], f"value {HIDDEN} or 7.50"),
        ("total 1,234.50 due", ["1,234.50"], f"total {HIDDEN} due"),
        ("year 2004.0 kept", [2004.0], f"year {HIDDEN} kept"),
        ("'zzz-wrong' matches nothing", ["wrong"], f"'zzz-{HIDDEN}' matches nothing"),
        ("does not match", ["no"], "does not match"),
        ("5 values given", [5], "5 values given"),
        ("date 2021-03-04 seen", [dt.datetime(2021, 3, 4)], f"date {HIDDEN} seen"),
        ("nothing to hide", [None, True, ""], "nothing to hide"),
    ],
)
def test_hide_reference_masks_whole_reference_values_only(text: str, values: list[object], shown: str) -> None:
    assert hide_reference(text, values) == shown
