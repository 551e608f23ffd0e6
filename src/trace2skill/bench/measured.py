"""An evolution that uses a suite: create mode's rollouts of the draft, the pick among seeds, the gate.

`trace2skill evolve` calls this when it is given `--suite` (create mode), `--seeds K` or `--gate`;
the three compose in that order: draft S0 and learn from its own runs, evolve K candidates and
keep the best on the evolve split, then measure that one against its base on the held-out split
and publish it only if it is not worse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trace2skill.bench.candidates import check_seeds, evolve_candidates
from trace2skill.bench.create import CreateSpec, draft_and_roll_out
from trace2skill.bench.gate import GateSpec, apply_gate, release
from trace2skill.bench.runner import RolloutSettings
from trace2skill.bench.suites import Suite, Task, load_suite
from trace2skill.errors import InvalidInput
from trace2skill.evolve.progress import ProgressCallback, ignore_progress
from trace2skill.models import EvolutionConfig, EvolutionReport

if TYPE_CHECKING:
    from trace2skill.evolve.context import ChatLLM
    from trace2skill.workspace import Workspace

__all__ = ["DEFAULT_PICK", "check_measured", "evolve_measured"]

DEFAULT_PICK = 50
"""Evolve-split tasks the seeds' candidates are compared on when neither --train nor --gate-limit says."""


def check_measured(config: EvolutionConfig, create: CreateSpec | None, gate: GateSpec | None, seeds: int) -> None:
    """Refuse combinations that cannot work, before anything is spent."""
    if create is not None and config.mode != "create":
        raise InvalidInput("--suite is for --mode create: the draft is rolled out on it before anything is learned")
    if seeds > 1 and gate is None and create is None:
        raise InvalidInput("--seeds needs --gate SUITE:SPLIT (or --suite in create mode) to pick the best candidate")
    check_seeds(seeds, config)


def _pick_tasks(create: CreateSpec | None, gate: GateSpec | None) -> tuple[Suite, str, list[Task]]:
    """Where candidates are compared: the draft's own tasks in create mode (unless the gate names another
    suite), else the first tasks of the gate suite's evolve split."""
    if create is not None and (gate is None or gate.suite == create.suite):
        suite = load_suite(create.suite, create.data)
        return suite, create.split, create.tasks(suite)
    assert gate is not None
    suite = load_suite(gate.suite, gate.data)
    available = len(suite.split("evolve"))
    return suite, "evolve", suite.sample("evolve", min(gate.limit or DEFAULT_PICK, available))


async def evolve_measured(
    config: EvolutionConfig,
    *,
    workspace: Workspace,
    create: CreateSpec | None = None,
    gate: GateSpec | None = None,
    seeds: int = 1,
    llm: ChatLLM | None = None,
    agent_llm: ChatLLM | None = None,
    settings: RolloutSettings | None = None,
    workers: int = 4,
    progress: ProgressCallback = ignore_progress,
    fresh: bool = False,
) -> EvolutionReport:
    """Create (with a suite), evolve one or `seeds` candidates, gate; returns the report of the version kept."""
    check_measured(config, create, gate, seeds)
    if gate is not None:
        load_suite(gate.suite, gate.data).split(gate.split)  # a missing split is refused before anything is spent
    pick = _pick_tasks(create, gate) if seeds > 1 else None
    notes: list[str] = []
    if create is not None:
        drafted = await draft_and_roll_out(
            config,
            create,
            workspace=workspace,
            llm=llm,
            agent_llm=agent_llm,
            settings=settings,
            workers=workers,
            progress=progress,
            fresh=fresh,
        )
        config, notes = drafted.config, drafted.notes
    held = gate is not None or seeds > 1  # published only after the gate, or once picked
    if pick is not None:
        suite, split, tasks = pick
        report = await evolve_candidates(
            config,
            seeds,
            suite,
            split,
            tasks,
            workspace=workspace,
            llm=llm,
            agent_llm=agent_llm,
            settings=settings,
            workers=workers,
            progress=progress,
        )
    else:
        from trace2skill.evolve import evolve_async

        unpublished = config.model_copy(update={"publish": "never"}) if held else config
        report = await evolve_async(unpublished, workspace=workspace, llm=llm, progress=progress, fresh=fresh)
    report.notes[:0] = notes
    if gate is not None:
        return await apply_gate(
            config,
            gate,
            report,
            workspace=workspace,
            gate_llm=agent_llm,
            settings=settings,
            workers=workers,
            progress=progress,
        )
    if held and report.status == "succeeded":
        release(workspace, config, report)  # a pick is not a review: review and never modes still apply
    workspace.traces.update_run(report.run_id, report=report.model_dump(mode="json"))
    return report
