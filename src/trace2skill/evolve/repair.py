"""The two small LLM-assisted steps around the deterministic apply: anchor repair and validation fixes.

Both keep the LLM on a short leash. Anchor repair may only change an edit's anchors, and its answer
is accepted only if the anchors then match the file exactly once (checked by `find_edit_span`);
anything else leaves the edit as it was, for the guardrails to drop with a record. Validation fix
rounds propose ordinary patches that pass the same guardrails and the same `apply_patch` as every
other edit; a round that makes validation worse is rolled back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cache
from importlib.resources import files
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from trace2skill.errors import ProviderError
from trace2skill.evolve.apply import DEFAULT_PROTECTED, DroppedEdit, InvalidEdit, apply_patch, locate_edit
from trace2skill.evolve.guardrails import check_patch
from trace2skill.evolve.sections import AnchorError
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse
from trace2skill.models import Edit, EditOp, Patch, Skill

__all__ = [
    "MAX_FILE_VIEW_CHARS",
    "AnchorFix",
    "FixAnswer",
    "FixResult",
    "ProposedEdit",
    "StructuredLLM",
    "check_size_budget",
    "load_prompt",
    "numbered",
    "repair_anchors",
    "validate_and_fix",
]

M = TypeVar("M", bound=BaseModel)

MAX_FILE_VIEW_CHARS = 150_000
"""Longest file text shown to the anchor repairer; a longer file is cut, and the prompt says so."""


class StructuredLLM(Protocol):
    """The one method of `trace2skill.llm.LLM` these steps use."""

    async def structured(self, request: ChatRequest, schema: type[M]) -> tuple[M, ChatResponse]: ...


@cache
def load_prompt(name: str) -> str:
    """The text of the package prompt `evolve/prompts/<name>.md`."""
    return (files("trace2skill.evolve") / "prompts" / f"{name}.md").read_text(encoding="utf-8")


def numbered(text: str, limit: int = MAX_FILE_VIEW_CHARS) -> str:
    """The text with right-aligned line numbers (`  12| `), cut at `limit` characters with a note."""
    cut = len(text) > limit
    lines = (text[:limit] if cut else text).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    width = max(3, len(str(len(lines))))
    out = "\n".join(f"{i:>{width}}| {line}" for i, line in enumerate(lines, start=1))
    if cut:
        out += f"\n[... file cut here: only the first {limit:,} of {len(text):,} characters are shown]"
    return out


# --- anchor repair --------------------------------------------------------------------------------

_ANCHOR_FIELDS: dict[str, tuple[str, ...]] = {
    "insert_after": ("target_section", "target_text"),
    "insert_before": ("target_section", "target_text"),
    "append_to_section": ("target_section",),
    "replace_in_section": ("target_section", "old_text"),
    "add_section": ("after_section",),
    "delete_section": ("target_section",),
}


class AnchorFix(BaseModel):
    """The repairer's answer: corrected anchors only (the edit's content is never taken from it)."""

    target_section: str | None = None
    target_text: str | None = None
    old_text: str | None = None
    after_section: str | None = None
    note: str = Field(default="", description="one line: what was changed and why")


def _anchor_problem(text: str, edit: Edit) -> str:
    try:
        locate_edit(text, edit)
    except AnchorError as e:
        return f"{e.reason}: {e}"
    except InvalidEdit as e:
        return f"invalid edit: {e}"
    return "the anchors match"


def _describe_edit(edit: Edit) -> str:
    lines = [f"op: {edit.op}", f"file: {edit.file}"]
    for name in _ANCHOR_FIELDS.get(edit.op, ()):
        value = getattr(edit, name)
        lines.append(f"{name}: {'(empty)' if value is None else repr(value)}")
    lines.append(f"content (kept as is):\n<content>\n{edit.content or ''}\n</content>")
    return "\n".join(lines)


async def _repair_one(llm: StructuredLLM, skill: Skill, edit: Edit, run_id: str | None) -> Edit:
    fields = _ANCHOR_FIELDS.get(edit.op)
    current = skill.file(edit.file)
    if not fields or current is None or not current.is_text:
        return edit
    text = current.text
    system = (
        f"{load_prompt('anchor_repair').rstrip()}\n\n"
        f'# The file `{edit.file}`\n\n<file path="{edit.file}">\n{numbered(text)}\n</file>\n'
    )
    user = (
        f"The edit:\n{_describe_edit(edit)}\n\n"
        f"Why it cannot be applied: {_anchor_problem(text, edit)}\n\n"
        f"Return corrected values for: {', '.join(fields)}."
    )
    request = ChatRequest(
        system=system,
        messages=[ChatMessage(role="user", content=user)],
        purpose="anchor_repair",
        run_id=run_id,
        max_tokens=2048,
    )
    try:
        fix, _ = await llm.structured(request, AnchorFix)
    except ProviderError:
        return edit
    update: dict[str, Any] = {name: getattr(fix, name) for name in fields}
    repaired = edit.model_copy(update=update)
    if edit.op == "replace_in_section" and not _same_text(edit.old_text or "", repaired.old_text or ""):
        return edit
    try:
        locate_edit(text, repaired)
    except (AnchorError, InvalidEdit):
        return edit
    return repaired


def _same_text(old: str, new: str, threshold: float = 0.5) -> bool:
    """Is `new` plausibly the text `old` meant? A replacement's content was written for its old_text,
    so a repair may correct how it is written, never point it at different text."""
    a, b = " ".join(old.split()).casefold(), " ".join(new.split()).casefold()
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


async def repair_anchors(
    llm: StructuredLLM, skill: Skill, edits: Sequence[Edit], *, run_id: str | None = None
) -> list[Edit]:
    """Ask the LLM to correct the anchors of edits that do not match S0, one call per edit, in parallel.

    Returns the edits in input order: repaired where the new anchors match the file exactly once,
    unchanged otherwise (including when the call fails), so the guardrails drop them with a record.
    A `replace_in_section` repair must keep old_text recognisably the same text (containment or
    a similarity ratio of at least 0.5): its content was written to replace that text, not another.
    Only anchor fields change; content, ids, sources and support are kept. Concurrency is the LLM
    layer's own limit. BudgetExceeded propagates: a run out of money must stop, not drop edits.
    """
    results: list[Edit] = list(edits)

    async def one(i: int) -> None:
        results[i] = await _repair_one(llm, skill, edits[i], run_id)

    jobs = [asyncio.ensure_future(one(i)) for i in range(len(edits))]
    try:  # the first error propagates as itself (a task group would wrap it in an ExceptionGroup)
        await asyncio.gather(*jobs)
    finally:
        for job in jobs:
            job.cancel()
    return results


# --- validation and fix rounds --------------------------------------------------------------------


class ProposedEdit(BaseModel):
    """An edit as a fix round writes it: no ids or support (those are computed by code)."""

    file: str
    op: EditOp
    target_section: str | None = None
    target_text: str | None = None
    old_text: str | None = None
    after_section: str | None = None
    content: str | None = None

    def to_edit(self, edit_id: str) -> Edit:
        return Edit(id=edit_id, **self.model_dump())


class FixAnswer(BaseModel):
    reasoning: str = ""
    edits: list[ProposedEdit] = Field(default_factory=list)


class _Report(Protocol):
    errors: list[str]
    warnings: list[str]


@dataclass
class FixResult:
    """The skill after validation fix rounds, how many rounds ran, and what is still wrong.

    `errors_left` non-empty means the skill must not be published. `notes` records rounds that
    were rolled back or could not run.
    """

    skill: Skill
    rounds: int
    errors_left: list[str]
    warnings: list[str]
    applied: list[Edit] = field(default_factory=list)
    dropped: list[DroppedEdit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors_left


def _default_validate(skill: Skill) -> _Report:
    from trace2skill.skills_store import validate_skill

    return validate_skill(skill)


def _report_text(report: _Report) -> str:
    as_text = getattr(report, "as_text", None)
    if callable(as_text):
        return str(as_text(rules=True))
    return "\n".join(f"- error: {e}" for e in report.errors)


def _skill_view(skill: Skill) -> str:
    listing = "\n".join(
        f"- {f.path} ({f.text.count(chr(10))} lines)" if f.is_text else f"- {f.path} (binary)" for f in skill.files
    )
    return f'Files of the skill:\n{listing}\n\nSKILL.md:\n<file path="SKILL.md">\n{numbered(skill.skill_md)}\n</file>'


def check_size_budget(
    skill: Skill, max_lines: int = 500, *, max_reference_lines: int = 300, max_tokens: int = 5000
) -> list[str]:
    """Warnings for a SKILL.md over its line or (approximate, chars/4) token budget, or long references."""
    warnings: list[str] = []
    text = skill.skill_md
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > max_lines:
        warnings.append(f"SKILL.md is {lines} lines; the budget is {max_lines}: move detail into references/ files")
    tokens = len(text) // 4
    if tokens > max_tokens:
        warnings.append(f"SKILL.md is about {tokens:,} tokens; the budget is {max_tokens:,}")
    for f in skill.files:
        if f.path.startswith("references/") and f.is_text:
            n = f.text.count("\n") + (0 if f.text.endswith("\n") or not f.text else 1)
            if n > max_reference_lines:
                warnings.append(f"{f.path} is {n} lines; the budget is {max_reference_lines}: split it")
    return warnings


async def validate_and_fix(
    llm: StructuredLLM,
    skill: Skill,
    *,
    max_rounds: int = 3,
    validate: Callable[[Skill], _Report] | None = None,
    protected: frozenset[str] = DEFAULT_PROTECTED,
    enforce_size_budget: bool = False,
    max_lines: int = 500,
    run_id: str | None = None,
) -> FixResult:
    """Validate the skill (Agent Skills rules) and, while errors remain, ask for a minimal fix patch.

    Each round is one LLM call whose edits go through `check_patch` and `apply_patch` like any
    other; the round's result is kept only if it does not leave more errors than before. Stops
    after `max_rounds` rounds, when no errors are left, when the model proposes nothing, or when
    the call fails. With `enforce_size_budget`, size-budget warnings count as errors to fix.
    """
    check = validate or _default_validate

    def errors_of(s: Skill, report: _Report) -> list[str]:
        extra = check_size_budget(s, max_lines) if enforce_size_budget else []
        return list(report.errors) + [w for w in extra if w not in report.errors]

    report = check(skill)
    errors = errors_of(skill, report)
    result = FixResult(skill=skill, rounds=0, errors_left=errors, warnings=[])
    while errors and result.rounds < max_rounds:
        result.rounds += 1
        extra = [e for e in errors if e not in report.errors]
        user = f"The skill's folder name is {skill.name!r}.\n\n{_skill_view(skill)}\n\nValidation report:\n"
        user += _report_text(report) + "".join(f"\n- error: {e}" for e in extra)
        if result.notes:
            user += "\n\nEarlier fix attempts that did not help:\n" + "\n".join(f"- {n}" for n in result.notes)
        request = ChatRequest(
            system=load_prompt("validation_fix").rstrip(),
            messages=[ChatMessage(role="user", content=user)],
            purpose="validation_fix",
            run_id=run_id,
        )
        try:
            answer, _ = await llm.structured(request, FixAnswer)
        except ProviderError as e:
            result.notes.append(f"round {result.rounds}: the fix call failed: {e}")
            break
        if not answer.edits:
            result.notes.append(f"round {result.rounds}: no edits proposed ({answer.reasoning.strip()[:200]})")
            break
        patch = Patch(
            edits=[e.to_edit(f"fix{result.rounds}.e{i}") for i, e in enumerate(answer.edits, start=1)],
            reasoning=answer.reasoning,
        )
        guarded = check_patch(skill, patch, protected=protected)
        applied = apply_patch(skill, guarded.patch, protected=protected)
        new_report = check(applied.skill)
        new_errors = errors_of(applied.skill, new_report)
        lost = guarded.dropped + applied.dropped
        result.dropped += lost
        if not applied.applied or len(new_errors) > len(errors):
            why = (
                "no edit could be applied: " + "; ".join(d.reason for d in lost[:3])
                if not applied.applied
                else f"it left {len(new_errors)} errors instead of {len(errors)}: " + "; ".join(new_errors[:3])
            )
            result.notes.append(f"round {result.rounds}: rolled back, {why}")
            continue
        skill, report, errors = applied.skill, new_report, new_errors
        result.applied += applied.applied
    result.skill = skill
    result.errors_left = errors
    budget = check_size_budget(skill, max_lines)
    result.warnings = list(dict.fromkeys([*report.warnings, *(w for w in budget if w not in errors)]))
    return result
