"""Running one arm over many tasks in parallel, storing each run, and never paying twice for one.

A run's id is the hash of what decides its result (suite, task, skill content, settings, and the
seed when sampling is not greedy), so a run already in the store is read back instead of run again
(unless it has no verdict, e.g. its scorer raised or the model could not be reached):
an interrupted benchmark resumes where it stopped, and the `before` arm of one seed serves every
seed when decoding is greedy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trace2skill.bench.runner import Arm, ChatModel, RolloutSettings, rollout, rollout_id
from trace2skill.bench.suites import Suite, Task
from trace2skill.errors import NotFound
from trace2skill.evolve.progress import ProgressCallback, StageCounter, ignore_progress
from trace2skill.models import Trajectory

if TYPE_CHECKING:
    from trace2skill.workspace import Workspace

__all__ = ["ArmRuns", "run_arm"]


@dataclass
class ArmRuns:
    """An arm's runs by task id, and what it took."""

    arm: Arm
    runs: dict[str, Trajectory] = field(default_factory=dict)
    reused: int = 0

    def outcomes(self) -> dict[str, bool]:
        """Pass or fail by task id; runs without a verdict (`unknown`) count as not passed."""
        return {task_id: t.outcome.status == "success" for task_id, t in self.runs.items()}

    def unknown(self) -> list[str]:
        """One line per run that has no verdict, saying why."""
        return [f"{task_id}: {t.outcome.feedback}" for task_id, t in self.runs.items() if t.outcome.status == "unknown"]

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.runs.values() if t.id]


def _stored(workspace: Workspace, trajectory_id: str) -> Trajectory | None:
    try:
        stored: Trajectory = workspace.traces.get(trajectory_id)
        return stored
    except NotFound:
        return None


async def run_arm(
    workspace: Workspace,
    suite: Suite,
    tasks: Sequence[Task],
    arm: Arm,
    llm: ChatModel,
    settings: RolloutSettings,
    *,
    seed: int = 0,
    workers: int = 4,
    tags: Sequence[str] = (),
    run_id: str | None = None,
    progress: ProgressCallback = ignore_progress,
    stage: str | None = None,
    evaluator_options: dict[str, Any] | None = None,
    record: Callable[[Trajectory], Any] | None = None,
) -> ArmRuns:
    """Every task with this arm, up to `workers` at once; each finished run is stored as it ends."""
    result = ArmRuns(arm)
    todo: list[Task] = []
    for task in tasks:
        found = _stored(workspace, rollout_id(suite, task, arm, settings, seed))
        if found is not None and found.outcome.status != "unknown":
            result.runs[task.id] = found
            result.reused += 1
            continue
        if found is not None and found.id:  # no verdict last time (trouble that was not the model's): run it again
            workspace.traces.delete(found.id)
        todo.append(task)
    counter = StageCounter(progress, stage or f"rollout {arm.label}", len(tasks), done=result.reused)
    slots = asyncio.Semaphore(max(1, workers))
    store = record or (lambda t: workspace.record(t))

    async def one(task: Task) -> None:
        async with slots:
            trajectory = await rollout(
                suite,
                task,
                arm,
                llm,
                settings,
                seed=seed,
                tags=tags,
                run_id=run_id,
                evaluator_options=evaluator_options,
            )
        store(trajectory)
        result.runs[task.id] = trajectory
        counter.step(f"{task.id}: {trajectory.outcome.status}")

    jobs = [asyncio.ensure_future(one(task)) for task in todo]
    try:
        await asyncio.gather(*jobs)
    finally:
        for job in jobs:
            job.cancel()
    result.runs = {t.id: result.runs[t.id] for t in tasks if t.id in result.runs}
    return result
