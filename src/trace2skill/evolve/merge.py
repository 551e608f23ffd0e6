"""Hierarchical merge: groups of B patches become one, level by level, until one patch remains.

The tree's shape depends only on the number of patches and B, so it is laid out up front and each
group starts as soon as its own inputs are ready (no barrier between levels). The merger sees S0,
where it stands (the run's size and failure/success split, its level and group) and every input edit
with its id, support and how that support divides between failed and successful runs; the prompt
variant follows the group's evidence (failures, successes or both). Each merged edit names its
`sources`, from which code computes its support.

A merge whose answer does not fit its output budget (stop reason max_tokens/length, or the
structured-output error saying so) splits its group: the halves are merged, then their results; two
patches too large to merge in one answer are merged in two parts by section, whose results cannot
overlap and are put side by side. Only a merge call that fails for another reason passes its
inputs through unchanged, the last resort, recorded in the group's notes. Finished groups can be
supplied (from a resumed run) and are not merged again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from trace2skill.errors import OutputCutOff, ProviderError
from trace2skill.evolve.context import Evidence, RunContext, evidence_variant
from trace2skill.evolve.merge_support import attach_support, chunk_balanced, edit_support, number_edits, passthrough
from trace2skill.evolve.retarget import retarget_missing
from trace2skill.evolve.schemas import MergedPatchOut
from trace2skill.evolve.sections import heading_query, normalise_heading
from trace2skill.evolve.stages import cut_off
from trace2skill.llm.types import ChatMessage
from trace2skill.models import Edit, Patch

__all__ = ["GroupDone", "MergeResult", "MergeSite", "merge_group", "merge_tree", "render_inputs", "tree_shape"]

_ANCHOR_FIELDS = ("target_section", "target_text", "old_text", "after_section")

GroupDone = Callable[[int, int, Patch, dict[str, Any]], Awaitable[None] | None]
"""Called with (level, index, merged patch, record extras) when a group is merged."""


def tree_shape(n: int, fan_in: int) -> list[list[list[int]]]:
    """For each level 1.., the input positions (in the level below) of each group."""
    levels: list[list[list[int]]] = []
    while n > 1:
        groups = chunk_balanced(list(range(n)), fan_in)
        levels.append(groups)
        n = len(groups)
    return levels


@dataclass(frozen=True)
class MergeSite:
    """Where one merge call stands, told to the merger so that it can weigh support.

    At level 1 nearly every edit has support 1; without the run's size and its level a merger reads
    every edit as specific. `runs`/`failures`/`successes` count the runs behind all the patches being
    merged; `piece` names a piece of a split group (0 for the whole group)."""

    level: int = 1
    levels: int = 1
    index: int = 0
    groups: int = 1
    runs: int = 0
    failures: int = 0
    successes: int = 0
    piece: int = 0

    @property
    def where(self) -> str:
        return f"level {self.level} group {self.index}"


def _site_for(evidence: dict[str, Evidence], patches: Sequence[Patch], levels: int) -> MergeSite:
    runs = {t for p in patches for t in p.support}
    failures = sum(1 for t in runs if evidence.get(t) == "failure")
    successes = sum(1 for t in runs if evidence.get(t) == "success")
    return MergeSite(levels=levels, runs=len(runs), failures=failures, successes=successes)


def _split(evidence: dict[str, Evidence], runs: Sequence[str]) -> str:
    f = sum(1 for t in runs if evidence.get(t) == "failure")
    s = sum(1 for t in runs if evidence.get(t) == "success")
    return f"{f} failed, {s} succeeded"


def _edit_view(edit: Edit, patch: Patch, evidence: dict[str, Evidence]) -> dict[str, Any]:
    support = edit_support(edit, patch)
    view: dict[str, Any] = {"id": edit.id, "support": len(support)}
    if evidence:
        view["failures"] = sum(1 for t in support if evidence.get(t) == "failure")
        view["successes"] = sum(1 for t in support if evidence.get(t) == "success")
    view |= {"file": edit.file, "op": edit.op}
    for name in _ANCHOR_FIELDS:
        value = getattr(edit, name)
        if value:
            view[name] = value
    if edit.content is not None:
        view["content"] = edit.content
    return view


def render_inputs(
    inputs: list[Patch], site: MergeSite | None = None, evidence: dict[str, Evidence] | None = None
) -> str:
    """The per-call part of a merge: where it stands, then each patch's reasoning and its edits as one
    JSON object per line (the shared instructions and S0 are in the system prompt)."""
    evidence = evidence or {}
    lines: list[str] = []
    if site is not None:
        piece = f", piece {site.piece} of a split (the whole group did not fit in one answer)" if site.piece else ""
        lines.append(f"Merge level {site.level} of {site.levels}, group {site.index + 1} of {site.groups}{piece}.")
        group_runs = sorted({t for p in inputs for t in p.support})
        if evidence:
            lines.append(
                f"This evolution's patches come from {site.runs} runs in all: {site.failures} failed, "
                f"{site.successes} succeeded. This group's inputs come from {len(group_runs)} of them "
                f"({_split(evidence, group_runs)})."
            )
        else:
            lines.append(
                f"This evolution's patches come from {site.runs} runs in all; "
                f"this group's inputs come from {len(group_runs)} of them."
            )
    lines.append(f"{len(inputs)} patches to merge into one.")
    for i, patch in enumerate(inputs, 1):
        runs = len(patch.support)
        lines.append(f"\n## Patch {i} (from {runs} run{'s' if runs != 1 else ''})")
        if patch.reasoning:
            lines.append(f"Reasoning: {' '.join(patch.reasoning.split())}")
        lines += [json.dumps(_edit_view(e, patch, evidence), ensure_ascii=False) for e in patch.edits]
    return "\n".join(lines)


class _DidNotFit(Exception):
    """The merged answer did not fit in the merge stage's output budget."""


