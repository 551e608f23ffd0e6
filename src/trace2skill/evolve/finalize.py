"""From the merged patch to a new skill: anchor repair, guardrails, apply, validation with fix rounds.

Everything here works on S0, the frozen base: the merged patch's anchors were written against it.
The result is a candidate skill plus the record of what was applied, dropped and why; the caller
commits it (or, with errors left, fails the run and leaves the current version untouched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from trace2skill.evolve.apply import apply_patch
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.guardrails import check_patch
from trace2skill.evolve.repair import repair_anchors, validate_and_fix
from trace2skill.models import Edit, Patch, Skill
from trace2skill.skills_store import validate_skill

__all__ = ["Finalized", "edit_summary", "finalize", "provenance"]

MAX_FIX_ROUNDS = 3


@dataclass
class Finalized:
    skill: Skill
    applied: list[Edit]
    dropped: list[dict[str, Any]]
    fixes: list[Edit] = field(default_factory=list)
    repair_calls: int = 0
    fix_rounds: int = 0
    errors_left: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        """Sequential LLM call rounds this stage took (repairs run in parallel: one round)."""
        return (1 if self.repair_calls else 0) + self.fix_rounds


_MARKUP = re.compile(r"^[#>*\-\s\d.]+")


def edit_summary(edit: Edit, limit: int = 200) -> str:
    """One readable line: where the edit acts and the first line of what it adds."""
    where = edit.target_section or edit.after_section or ""
    first = next((ln.strip() for ln in (edit.content or "").splitlines() if ln.strip()), "")
    first = _MARKUP.sub("", first) or first
    text = f"{where.strip()}: {first}" if where and first else where or first or edit.file
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provenance(applied: list[Edit], fixes: list[Edit]) -> list[dict[str, Any]]:
    """Per applied edit: id, file, op, summary and the trajectories that support it."""
    entries = [
        {"edit_id": e.id, "file": e.file, "op": e.op, "summary": edit_summary(e), "support": list(e.support)}
        for e in applied
    ]
    entries += [
        {"edit_id": e.id, "file": e.file, "op": e.op, "summary": "validation fix: " + edit_summary(e), "support": []}
        for e in fixes
    ]
    return entries


def _dump(items: list[Any]) -> list[dict[str, Any]]:
    return [d.model_dump(mode="json") for d in items]


async def finalize(ctx: RunContext, patch: Patch) -> Finalized:
    base = ctx.base
    first = check_patch(base, patch, protected=ctx.protected, repair_pending=True)
    repaired: list[Edit] = []
    if first.unanchored:
        repaired = await repair_anchors(ctx.llm_for("repair"), base, first.unanchored, run_id=ctx.run_id)
    position = {e.id: i for i, e in enumerate(patch.edits)}
    edits = sorted([*first.patch.edits, *repaired], key=lambda e: position.get(e.id, len(position)))
    second = check_patch(base, patch.model_copy(update={"edits": edits}), protected=ctx.protected)
    applied = apply_patch(base, second.patch, protected=ctx.protected)
    dropped = _dump(first.dropped) + _dump(second.dropped) + _dump(applied.dropped)
    if not applied.applied:
        return Finalized(base, [], dropped, repair_calls=len(first.unanchored))
    fixed = await validate_and_fix(
        ctx.llm_for("repair"),
        applied.skill,
        max_rounds=MAX_FIX_ROUNDS,
        protected=ctx.protected,
        enforce_size_budget=True,
        run_id=ctx.run_id,
    )
    # Size budgets are enforced through the fix rounds; what they could not shrink stays a warning.
    hard = set(validate_skill(fixed.skill).errors)
    errors = [e for e in fixed.errors_left if e in hard]
    warnings = list(fixed.warnings) + [e for e in fixed.errors_left if e not in hard]
    return Finalized(
        skill=fixed.skill,
        applied=list(applied.applied),
        dropped=dropped + _dump(fixed.dropped),
        repair_calls=len(first.unanchored),
        fix_rounds=fixed.rounds,
        errors_left=errors,
        warnings=warnings,
        fixes=list(fixed.applied),
        notes=list(fixed.notes),
    )
