"""`trace2skill bench`: does an evolved skill make the agent better on tasks it never saw?

The loop of the paper at small scale. For each seed: roll out the current skill on a sample of the
suite's evolve split, evolve a new version from exactly those runs (recorded, not published), then
roll out `none` (no skill), `before` and `after` on the same test tasks with the same model and
settings, and compare them pair by pair. The benchmark is stored as a run (`runs show`); every
rollout is stored as a trajectory under an id derived from what decides its result, so running the
same command again resumes where it stopped and pays for nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from trace2skill.bench.rollouts import ArmRuns, run_arm
from trace2skill.bench.runner import Arm, RolloutSettings
from trace2skill.bench.stats import paired, pass_rate
from trace2skill.bench.suites import Suite, load_suite
from trace2skill.errors import BudgetExceeded, InvalidInput, NotFound, ProviderUnreachable, Trace2SkillError
from trace2skill.evolve.progress import ProgressCallback, ProgressEvent, ignore_progress
from trace2skill.evolve.runs import RESUMABLE
from trace2skill.models import SKILL_NAME_RE, EvolutionConfig, EvolutionReport, PriceNumber
from trace2skill.store import new_id

if TYPE_CHECKING:
    from trace2skill.evolve.context import ChatLLM
    from trace2skill.llm import LLM
    from trace2skill.workspace import Workspace

__all__ = ["ARMS", "BenchConfig", "BenchReport", "run_bench"]

ArmName = Literal["none", "before", "after"]
ARMS: tuple[ArmName, ...] = ("none", "before", "after")
_NOT_RESULT_CHANGING = {"workers", "budget_usd", "price", "out"}


class BenchConfig(BaseModel):
    """Everything that decides a benchmark's result (and `workers`, `budget_usd`, `out`, which do not)."""

    suite: str
    model: str
    skill: str | None = None
    data: str | None = None
    train: int = Field(default=50, ge=1)
    test: int = Field(default=100, ge=1)
    seeds: int = Field(default=1, ge=1, le=20)
    arms: list[ArmName] = Field(default_factory=lambda: list(ARMS))
    workers: int = Field(default=4, ge=1, le=256)
    max_turns: int = Field(default=20, ge=1, le=200)
    max_tokens: int = Field(default=2048, ge=64)
    temperature: float | None = 0.0
    sandbox: Literal["auto", "bwrap", "process"] = "auto"
    analysts: Literal["error", "success", "combined"] = "combined"
    analyst: Literal["agentic", "single"] = Field(
        default="agentic", description="Failures: the agentic error analyst (checks fixes with the scorer) or one call"
    )
    evolve_limit: int | None = Field(default=None, ge=1, description="Evolve from a balanced sample of this many runs")
    max_analyst_turns: int = Field(default=8, ge=1, le=200)
    fan_in: int = Field(default=5, ge=2, le=64)
    budget_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    price: tuple[PriceNumber, PriceNumber] | None = Field(
        default=None, description="USD per million input/output tokens of the model, over the price table"
    )
    out: str | None = None

    def fingerprint(self) -> str:
        data = self.model_dump(mode="json", exclude=_NOT_RESULT_CHANGING)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]

    def rollout_settings(self) -> RolloutSettings:
        from trace2skill.sandbox import SandboxLimits

        return RolloutSettings(
            model=self.model,
            max_turns=self.max_turns,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            limits=SandboxLimits(),
            sandbox_mode=self.sandbox,
        )


class BenchReport(BaseModel):
    """What a benchmark measured, for people (Markdown, a chart) and programs (JSON)."""

    run_id: str
    status: Literal["succeeded", "failed"] = "failed"
    suite: str
    suite_description: str = ""
    model: str
    skill: str
    base_version: int | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    arms: dict[str, dict[str, Any]] = Field(default_factory=dict, description="label -> pass rate and run ids")
    comparisons: list[dict[str, Any]] = Field(default_factory=list)
    evolutions: list[dict[str, Any]] = Field(default_factory=list, description="one per seed")
    train: dict[str, dict[str, Any]] = Field(default_factory=dict, description="the evolve-split rollouts per seed")
    unknown: list[str] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)
    sandbox_modes: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)


def _find_resumable(workspace: Workspace, fingerprint: str) -> dict[str, Any] | None:
    for run in workspace.traces.list_runs(limit=50):
        config = run.get("config") or {}
        if config.get("kind") == "bench" and config.get("fingerprint") == fingerprint:
            return run if run.get("status") in RESUMABLE else None
    return None


