"""Hierarchical merge: groups of B patches become one, level by level, until one patch remains.

The tree's shape depends only on the number of patches and B, so it is laid out up front and each
group starts as soon as its own inputs are ready (no barrier between levels). The merger sees S0
and every input edit with its id and support count; each merged edit names its `sources`, from
which code computes its support. A merge call that fails passes its inputs through unchanged, so
one bad answer costs one group's consolidation, not the run. Finished groups can be supplied
(from a resumed run) and are not merged again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from trace2skill.errors import ProviderError
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.merge_support import attach_support, chunk_balanced, number_edits, passthrough
from trace2skill.evolve.schemas import MergedPatchOut
from trace2skill.llm.types import ChatMessage
from trace2skill.models import Edit, Patch

__all__ = ["GroupDone", "MergeResult", "merge_group", "merge_tree", "render_inputs", "tree_shape"]

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


def _edit_view(edit: Edit) -> dict[str, Any]:
    view: dict[str, Any] = {"id": edit.id, "support": len(edit.support), "file": edit.file, "op": edit.op}
    for name in _ANCHOR_FIELDS:
        value = getattr(edit, name)
        if value:
            view[name] = value
    if edit.content is not None:
        view["content"] = edit.content
    return view


def render_inputs(inputs: list[Patch]) -> str:
    """The patches to merge: each with its reasoning and its edits as one JSON object per line."""
    lines = [f"{len(inputs)} patches to merge into one."]
    for i, patch in enumerate(inputs, 1):
        runs = len(patch.support)
        lines.append(f"\n## Patch {i} (from {runs} run{'s' if runs != 1 else ''})")
        if patch.reasoning:
            lines.append(f"Reasoning: {' '.join(patch.reasoning.split())}")
        lines += [json.dumps(_edit_view(e), ensure_ascii=False) for e in patch.edits]
    return "\n".join(lines)


async def merge_group(ctx: RunContext, inputs: list[Patch], level: int, index: int) -> tuple[Patch, dict[str, Any]]:
    """One merge call over a group; (merged patch, record extras: dropped edits, problems, passthrough)."""
    request = ctx.request("merger", [ChatMessage(role="user", content=render_inputs(inputs))], purpose="merge")
    try:
        out, _ = await ctx.llm.structured(request, MergedPatchOut)
    except ProviderError as e:
        return passthrough(inputs), {"passthrough": True, "error": str(e)[:500], "dropped": []}
    merged, problems = attach_support(out.to_patch(), inputs)
    # No guardrail pass here: inputs were screened as proposals and the final patch is checked before
    # it is applied, so screening every level again would only repeat that work.
    return number_edits(merged, f"m{level}.{index}"), {"passthrough": False, "problems": problems}


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
    ready: list[list[asyncio.Future[Patch]]] = [[_resolved(p) for p in patches]]
    calls = 0

    async def run(level: int, index: int, members: list[int]) -> Patch:
        nonlocal calls
        inputs = [await ready[level - 1][m] for m in members]
        if (level, index) in done:
            return done[(level, index)]
        if len(inputs) == 1:
            return inputs[0]
        if limit is not None:
            async with limit:
                merged, extras = await merge_group(ctx, inputs, level, index)
        else:
            merged, extras = await merge_group(ctx, inputs, level, index)
        calls += 0 if extras.get("passthrough") else 1
        if on_group is not None:
            pending = on_group(level, index, merged, extras)
            if pending is not None:
                await pending
        return merged

    tasks: list[asyncio.Task[Patch]] = []
    for level, groups in enumerate(shape, 1):
        row = [asyncio.ensure_future(run(level, i, members)) for i, members in enumerate(groups)]
        ready.append(row)  # type: ignore[arg-type]
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