def _section_key(edit: Edit) -> tuple[str, str]:
    """Edits that may duplicate or overlap one another share a key: the file and the section they act in."""
    heading = edit.target_section or edit.after_section or ""
    return edit.file, normalise_heading(heading_query(heading)[1]) if heading else ""


def _sub_patch(patch: Patch, edits: list[Edit]) -> Patch:
    filled = [e if e.support else e.model_copy(update={"support": edit_support(e, patch)}) for e in edits]
    support = sorted({t for e in filled for t in e.support})
    return Patch(edits=filled, reasoning=patch.reasoning, changelog=[], support=support)


def _by_section(patches: list[Patch]) -> tuple[list[Patch], list[Patch]]:
    """Two sets of sub-patches whose edits act in different sections (so their merges cannot overlap),
    about equal in size; a single section is cut in two by edit order."""
    pooled = [(k, e) for k, p in enumerate(patches) for e in p.edits]
    keys = list(dict.fromkeys(_section_key(e) for _, e in pooled))
    if len(keys) > 1:
        counts = {key: sum(1 for _, e in pooled if _section_key(e) == key) for key in keys}
        first: set[tuple[str, str]] = set()
        size = 0
        for key in sorted(keys, key=lambda k: -counts[k]):
            if size < len(pooled) / 2 and len(first) < len(keys) - 1:
                first.add(key)
                size += counts[key]
        left = [(k, e) for k, e in pooled if _section_key(e) in first]
        right = [(k, e) for k, e in pooled if _section_key(e) not in first]
    else:
        half = len(pooled) // 2
        left, right = pooled[:half], pooled[half:]

    def regroup(part: list[tuple[int, Edit]]) -> list[Patch]:
        return [
            _sub_patch(p, [e for j, e in part if j == k]) for k, p in enumerate(patches) if any(j == k for j, _ in part)
        ]

    return regroup(left), regroup(right)


class _GroupMerge:
    """One group's merge: one call when the answer fits, smaller merges when it does not."""

    def __init__(self, ctx: RunContext, site: MergeSite) -> None:
        self.ctx, self.site = ctx, site
        self.calls = 0
        self.pieces = 0
        self.notes: list[str] = []
        self.problems: list[str] = []
        self.origins: dict[str, list[str]] = {}
        """Merged piece edit id → the group's input edits it came from (a piece's ids never reach the record)."""

    async def call(self, inputs: list[Patch], piece: int) -> Patch:
        ctx = self.ctx
        support = {t for p in inputs for e in p.edits for t in edit_support(e, p)}
        variant = evidence_variant(ctx.evidence, support)
        text = render_inputs(inputs, replace(self.site, piece=piece), ctx.evidence)
        request = ctx.request(f"merger.{variant}", [ChatMessage(role="user", content=text)], purpose="merge")
        try:
            out, response = await ctx.editor.structured(request, MergedPatchOut)
        except OutputCutOff as e:
            raise _DidNotFit(str(e)) from e
        if cut_off(response):  # it parsed, but a cut-off answer may have lost its last edits
            raise _DidNotFit(f"the answer stopped at max_tokens={request.max_tokens}")
        self.calls += 1
        merged, problems = attach_support(out.to_patch(), inputs)
        prefix = f"m{self.site.level}.{self.site.index}" + (f".p{piece}" if piece else "")
        merged, moved = retarget_missing(ctx.base, number_edits(merged, prefix), protected=ctx.protected)
        self.problems += problems + moved
        for edit in merged.edits:
            if edit.id is not None:
                self.origins[edit.id] = list(dict.fromkeys(o for s in edit.sources for o in self.origins.get(s, [s])))
        return merged

    async def fit(self, inputs: list[Patch], piece: int = 0) -> Patch:
        """`inputs` merged into one patch, splitting the work while an answer does not fit."""
        live = [p for p in inputs if p.edits]
        if len(live) <= 1:  # a single patch is already merged: nothing to combine across patches
            return passthrough(inputs, why="one patch")
        try:
            return await self.call(live, piece)
        except ProviderError as e:
            if not piece:
                raise  # the whole group failed: merge_group passes it through
            self.notes.append(f"merge {self.site.where} piece {piece} failed, its inputs kept unmerged: {e}"[:700])
            return passthrough(live, why="merge of a piece failed")
        except _DidNotFit as e:
            budget = f"{self.ctx.budgets.merge:,}"
            where = self.site.where + (f" piece {piece}" if piece else "")
            if len(live) >= 3:
                half = (len(live) + 1) // 2
                self.notes.append(
                    f"merge {where} did not fit in {budget} output tokens ({e}); merged {half} and "
                    f"{len(live) - half} of its {len(live)} patches separately, then their results"
                )
                a, b = await asyncio.gather(self.fit(live[:half], self._piece()), self.fit(live[half:], self._piece()))
                return await self.fit([a, b], self._piece())
            left, right = _by_section(live)
            self.notes.append(
                f"merge {where} did not fit in {budget} output tokens ({e}); merged its edits in two parts "
                "by section, kept side by side"
            )
            a, b = await asyncio.gather(self.fit(left, self._piece()), self.fit(right, self._piece()))
            return passthrough([a, b], why="merged in parts by section")

    def _piece(self) -> int:
        self.pieces += 1
        return self.pieces

    def traced(self, patch: Patch) -> Patch:
        """Sources renamed back to the group's own input edits, through any pieces in between."""
        edits = [
            e.model_copy(update={"sources": self.origins.get(e.id or "") or ([e.id] if e.id else e.sources)})
            for e in patch.edits
        ]
        return patch.model_copy(update={"edits": edits})