async def _base_skill(
    workspace: Workspace, config: BenchConfig, suite: Suite, llm: ChatLLM, run_id: str
) -> tuple[str, int]:
    """The skill to start from: `--skill`, or a draft written by the model for this suite (kept unpublished)."""
    name = config.skill or f"{suite.name}-skill"
    if not SKILL_NAME_RE.match(name):
        raise InvalidInput(f"skill name {name!r} is not valid; pass --skill NAME")
    try:
        workspace.skills.sync_published(name)
        published = workspace.skills.published_version(name)
        return name, published if published is not None else workspace.skills.head(name).version
    except NotFound:
        if config.skill is not None:
            raise NotFound(
                f"no skill named {name!r}: import it with `trace2skill skills import DIR`, or leave out --skill "
                "to let the model draft one"
            ) from None
    from trace2skill.evolve.draft import draft_skill

    skill, errors = await draft_skill(llm, name, suite.description, [], run_id=run_id)
    if errors:
        raise InvalidInput(f"the drafted skill does not validate: {'; '.join(errors[:3])}")
    version = workspace.skills.commit(
        skill,
        parent=None,
        author=f"bench:{run_id}",
        changelog=[f"first draft written by the model for suite {suite.name}"],
        run_id=run_id,
        publish=False,
    )
    return name, version.version


async def _evolve(
    workspace: Workspace,
    config: BenchConfig,
    skill: str,
    seed: int,
    train: ArmRuns,
    llm: ChatLLM,
    state: dict[str, Any],
    progress: ProgressCallback,
) -> EvolutionReport:
    """Evolve from exactly the seed's evolve-split runs; a run from an earlier attempt is reused or resumed."""
    from trace2skill.evolve import evolve_async

    earlier = state.get(str(seed))
    if earlier:
        run = workspace.traces.get_run(earlier)
        if run.get("status") not in RESUMABLE:
            return EvolutionReport.model_validate(
                run.get("report") or {"run_id": earlier, "skill": skill, "status": "failed"}
            )
        return await evolve_async(workspace=workspace, llm=llm, resume=earlier, progress=progress)
    evolution = EvolutionConfig(
        skill=skill,
        model=config.model,
        analysts=config.analysts,
        analyst=config.analyst,
        fan_in=config.fan_in,
        workers=config.workers,
        limit=config.evolve_limit,
        seed=seed,
        max_analyst_turns=config.max_analyst_turns,
        trajectory_ids=train.ids,
        publish="never",
    )
    unfinished = _unfinished_evolution(workspace, evolution)
    if unfinished is not None:  # this benchmark was stopped while evolving: continue that run, pay nothing twice
        state[str(seed)] = unfinished
        return await evolve_async(workspace=workspace, llm=llm, resume=unfinished, progress=progress)
    report = await evolve_async(
        evolution,
        workspace=workspace,
        llm=llm,
        progress=progress,
        fresh=True,
    )
    state[str(seed)] = report.run_id
    return report


_SAME_EVOLUTION = ("trajectory_ids", "seed", "analyst", "analysts", "limit", "max_analyst_turns", "fan_in", "model")


def _unfinished_evolution(workspace: Workspace, evolution: EvolutionConfig) -> str | None:
    """An unfinished evolution of exactly these runs with these settings (the one with most saved work), if any.

    The benchmark records its evolution's id when the evolution returns; a benchmark killed while evolving finds
    the run here instead, by what it was asked to do.
    """
    wanted = evolution.model_dump(mode="json", include=set(_SAME_EVOLUTION))
    best: tuple[int, str] | None = None
    for run in workspace.traces.list_runs(skill=evolution.skill, limit=200):
        if run.get("status") not in RESUMABLE:
            continue
        stored = (run.get("config") or {}).get("evolution") or {}
        if {k: stored.get(k) for k in _SAME_EVOLUTION} != wanted:
            continue
        saved = len(workspace.traces.analyses(run["run_id"]))
        if best is None or saved > best[0]:
            best = (saved, run["run_id"])
    return best[1] if best else None


def _arm_summary(runs: ArmRuns) -> dict[str, Any]:
    rate = pass_rate(list(runs.outcomes().values()))
    return {
        "label": runs.arm.label,
        "version": runs.arm.version,
        "passed": rate.passed,
        "total": rate.total,
        "rate": rate.rate,
        "low": rate.low,
        "high": rate.high,
        "summary": str(rate),
        "unknown": len(runs.unknown()),
        "reused": runs.reused,
        "runs": runs.ids,
    }


