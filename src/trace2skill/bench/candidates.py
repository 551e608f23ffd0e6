"""Evolution seeds: evolve K candidates from one base and keep the one that does best on the evolve split.

The method's own code evolved with three seeds and kept the skill with the best score on the
evolving split before held-out testing, because one hallucinated edit can damage a skill. Here a
candidate's seed changes one thing: which runs it learns from (the seeded sample of `limit` runs).
Nothing else in the pipeline is seeded, so several seeds need a limit below the number of runs
(the model's own sampling may make candidates differ further). Every candidate is committed
unpublished from the same base; the picked one goes on (to the gate, or to be published), the
others stay in the history, unpublished, with their scores. A candidate held for review (risky
changes) is never rolled out: an agent must not follow changes no person has read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trace2skill.bench.gate import rollout_llm
from trace2skill.bench.rollouts import run_arm
from trace2skill.bench.runner import Arm, RolloutSettings
from trace2skill.bench.stats import PassRate, pass_rate
from trace2skill.bench.suites import Suite, Task
from trace2skill.errors import InvalidInput
from trace2skill.evolve.progress import ProgressCallback, ignore_progress
from trace2skill.models import EvolutionConfig, EvolutionReport
from trace2skill.skills_store import SkillScore

if TYPE_CHECKING:
    from trace2skill.evolve.context import ChatLLM
    from trace2skill.workspace import Workspace

__all__ = ["MAX_SEEDS", "base_version", "check_seeds", "evolve_candidates"]

MAX_SEEDS = 10


def check_seeds(seeds: int, config: EvolutionConfig) -> None:
    """Refuse seeds that cannot give different candidates, before anything is spent."""
    if not 1 <= seeds <= MAX_SEEDS:
        raise InvalidInput(f"--seeds must be between 1 and {MAX_SEEDS}, got {seeds}")
    if seeds > 1 and config.limit is None:
        raise InvalidInput(
            "--seeds needs --limit N: a candidate's seed changes only which N runs it learns from, "
            "so without a limit every candidate would learn from the same runs"
        )


def base_version(workspace: Workspace, config: EvolutionConfig) -> int:
    """The version every candidate builds on: the configured one, else the published one, else the newest."""
    if config.base_version is not None:
        return config.base_version
    workspace.skills.sync_published(config.skill)
    published = workspace.skills.published_version(config.skill)
    return int(published if published is not None else workspace.skills.head(config.skill).version)


def _learned_from(workspace: Workspace, report: EvolutionReport) -> frozenset[str]:
    return frozenset((workspace.traces.get_run(report.run_id).get("config") or {}).get("trajectories") or [])


async def _measure(
    workspace: Workspace,
    skill: str,
    made: Sequence[EvolutionReport],
    suite: Suite,
    tasks: Sequence[Task],
    agent: ChatLLM,
    settings: RolloutSettings,
    workers: int,
    progress: ProgressCallback,
) -> dict[str, PassRate]:
    rates: dict[str, PassRate] = {}
    for report in made:
        version = int(report.new_version or 0)
        arm = Arm(f"v{version}", workspace.skills.load(skill, version), version)
        runs = await run_arm(
            workspace,
            suite,
            tasks,
            arm,
            agent,
            settings,
            workers=workers,
            tags=("pick", f"evolve:{report.run_id}"),
            progress=progress,
            stage=f"pick v{version}",
        )
        rates[report.run_id] = pass_rate(list(runs.outcomes().values()))
    return rates


def _record(
    workspace: Workspace,
    skill: str,
    where: tuple[Suite, str, str],
    made: Sequence[EvolutionReport],
    rates: dict[str, PassRate],
    best: EvolutionReport,
) -> None:
    """Every candidate's score beside its version (`skills history` shows them), the pick marked."""
    suite, split, model = where
    for report in made:
        rate = rates[report.run_id]
        workspace.skills.record_score(
            SkillScore(
                name=skill,
                version=int(report.new_version or 0),
                suite=suite.name,
                split=split,
                model=model,
                passed=rate.passed,
                total=rate.total,
                run_id=report.run_id,
                verdict="picked" if report is best else "not picked",
                detail={"low": rate.low, "high": rate.high, "seed": made.index(report)},
            )
        )


async def evolve_candidates(
    config: EvolutionConfig,
    seeds: int,
    suite: Suite,
    split: str,
    tasks: Sequence[Task],
    *,
    workspace: Workspace,
    llm: ChatLLM | None = None,
    agent_llm: ChatLLM | None = None,
    settings: RolloutSettings | None = None,
    workers: int = 4,
    progress: ProgressCallback = ignore_progress,
) -> EvolutionReport:
    """Evolve one unpublished candidate per seed from the same base; return the report of the one with the
    best pass rate on `tasks` (ties: the lowest seed), its notes saying how every candidate scored."""
    from trace2skill.evolve import evolve_async

    check_seeds(seeds, config)
    base = base_version(workspace, config)
    reports: list[EvolutionReport] = []
    for seed in range(seeds):
        candidate = config.model_copy(update={"seed": seed, "publish": "never", "base_version": base})
        reports.append(await evolve_async(candidate, workspace=workspace, llm=llm, progress=progress))
    made = [r for r in reports if r.status == "succeeded" and r.new_version is not None]  # staged: never rolled out
    if len(made) <= 1:
        chosen = made[0] if made else reports[0]
        outcomes = ", ".join(f"seed {i}: {r.status}" for i, r in enumerate(reports))
        chosen.notes.append(f"{len(made)} of {seeds} candidates made a new version ({outcomes}); nothing to pick from")
        return chosen
    rollout_settings = settings or RolloutSettings(model=config.model or "")
    async with rollout_llm(workspace, rollout_settings.model, agent_llm, workers) as agent:
        rates = await _measure(workspace, config.skill, made, suite, tasks, agent, rollout_settings, workers, progress)
    best = max(made, key=lambda r: (rates[r.run_id].rate, -made.index(r)))
    _record(workspace, config.skill, (suite, split, rollout_settings.model), made, rates, best)
    scored = "; ".join(
        f"seed {reports.index(r)} → v{r.new_version}: {rates[r.run_id]}" if r in made else f"seed {i}: {r.status}"
        for i, r in enumerate(reports)
    )
    where = f"{suite.name}:{split} ({len(tasks)} tasks)"
    for r in made:
        if r is not best:
            r.notes.append(f"not picked: version {best.new_version} did better on {where}")
            workspace.traces.update_run(r.run_id, report=r.model_dump(mode="json"))
    best.notes.append(
        f"picked seed {reports.index(best)} (version {best.new_version}) of {seeds} candidates by pass rate on "
        f"{where}: {scored}; the others stay in the history, unpublished"
    )
    if len({_learned_from(workspace, r) for r in made}) == 1:
        best.notes.append(
            "every candidate learned from the same runs (--limit is not below the number of runs): "
            "they differ only by the model's own sampling"
        )
    workspace.traces.update_run(best.run_id, report=best.model_dump(mode="json"))
    return best
