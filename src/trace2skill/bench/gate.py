"""The held-out gate: a new version is published only if it is not worse on tasks it never saw.

`evolve_gated` runs an evolution that records its new version without publishing it, then rolls
out the published version and the new one on the same tasks of a suite's split with the same model
and settings, compares them pair by pair, and publishes the new version only when its pass rate is
at least the old one's minus `margin`. A rejected version stays in the history, unpublished, with
both scores kept beside it (`skills history` shows them), and the report says why. A pass is not a
review: a version held for a person stays held, and `--publish never` only records it (`release`).
A version held for risky changes is not rolled out at all: the agent would follow (run) exactly the
changes no person has read.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from trace2skill.bench.rollouts import ArmRuns, run_arm
from trace2skill.bench.runner import Arm, RolloutSettings
from trace2skill.bench.stats import Paired, paired
from trace2skill.bench.suites import Suite, load_suite
from trace2skill.errors import InvalidInput
from trace2skill.evolve.progress import ProgressCallback, ignore_progress
from trace2skill.evolve.screening import REVIEW_MODE_REASON
from trace2skill.models import EvolutionConfig, EvolutionReport
from trace2skill.skills_store import SkillScore

if TYPE_CHECKING:
    from trace2skill.evolve.context import ChatLLM
    from trace2skill.workspace import Workspace

__all__ = [
    "GateResult",
    "GateSpec",
    "apply_gate",
    "decide",
    "evolve_gated",
    "measure_versions",
    "parse_gate",
    "release",
    "rollout_llm",
]


@dataclass(frozen=True)
class GateSpec:
    suite: str
    split: str = "test"
    margin: float = 0.0
    limit: int | None = None
    data: str | None = None


def parse_gate(text: str, *, margin: float = 0.0, limit: int | None = None, data: str | None = None) -> GateSpec:
    """`SUITE:SPLIT` (a built-in name or a .jsonl path, then the split); `SUITE` alone means split `test`."""
    suite, sep, split = text.rpartition(":")
    if not sep or "/" in split or not suite:
        suite, split = text, "test"
    if not suite.strip() or not split.strip():
        raise InvalidInput(f"--gate {text!r}: expected SUITE:SPLIT, e.g. wikitq:test or my-suite.jsonl:test")
    if not 0 <= margin <= 1:
        raise InvalidInput(f"--gate-margin must be between 0 and 1 (a share of tasks), got {margin}")
    return GateSpec(suite.strip(), split.strip(), margin, limit, data)


@dataclass
class GateResult:
    """Both versions measured on the same tasks, and the verdict."""

    suite: str
    split: str
    model: str
    baseline_version: int
    candidate_version: int
    comparison: Paired
    margin: float
    passed: bool
    reason: str
    baseline_runs: list[str]
    candidate_runs: list[str]
    unknown: list[str]
    usage: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["comparison"] = {**asdict(self.comparison), "summary": str(self.comparison)}
        return out


def decide(comparison: Paired, margin: float) -> tuple[bool, str]:
    """Publish unless the candidate's pass rate is below the baseline's by more than `margin`."""
    if comparison.n == 0:
        return False, "no task was measured on both versions"
    a, b = comparison.a.rate, comparison.b.rate
    change = f"{a:.1%} → {b:.1%} on {comparison.n} tasks ({comparison})"
    if comparison.diff < -margin - 1e-12:
        return False, f"worse than the published version by more than the margin {margin:.1%}: {change}"
    return True, f"not worse than the published version (margin {margin:.1%}): {change}"


async def measure_versions(
    workspace: Workspace,
    skill: str,
    baseline_version: int,
    candidate_version: int,
    suite: Suite,
    split: str,
    llm: ChatLLM,
    settings: RolloutSettings,
    *,
    margin: float = 0.0,
    limit: int | None = None,
    workers: int = 4,
    seed: int = 0,
    tags: tuple[str, ...] = (),
    progress: ProgressCallback = ignore_progress,
) -> GateResult:
    """Roll out both versions on the same tasks and decide."""
    started = time.monotonic()
    tasks = suite.sample(split, limit, seed=0)
    runs: dict[str, ArmRuns] = {}
    for label, version in (("baseline", baseline_version), ("candidate", candidate_version)):
        arm = Arm(f"v{version}", workspace.skills.load(skill, version), version)
        runs[label] = await run_arm(
            workspace,
            suite,
            tasks,
            arm,
            llm,
            settings,
            seed=seed,
            workers=workers,
            tags=("gate", *tags),
            progress=progress,
            stage=f"gate v{version}",
        )
    comparison = paired(runs["baseline"].outcomes(), runs["candidate"].outcomes())
    verdict, reason = decide(comparison, margin)
    totals = getattr(llm, "usage_totals", None)
    usage = totals().as_dict() if callable(totals) else {}
    return GateResult(
        suite=suite.name,
        split=split,
        model=settings.model,
        baseline_version=baseline_version,
        candidate_version=candidate_version,
        comparison=comparison,
        margin=margin,
        passed=verdict,
        reason=reason,
        baseline_runs=runs["baseline"].ids,
        candidate_runs=runs["candidate"].ids,
        unknown=runs["baseline"].unknown() + runs["candidate"].unknown(),
        usage=usage,
        seconds=round(time.monotonic() - started, 3),
    )


def _record_scores(workspace: Workspace, skill: str, result: GateResult, run_id: str) -> None:
    for version, rate, verdict in (
        (result.baseline_version, result.comparison.a, "baseline"),
        (result.candidate_version, result.comparison.b, "published" if result.passed else "rejected"),
    ):
        workspace.skills.record_score(
            SkillScore(
                name=skill,
                version=version,
                suite=result.suite,
                split=result.split,
                model=result.model,
                passed=rate.passed,
                total=rate.total,
                run_id=run_id,
                verdict=verdict,
                detail={"low": rate.low, "high": rate.high, "margin": result.margin, "reason": result.reason},
            )
        )


async def evolve_gated(
    config: EvolutionConfig,
    gate: GateSpec,
    *,
    workspace: Workspace,
    llm: ChatLLM | None = None,
    gate_llm: ChatLLM | None = None,
    settings: RolloutSettings | None = None,
    workers: int = 4,
    progress: ProgressCallback = ignore_progress,
    resume: str | None = None,
) -> EvolutionReport:
    """Evolve without publishing, measure old and new on the gate split, then publish or reject."""
    from trace2skill.evolve import evolve_async

    suite = load_suite(gate.suite, gate.data)
    suite.split(gate.split)  # a missing split is refused before anything is spent
    report = await evolve_async(
        config.model_copy(update={"publish": "never"}) if resume is None else None,
        workspace=workspace,
        llm=llm,
        resume=resume,
        progress=progress,
    )
    return await apply_gate(
        config,
        gate,
        report,
        workspace=workspace,
        gate_llm=gate_llm,
        settings=settings,
        workers=workers,
        progress=progress,
    )


def release(workspace: Workspace, config: EvolutionConfig, report: EvolutionReport) -> None:
    """Publish a measured version as its run's publish mode and review allow; otherwise say why it waits.

    Held versions stay held (only a person releases them), `review` holds the version now, `never`
    records it only; `auto` publishes it."""
    name, version = config.skill, report.new_version
    if version is None:
        return
    review = workspace.skills.review(name, version)
    mode = config.publish_mode
    if (review is None or not review.held) and mode == "review":
        review = workspace.skills.stage(name, version, [REVIEW_MODE_REASON])
    if review is not None and review.held:
        report.status, report.published, report.review = "staged", False, list(review.reasons)
        report.notes.append(
            f"version {version} is held for review ({len(review.reasons)} reasons), so it was not published: "
            f"read it with `trace2skill skills review {name}`, publish it with "
            f"`trace2skill skills publish {name} --version {version}`"
        )
        return
    if mode == "never":
        report.published = False
        report.notes.append(f"version {version} is recorded, not published (--publish never)")
        return
    workspace.skills.publish(name, version)
    report.published = True


@asynccontextmanager
async def rollout_llm(workspace: Workspace, model: str, llm: ChatLLM | None, workers: int) -> AsyncIterator[ChatLLM]:
    """`llm` when given, else a client of `model` opened for these rollouts and closed after them."""
    if llm is not None:
        yield llm
        return
    from trace2skill.llm import open_llm

    own = open_llm(model, call_log=workspace.traces.log_calls, concurrency=workers, home=workspace.home)
    try:
        yield own
    finally:
        await own.aclose()


async def apply_gate(
    config: EvolutionConfig,
    gate: GateSpec,
    report: EvolutionReport,
    *,
    workspace: Workspace,
    gate_llm: ChatLLM | None = None,
    settings: RolloutSettings | None = None,
    workers: int = 4,
    progress: ProgressCallback = ignore_progress,
) -> EvolutionReport:
    """Measure a finished evolution's new version against its base on the gate split; publish it or reject it."""
    if report.status == "staged":
        report.notes.append(
            f"the gate did not roll out version {report.new_version}: it is held for review, and an agent must not "
            "follow changes no person has read"
        )
        workspace.traces.update_run(report.run_id, report=report.model_dump(mode="json"))
        return report
    if report.status != "succeeded" or report.new_version is None or report.base_version is None:
        return report
    suite = load_suite(gate.suite, gate.data)
    rollout_settings = settings or RolloutSettings(model=config.model or "")
    async with rollout_llm(workspace, rollout_settings.model, gate_llm, workers) as agent:
        result = await measure_versions(
            workspace,
            config.skill,
            report.base_version,
            report.new_version,
            suite,
            gate.split,
            agent,
            rollout_settings,
            margin=gate.margin,
            limit=gate.limit,
            workers=workers,
            tags=(f"evolve:{report.run_id}",),
            progress=progress,
        )
    _record_scores(workspace, config.skill, result, report.run_id)
    report.gate = result.to_dict()
    if result.passed:
        report.notes.append(f"gate passed: {result.reason}")
        release(workspace, config, report)
    else:
        report.status = "rejected"
        report.published = False
        report.notes.append(
            f"gate rejected version {report.new_version}: {result.reason}; it stays in the history, unpublished "
            f"(publish it anyway with `trace2skill skills publish {config.skill} --version {report.new_version}`)"
        )
    workspace.traces.update_run(report.run_id, status=report.status, report=report.model_dump(mode="json"))
    return report