def _compare(name: str, a: ArmRuns, b: ArmRuns) -> dict[str, Any]:
    result = paired(a.outcomes(), b.outcomes())
    return {
        "name": name,
        "a": a.arm.label,
        "b": b.arm.label,
        "n": result.n,
        "diff": result.diff,
        "low": result.low,
        "high": result.high,
        "gained": result.gained,
        "lost": result.lost,
        "p_value": result.p_value,
        "summary": str(result),
    }


def _evolution_summary(seed: int, report: EvolutionReport) -> dict[str, Any]:
    return {
        "seed": seed,
        "run_id": report.run_id,
        "status": report.status,
        "base_version": report.base_version,
        "new_version": report.new_version,
        "trajectories": report.trajectories,
        "analyses": report.analyses,
        "lessons": report.lessons,
        "patches": report.patches,
        "edits_applied": report.edits_applied,
        "edits_dropped": len(report.edits_dropped),
        "changelog": report.changelog,
        "provenance": report.provenance,
        "diff": report.diff,
        "calls": report.calls,
        "input_tokens": report.input_tokens,
        "output_tokens": report.output_tokens,
        "cost_usd": report.cost_usd,
        "seconds": report.seconds,
        "error": report.error,
        "notes": report.notes[:20],
    }


async def run_bench(
    config: BenchConfig,
    *,
    workspace: Workspace,
    llm: ChatLLM | None = None,
    progress: ProgressCallback = ignore_progress,
    fresh: bool = False,
) -> BenchReport:
    """Run (or resume) one benchmark and return its report; files go to `config.out` or the home's bench folder."""
    started = time.monotonic()
    suite = load_suite(config.suite, config.data)
    for split in ("evolve", "test"):
        suite.split(split)
    own_llm: LLM | None = None
    if llm is None:  # opened first: a model string or a budget it cannot keep is refused before a run is recorded
        from trace2skill.llm import Budget, open_llm

        budget = Budget(usd=config.budget_usd) if config.budget_usd is not None else None
        own_llm = llm = open_llm(
            config.model,
            call_log=workspace.traces.log_calls,
            concurrency=config.workers,
            budget=budget,
            home=workspace.home,
            price=config.price,
        )
    fingerprint = config.fingerprint()
    earlier = None if fresh else _find_resumable(workspace, fingerprint)
    if earlier is not None:
        run_id = earlier["run_id"]
        state = dict(earlier.get("evolve_runs") or {})
        workspace.traces.update_run(run_id, status="running", error=None)
    else:
        run_id = new_id("b_")
        state = {}
        workspace.traces.create_run(
            run_id, config.skill, {"kind": "bench", "bench": config.model_dump(mode="json"), "fingerprint": fingerprint}
        )
    report = BenchReport(
        run_id=run_id,
        suite=suite.name,
        suite_description=suite.description,
        model=config.model,
        skill=config.skill or "",
        config=config.model_dump(mode="json"),
    )
    try:
        await _run(workspace, config, suite, llm, run_id, state, report, progress)
        report.status = "succeeded"
    except BudgetExceeded as e:
        report.error = f"budget exceeded: {e} (run the same command with a larger --budget-usd to resume)"
    except ProviderUnreachable as e:
        report.error = f"{e} (what finished is kept: run the same command again to resume once it answers)"
    except Trace2SkillError as e:
        report.error = str(e)
    finally:
        if own_llm is not None:
            await own_llm.aclose()
        report.seconds = round(time.monotonic() - started, 3)
        report.usage = _usage(workspace, run_id, report)
        note = getattr(llm, "price_note", None)
        if note is not None:
            report.usage["price"] = f"{config.model.split('@', 1)[0]}: {note()}"
        workspace.traces.update_run(
            run_id,
            skill=report.skill or None,
            status=report.status,
            base_version=report.base_version,
            report=report.model_dump(mode="json"),
            error=report.error,
            evolve_runs=state,
        )
    return report