async def merge_group(
    ctx: RunContext, inputs: list[Patch], level: int, index: int, site: MergeSite | None = None
) -> tuple[Patch, dict[str, Any]]:
    """One group merged into one patch; (merged patch, record extras: calls, problems, notes, passthrough)."""
    site = replace(site or _site_for(ctx.evidence, inputs, level), level=level, index=index)
    work = _GroupMerge(ctx, site)
    try:
        merged = await work.fit(inputs)
    except ProviderError as e:
        note = f"merge {site.where} failed and passed its {len(inputs)} inputs through unmerged (last resort): {e}"
        extras = {"passthrough": True, "error": str(e)[:500], "dropped": [], "calls": work.calls}
        return passthrough(inputs), {**extras, "notes": [*work.notes, note[:700]]}
    # No guardrail pass here: inputs were screened as proposals and the final patch is checked before
    # it is applied, so screening every level again would only repeat that work.
    final = number_edits(work.traced(merged), f"m{level}.{index}")
    extras = {"passthrough": False, "problems": work.problems, "calls": work.calls, "notes": work.notes}
    return final, extras


class MergeResult:
    __slots__ = ("calls", "levels", "patch")

    def __init__(self, patch: Patch, levels: int, calls: int) -> None:
        self.patch = patch
        self.levels = levels
        self.calls = calls


async def merge_tree(
    ctx: RunContext,
    patches: list[Patch],
    *,
    done: dict[tuple[int, int], Patch] | None = None,
    on_group: GroupDone | None = None,
    limit: asyncio.Semaphore | None = None,
) -> MergeResult:
    """Merge `patches` (in this order) into one. `done` holds groups merged by an earlier attempt."""
    done = done or {}
    if not patches:
        return MergeResult(Patch(), 0, 0)
    shape = tree_shape(len(patches), ctx.config.fan_in)
    whole = _site_for(ctx.evidence, patches, len(shape))
    ready: list[list[asyncio.Future[Patch]]] = [[_resolved(p) for p in patches]]
    calls = 0

    async def run(level: int, index: int, members: list[int]) -> Patch:
        nonlocal calls
        inputs = [await ready[level - 1][m] for m in members]
        if (level, index) in done:
            return done[(level, index)]
        if len(inputs) == 1:
            return inputs[0]
        site = replace(whole, groups=len(shape[level - 1]))
        if limit is not None:
            async with limit:
                merged, extras = await merge_group(ctx, inputs, level, index, site)
        else:
            merged, extras = await merge_group(ctx, inputs, level, index, site)
        calls += int(extras.get("calls", 0))
        if on_group is not None:
            pending = on_group(level, index, merged, extras)
            if pending is not None:
                await pending
        return merged

    tasks: list[asyncio.Task[Patch]] = []
    for level, groups in enumerate(shape, 1):
        row = [asyncio.ensure_future(run(level, i, members)) for i, members in enumerate(groups)]
        ready.append([*row])
        tasks += row
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    return MergeResult(ready[-1][0].result(), len(shape), calls)


def _resolved(patch: Patch) -> asyncio.Future[Patch]:
    future: asyncio.Future[Patch] = asyncio.get_running_loop().create_future()
    future.set_result(patch)
    return future
