"""Which analyst a failure gets, and what checks its fix: the task's scorer, else the LLM judge.

`analyst="single"` is the paper's ablation: every failure is analysed in one call and nothing is
checked. `analyst="agentic"` (the default) gives every failure the agentic error analyst, which must
prove its diagnosis with a fix that passes a checker:
- the run's scorer when the trajectory has one (a reference and an evaluator name);
- otherwise the LLM judge on the run's own model: against the reference answer when there is one,
  else against a rubric made of the task and what the run was told was wrong.
The judge's calls are logged as part of the run's analysis stage, so budgets and reports count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trace2skill.evaluators import Candidate, Evaluation, Evaluator, get_evaluator
from trace2skill.evolve.context import RunContext
from trace2skill.llm.types import ChatRequest
from trace2skill.models import EvolutionConfig, Trajectory
from trace2skill.untrusted import quote_run_data

__all__ = ["JUDGE_PURPOSE", "Checker", "checker_for", "is_agentic", "judge_reference"]

JUDGE_PURPOSE = "analyse.judge"
_QUOTE_CHARS = 1_500


@dataclass(frozen=True)
class Checker:
    """An evaluator bound to what it compares against; `label` is what the analysis record shows."""

    evaluator: Evaluator
    reference: Any
    label: str

    async def evaluate(self, candidate: Candidate) -> Evaluation:
        return await self.evaluator.evaluate(candidate, self.reference)


def is_agentic(config: EvolutionConfig, trajectory: Trajectory) -> bool:
    """Whether this trajectory gets the multi-turn error analyst (so it needs a checker and a sandbox)."""
    return config.analyst == "agentic" and trajectory.outcome.status != "success"


def checker_for(ctx: RunContext, trajectory: Trajectory) -> Checker | None:
    """The checker of an agentic error analysis; None when the trajectory is not analysed agentically."""
    if not is_agentic(ctx.config, trajectory):
        return None
    scorer = ctx.resolve_evaluator(trajectory)
    if scorer is not None:
        return Checker(scorer, trajectory.reference, scorer.name)
    judge = get_evaluator("judge", llm=_RunCalls(ctx))
    against = "the reference answer" if trajectory.reference is not None else "a rubric from the task"
    return Checker(judge, judge_reference(trajectory), f"judge ({against})")


def judge_reference(t: Trajectory) -> dict[str, Any]:
    """What the judge grades against: the reference answer, else the task and why the run was rejected.

    The rubric holds nothing the analyst has not seen: the task, the run's final answer and its feedback.
    """
    task = quote_run_data(t.task)  # the run's own words: data for the judge, never instructions
    if isinstance(t.reference, dict) and ("answer" in t.reference or "rubric" in t.reference):
        return {"task": task, **t.reference}
    if t.reference is not None:
        return {"task": task, "answer": t.reference}
    lines = [
        "Pass the candidate only when it accomplishes the task above completely and correctly.",
        "An earlier attempt at this task was rejected; the candidate is a corrected result.",
    ]
    quoted = []
    if t.final_answer is not None:
        quoted.append(f"The rejected attempt's final answer was: {_clip(t.final_answer)}")
    if t.outcome.feedback:
        quoted.append(f"It was rejected because: {_clip(t.outcome.feedback)}")
    if quoted:
        lines.append(quote_run_data("\n".join(quoted)))
    if t.outcome.feedback:
        lines.append("Fail a candidate that still has the problem it was rejected for.")
    return {"task": task, "rubric": "\n".join(lines)}


def _clip(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + " …"


class _RunCalls:
    """The run's model as the judge's LLM: its calls are logged under this run's analysis stage."""

    def __init__(self, ctx: RunContext) -> None:
        self._llm, self._run_id = ctx.llm, ctx.run_id

    async def structured(self, request: ChatRequest, schema: type[Any]) -> tuple[Any, Any]:
        scoped = request.model_copy(update={"purpose": JUDGE_PURPOSE, "run_id": self._run_id})
        return await self._llm.structured(scoped, schema)