async def _run(
    workspace: Workspace,
    config: BenchConfig,
    suite: Suite,
    llm: ChatLLM,
    run_id: str,
    state: dict[str, Any],
    report: BenchReport,
    progress: ProgressCallback,
) -> None:
    settings = config.rollout_settings()
    name, base_version = await _base_skill(workspace, config, suite, llm, run_id)
    report.skill, report.base_version = name, base_version
    workspace.traces.update_run(run_id, skill=name, base_version=base_version)
    base = Arm("before", workspace.skills.load(name, base_version), base_version)
    test_tasks = suite.sample("test", config.test, seed=0)
    tags = (f"bench:{run_id}",)
    arms: dict[str, ArmRuns] = {}
    modes: set[str] = set()
    for seed in range(config.seeds):
        train_tasks = suite.sample("evolve", config.train, seed=seed)
        train = await run_arm(
            workspace,
            suite,
            train_tasks,
            base,
            llm,
            settings,
            seed=seed,
            stage=f"evolve split, seed {seed}",
            workers=config.workers,
            tags=tags,
            run_id=run_id,
            progress=progress,
        )
        report.train[str(seed)] = _arm_summary(train)
        report.unknown += [f"train seed {seed}: {line}" for line in train.unknown()]
        progress(
            ProgressEvent(
                "evolve", 0, None, f"seed {seed}: evolving {name} v{base_version} from {len(train.runs)} runs"
            )
        )
        evolution = await _evolve(workspace, config, name, seed, train, llm, state, progress)
        workspace.traces.update_run(run_id, evolve_runs=state)
        report.evolutions.append(_evolution_summary(seed, evolution))
        after_version = evolution.new_version if evolution.status == "succeeded" else None
        if after_version is None and evolution.status == "staged":
            report.notes.append(
                f"seed {seed}: version {evolution.new_version} is held for review ({len(evolution.review)} reasons, "
                f"first: {evolution.review[0] if evolution.review else '-'}), so no agent runs it; the after arm is "
                "the before skill"
            )
        elif after_version is None:
            report.notes.append(
                f"seed {seed}: the evolution ended '{evolution.status}'"
                + (f" ({evolution.error})" if evolution.error else "")
                + "; the after arm is the before skill"
            )
        wanted: list[tuple[str, Arm]] = []
        if "none" in config.arms:
            wanted.append(("none", Arm("none")))
        if "before" in config.arms:
            wanted.append(("before", Arm(f"before (v{base_version})", base.skill, base_version)))
        if "after" in config.arms:
            version = after_version or base_version
            wanted.append(("after", Arm(f"after (v{version})", workspace.skills.load(name, version), version)))
        for key, arm in wanted:
            label = key if config.seeds == 1 else f"{key} s{seed}"
            runs = await run_arm(
                workspace,
                suite,
                test_tasks,
                arm,
                llm,
                settings,
                seed=seed,
                stage=f"test, {arm.label}, seed {seed}",
                workers=config.workers,
                tags=tags,
                run_id=run_id,
                progress=progress,
            )
            arms[label] = runs
            report.arms[label] = _arm_summary(runs)
            report.unknown += [f"{label}: {line}" for line in runs.unknown()]
            modes.update(str(t.metadata.get("sandbox")) for t in runs.runs.values() if t.metadata.get("sandbox"))
        suffix = "" if config.seeds == 1 else f" s{seed}"
        if f"before{suffix}" in arms and f"after{suffix}" in arms:
            report.comparisons.append(
                _compare(f"after vs before{suffix}", arms[f"before{suffix}"], arms[f"after{suffix}"])
            )
        if f"none{suffix}" in arms and f"before{suffix}" in arms:
            report.comparisons.append(
                _compare(f"before vs none{suffix}", arms[f"none{suffix}"], arms[f"before{suffix}"])
            )
        if f"none{suffix}" in arms and f"after{suffix}" in arms:
            report.comparisons.append(_compare(f"after vs none{suffix}", arms[f"none{suffix}"], arms[f"after{suffix}"]))
    report.sandbox_modes = sorted(modes)


def _usage(workspace: Workspace, run_id: str, report: BenchReport) -> dict[str, Any]:
    """Calls, tokens and cost: the rollouts' (logged under the bench run) and each evolution's."""
    rollouts = workspace.traces.call_totals(run_id)
    evolve = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
    for e in report.evolutions:
        for key in evolve:
            evolve[key] += e.get(key) or 0
    return {"rollouts": rollouts, "evolve": evolve}


def default_out(workspace: Workspace, run_id: str) -> Path:
    return Path(workspace.home.root) / "bench" / run_id
