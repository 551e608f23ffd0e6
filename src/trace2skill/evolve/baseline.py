"""The sequential baseline: update the skill after every trajectory (or every batch of k).

This is the comparison the method argues against: each step analyses its batch against the skill
as updated by the previous steps, proposes, merges the batch's patches (when k > 1), and applies,
so the number of sequential LLM rounds grows with the number of trajectories. It shares every
component with the parallel pipeline and is selected with `strategy="sequential"`.

Its analyses and patches are saved for audit (level 0 by trajectory, merges by step), but a
resumed sequential run starts over: each step depends on the skill the previous steps produced.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from trace2skill.evolve.analysts import analyse
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.finalize import Finalized, finalize
from trace2skill.evolve.merge import merge_tree
from trace2skill.evolve.progress import StageCounter
from trace2skill.evolve.propose import propose
from trace2skill.evolve.recorder import RunRecorder
from trace2skill.evolve.runs import Persister
from trace2skill.evolve.schemas import Analysis
from trace2skill.models import Edit, EvolutionReport, Patch, Trajectory

__all__ = ["run_sequential"]


async def _step_patches(
    ctx: RunContext, batch: list[tuple[int, Trajectory]], persist: Persister
) -> tuple[list[Analysis], list[Patch]]:
    workers = asyncio.Semaphore(ctx.config.workers)

    async def one(i: int, t: Trajectory) -> tuple[Analysis, Patch | None]:
        async with workers:
            analysis = await analyse(ctx, t, i)
            persist.analysis(analysis.trajectory_id, analysis.kind, analysis.model_dump(mode="json"))
            if not analysis.lessons:
                return analysis, None
            result = await propose(ctx, t, analysis)
            persist.patch(0, i, result.to_record())
            return analysis, result.patch

    results = await asyncio.gather(*(one(i, t) for i, t in batch))
    return [a for a, _ in results], [p for _, p in results if p is not None and p.edits]


def _renamed(edits: list[Edit], step: int) -> list[Edit]:
    return [e.model_copy(update={"id": f"s{step}.{e.id}"}) for e in edits]


async def run_sequential(
    ctx: RunContext,
    trajectories: list[Trajectory],
    persist: Persister,
    rec: RunRecorder,
    report: EvolutionReport,
) -> Finalized | None:
    """Apply the trajectories' lessons one batch at a time; returns the end result against the base."""
    k = ctx.config.batch_size
    batches = [[(i, trajectories[i]) for i in chunk] for chunk in _chunks(len(trajectories), k)]
    counter = StageCounter(rec.progress, "analyse", len(trajectories))
    current = ctx.base
    applied: list[Edit] = []
    fixes: list[Edit] = []
    dropped: list[dict] = []
    rounds = {"analyse": 0, "propose": 0, "merge": 0, "apply": 0}
    analyses = lessons = patches_total = levels = 0
    for step, batch in enumerate(batches, 1):
        step_ctx = replace(ctx, base=current, _systems={})
        found, patches = await _step_patches(step_ctx, batch, persist)
        counter.step(f"step {step}/{len(batches)}", n=len(batch))
        analyses += len(found)
        lessons += sum(len(a.lessons) for a in found)
        rounds["analyse"] += max((a.turns for a in found), default=0)
        rounds["propose"] += 1 if any(a.lessons for a in found) else 0
        if not patches:
            continue
        patches_total += len(patches)
        if len(patches) > 1:

            def record_group(level: int, index: int, p: Patch, extras: dict[str, Any], s: int = step) -> None:
                persist.patch(level, s * 1000 + index, p.model_dump(mode="json"))

            merged = await merge_tree(step_ctx, patches, on_group=record_group)
            rounds["merge"] += merged.levels
            levels += merged.levels
            patch = merged.patch
        else:
            patch = patches[0]
        final = await finalize(step_ctx, patch)
        rounds["apply"] += final.rounds
        dropped += final.dropped
        if final.errors_left:
            rec.notes.append(f"step {step}: result does not validate, skipped: {'; '.join(final.errors_left[:2])}")
            continue
        current = final.skill
        applied += _renamed(final.applied, step)
        fixes += _renamed(final.fixes, step)
    await persist.flush()
    rec.rounds.update(rounds)
    report.analyses, report.lessons, report.patches, report.merge_levels = analyses, lessons, patches_total, levels
    if current.digest == ctx.base.digest:
        return None
    return Finalized(skill=current, applied=applied, dropped=dropped, fixes=fixes)


def _chunks(n: int, k: int) -> list[list[int]]:
    return [list(range(start, min(start + k, n))) for start in range(0, n, k)]
