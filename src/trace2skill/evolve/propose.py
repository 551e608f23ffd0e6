"""Patch proposal: one analysis becomes one small patch of edit operations against S0.

The proposer sees only the analysis (never the trajectory's reference), under the prompt variant for
its evidence: a failed run's lessons are fixes, a successful run's are added conservatively (the
paper's success-only arm was its most volatile). Its patch is numbered (`a<index>.e<k>`), stamped
with the trajectory it came from as support, scrubbed of any edit that quotes the reference, has
edits aimed at missing files repaired (`retarget`), and runs through the guardrails before it joins
the merge: unsafe paths, protected files, overlapping edits, and a `create` without its link (or a
link without its `create`) are dropped here, while anchors that do not match exactly are kept for
repair after the merge.
"""

from __future__ import annotations

from typing import Any

from trace2skill.errors import OutputCutOff
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.guardrails import check_patch
from trace2skill.evolve.leaks import ReferenceGuard
from trace2skill.evolve.merge_support import number_edits
from trace2skill.evolve.retarget import retarget_missing
from trace2skill.evolve.schemas import Analysis, PatchOut
from trace2skill.evolve.stages import cut_off
from trace2skill.llm.types import ChatMessage
from trace2skill.models import Patch, Trajectory
from trace2skill.untrusted import quote_run_data

__all__ = ["ProposalResult", "propose", "proposer_role", "render_analysis"]

_TASK_CHARS = 600


class ProposalResult:
    """The patch that goes on to the merge, the edits the checks threw away (as dicts), and the repairs made."""

    __slots__ = ("dropped", "patch", "repaired")

    def __init__(self, patch: Patch, dropped: list[dict[str, Any]], repaired: list[str] | None = None) -> None:
        self.patch = patch
        self.dropped = dropped
        self.repaired = repaired or []

    def to_record(self) -> dict[str, Any]:
        return {**self.patch.model_dump(mode="json"), "dropped": self.dropped, "repaired": self.repaired}


def proposer_role(analysis: Analysis) -> str:
    """The prompt variant for the evidence behind the analysis."""
    return "proposer.success" if analysis.kind == "success" else "proposer.failure"


def render_analysis(trajectory: Trajectory, analysis: Analysis) -> str:
    task = " ".join(trajectory.task.split())
    if len(task) > _TASK_CHARS:
        task = task[:_TASK_CHARS] + "…"
    verdict = "failed" if analysis.kind == "error" else "succeeded"
    lines = [f"Analysis of one run that {verdict}.", f"Task (abridged, quoted from the run):\n{quote_run_data(task)}"]
    if analysis.causes:
        lines.append("\nCauses of the failure:")
        lines += [f"- {c.title}: {c.description}" for c in analysis.causes]
    if analysis.solution_path:
        lines.append(f"\nWhat worked:\n{analysis.solution_path}")
    lines.append("\nLessons:")
    for i, lesson in enumerate(analysis.lessons, 1):
        lines.append(f"{i}. {lesson.title} ({lesson.description})\n{lesson.content}")
    return "\n".join(lines)


async def propose(ctx: RunContext, trajectory: Trajectory, analysis: Analysis) -> ProposalResult:
    """One structured call; an analysis without lessons gives an empty patch without a call."""
    support = [analysis.trajectory_id]
    if not analysis.lessons:
        return ProposalResult(Patch(support=support), [])
    message = ChatMessage(role="user", content=render_analysis(trajectory, analysis))
    request = ctx.request(proposer_role(analysis), [message], purpose="propose")
    out, response = await ctx.editor.structured(request, PatchOut)
    if cut_off(response):  # it parsed, but its last edit may be cut short: never apply half an edit
        raise OutputCutOff(f"the proposal stopped at max_tokens={request.max_tokens}; raise OutputBudgets.proposal")
    raw = out.to_patch()
    guard = ReferenceGuard(trajectory.reference)
    dropped: list[dict[str, Any]] = []
    kept = []
    for edit in raw.edits:
        if guard.leaks(edit.content) or guard.leaks(edit.target_section) or guard.leaks(edit.after_section):
            dropped.append({"edit": edit.model_dump(mode="json"), "reason": "quotes the reference", "stage": "propose"})
        else:
            kept.append(edit.model_copy(update={"support": support}))
    patch = number_edits(raw.model_copy(update={"edits": kept, "support": support}), f"a{analysis.index}")
    patch, repaired = retarget_missing(ctx.base, patch, protected=ctx.protected)
    return ProposalResult(*screen(ctx, patch, dropped), repaired)


def screen(ctx: RunContext, patch: Patch, dropped: list[dict[str, Any]]) -> tuple[Patch, list[dict[str, Any]]]:
    """Guardrails before the merge: keep safe edits, and keep unanchored ones for repair after it."""
    checked = check_patch(ctx.base, patch, protected=ctx.protected, repair_pending=True)
    position = {e.id: i for i, e in enumerate(patch.edits)}
    edits = sorted([*checked.patch.edits, *checked.unanchored], key=lambda e: position.get(e.id, len(position)))
    return patch.model_copy(update={"edits": edits}), dropped + [d.model_dump(mode="json") for d in checked.dropped]
