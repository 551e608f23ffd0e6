"""The parallel pipeline: select → analyse → propose → merge → apply → commit, recorded as a run.

One event loop drives everything. Each trajectory runs its own little pipeline (analysis, then its
proposal as soon as the analysis is done) under a bound of `workers` at once, failures with the
most turns first; only the first merge level waits for every proposal. Results are saved in
batches from a worker thread as they finish, so a run that dies resumes from what was saved:
finished analyses, proposals and merge groups are never paid for twice. The published version of
the skill is only replaced by the final commit of a successful run, and only when nothing in it or
in the run's lessons needs a person (`screening`): otherwise the version is staged for review.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from trace2skill.errors import (
    BudgetExceeded,
    Conflict,
    InvalidInput,
    NotFound,
    ProviderError,
    ProviderUnreachable,
    Trace2SkillError,
)
from trace2skill.evaluators.base import EvaluatorResolver, resolver_for
from trace2skill.evolve.analysts import analyse
from trace2skill.evolve.apply import no_new_executables
from trace2skill.evolve.context import DEFAULT_PROTECTED, ChatLLM, RunContext, evidence_of
from trace2skill.evolve.draft import draft_skill
from trace2skill.evolve.evaluation import is_agentic
from trace2skill.evolve.finalize import Finalized, finalize, provenance
from trace2skill.evolve.merge import MergeResult, merge_tree, tree_shape
from trace2skill.evolve.progress import ProgressCallback, ProgressEvent, StageCounter, ignore_progress
from trace2skill.evolve.propose import propose
from trace2skill.evolve.recorder import RunRecorder, collapse_notes
from trace2skill.evolve.report import unused_references_note
from trace2skill.evolve.runs import (
    RESUMABLE,
    Persister,
    config_fingerprint,
    find_resumable,
    new_run_id,
    resume_command,
)
from trace2skill.evolve.schemas import Analysis
from trace2skill.evolve.screening import flagged_evidence, hold_reasons, publishes
from trace2skill.evolve.select import VersionScope, select_trajectories, version_scope
from trace2skill.evolve.stages import OutputBudgets, StageLLM
from trace2skill.models import EvolutionConfig, EvolutionReport, Patch, Skill, Trajectory
from trace2skill.skills_store import SkillStore, review_changes
from trace2skill.store import TraceStore
from trace2skill.store.usage import UsageLog

__all__ = ["PreparedRun", "prepare_run", "run_pipeline", "seen_by_a_person", "stage_of"]

log = logging.getLogger(__name__)

_RESULT_NEUTRAL = ("workers", "budget_usd", "budget_tokens")
_SPENT = frozenset({"ok", "error"})


def stage_of(purpose: str | None) -> str:
    """The report stage an LLM call belongs to, from its logged purpose."""
    p = purpose or ""
    if p.startswith("analyse"):
        return "analyse"
    if p in ("propose", "merge", "draft"):
        return p
    return "apply"


@dataclass
class PreparedRun:
    run_id: str
    config: EvolutionConfig
    trajectories: list[Trajectory]
    base_version: int | None
    head_version: int | None
    resumed: bool
    notes: list[str] = field(default_factory=list)
    """What the selection left out or could not promise (runs of other versions), for the report."""


def _head_version(skills: SkillStore, name: str) -> int | None:
    """The version a run builds on: the published one (a version the gate rejected is never built on),
    else the newest."""
    try:
        skills.sync_published(name)
        published = skills.published_version(name)
        return published if published is not None else skills.head(name).version
    except NotFound:
        return None


def _base_of(skills: SkillStore, config: EvolutionConfig) -> int | None:
    """`config.base_version` when given (it must exist), else the published version, else the newest."""
    if config.base_version is None:
        return _head_version(skills, config.skill)
    if config.mode == "create":
        raise InvalidInput("a base version is for deepen mode; create mode drafts its own base")
    return skills.get_version(config.skill, config.base_version).version


def replaced_by_create(skills: SkillStore, config: EvolutionConfig) -> tuple[int, int] | None:
    """(version, files) of the existing skill that a create-mode run would replace with its one-file draft;
    None in deepen mode, for a new name, or for an unpublished machine draft (a create run being resumed)."""
    if config.mode != "create":
        return None
    try:
        head = skills.head(config.skill)
    except NotFound:
        return None
    if head.author.startswith(("create:", "evolve:")) and skills.published_version(config.skill) is None:
        return None  # a draft of create mode's own that nobody published: resuming, not replacing
    return head.version, len(skills.load(config.skill, head.version).files)


def refuse_replacing(skills: SkillStore, config: EvolutionConfig) -> None:
    """Create mode never silently replaces an existing skill (54 files once became one): it needs --force."""
    replaced = None if config.replace_existing else replaced_by_create(skills, config)
    if replaced is not None:
        version, files = replaced
        raise Conflict(
            f"skill {config.skill!r} already exists (version {version}, {files} file{'s' if files != 1 else ''}); "
            "create mode would replace it with a new draft: deepen it instead (--mode deepen), or pass --force to "
            "replace it (its versions stay in the history)"
        )


def scope_of(skills: SkillStore, config: EvolutionConfig) -> VersionScope:
    """The runs a new run of `config` may learn from: those of its base version (see `_scope`)."""
    return _scope(skills, config, _base_of(skills, config))


def _scope(skills: SkillStore, config: EvolutionConfig, base: int | None) -> VersionScope:
    """Runs of the base version; runs with no recorded version too while the skill has only that one."""
    if config.mode == "create" or base is None:
        return VersionScope()
    return version_scope(config, base, only_version=skills.head(config.skill).version == 1)


def prepare_run(
    traces: TraceStore,
    skills: SkillStore,
    config: EvolutionConfig | None,
    *,
    resume: str | None = None,
    fresh: bool = False,
) -> PreparedRun:
    """Find or create the run record: its configuration, trajectory list and base version."""
    if resume is not None:
        run = traces.get_run(resume)
        if run.get("status") not in RESUMABLE:
            raise Conflict(
                f"run {resume} has status {run.get('status')}; only running, failed or interrupted runs resume"
            )
        return _reopen(traces, run, config)
    if config is None:
        raise InvalidInput("an evolution needs a configuration (or a run to resume)")
    refuse_replacing(skills, config)
    head = _base_of(skills, config)
    if config.mode == "deepen" and head is None:
        raise NotFound(
            f"no skill named {config.skill!r} to deepen: import it with `trace2skill skills import DIR`, "
            "or draft one with --mode create"
        )
    # create mode drafts its own base, so the skill's current head does not decide what is reused
    fingerprint = config_fingerprint(config, head if config.mode == "deepen" else None)
    if not fresh:
        earlier = find_resumable(traces, config.skill, fingerprint)
        if earlier is not None:
            return _reopen(traces, earlier, config)
    selection = select_trajectories(traces, config, _scope(skills, config, head))
    run_id = new_run_id()
    traces.create_run(
        run_id,
        config.skill,
        {
            "evolution": config.model_dump(mode="json"),
            "fingerprint": fingerprint,
            "head_version": head,
            "trajectories": selection.ids,
            "counts": selection.counts,
            "versions": selection.versions,
            "selection_notes": selection.notes,
        },
    )
    base = head if config.mode == "deepen" else None
    traces.update_run(run_id, base_version=base, stage="select")
    return PreparedRun(run_id, config, selection.trajectories, base, head, resumed=False, notes=selection.notes)


def _reopen(traces: TraceStore, run: dict[str, Any], overrides: EvolutionConfig | None) -> PreparedRun:
    stored = run.get("config") or {}
    config = EvolutionConfig.model_validate(stored.get("evolution") or {})
    if overrides is not None:
        if overrides.skill != config.skill:
            raise InvalidInput(f"run {run['run_id']} evolves {config.skill!r}, not {overrides.skill!r}")
        config = config.model_copy(update={k: getattr(overrides, k) for k in _RESULT_NEUTRAL})
    trajectories = traces.get_many(stored.get("trajectories") or [])
    traces.update_run(run["run_id"], status="running", error=None, resumed=int(run.get("resumed") or 0) + 1)
    return PreparedRun(
        run["run_id"],
        config,
        trajectories,
        run.get("base_version"),
        stored.get("head_version"),
        resumed=True,
        notes=list(stored.get("selection_notes") or []),
    )


@dataclass
class _Work:
    """What the analyse/propose stage produced, by trajectory index."""

    analyses: dict[int, Analysis] = field(default_factory=dict)
    patches: dict[int, Patch] = field(default_factory=dict)
    failed: int = 0


async def _analyse_and_propose(
    ctx: RunContext, traces: TraceStore, trajectories: list[Trajectory], persist: Persister, rec: RunRecorder
) -> _Work:
    run_id = ctx.run_id
    work = _Work()
    saved = traces.analyses(run_id)
    saved_patches = {row["index"]: row["patch"] for row in traces.patch_rows(run_id, level=0)}
    for i, t in enumerate(trajectories):
        if t.id in saved:
            work.analyses[i] = Analysis.model_validate(saved[t.id])
        if i in saved_patches:
            work.patches[i] = Patch.model_validate(saved_patches[i])
    todo = [i for i in range(len(trajectories)) if i not in work.analyses or _needs_patch(work, i)]
    # Longest pipelines first (agentic error analyses), so the last wave is not a long one.
    todo.sort(key=lambda i: (_expected_calls(ctx, trajectories[i]), -i), reverse=True)
    n = len(trajectories)
    analysed = StageCounter(rec.progress, "analyse", n, done=len(work.analyses))
    proposed = StageCounter(rec.progress, "propose", n, done=n - len(todo))
    workers = asyncio.Semaphore(ctx.config.workers)
    max_turns = 0

    async def one(i: int) -> None:
        nonlocal max_turns
        t = trajectories[i]
        async with workers:
            analysis = work.analyses.get(i)
            if analysis is None:
                try:
                    analysis = await analyse(ctx, t, i)
                except ProviderError as e:
                    work.failed += 1
                    rec.notes.append(f"analysis of {t.id} failed: {e}")
                    analysed.step(f"{t.id}: failed")
                    proposed.step()
                    return
                work.analyses[i] = analysis
                max_turns = max(max_turns, analysis.turns)
                persist.analysis(analysis.trajectory_id, analysis.kind, analysis.model_dump(mode="json"))
                analysed.step(f"{t.id}: {len(analysis.lessons)} lessons")
            if not analysis.lessons:
                proposed.step(f"{t.id}: no lessons")
                return
            try:
                result = await propose(ctx, t, analysis)
            except ProviderError as e:
                rec.notes.append(f"proposal for {t.id} failed: {e}")
                proposed.step(f"{t.id}: failed")
                return
            work.patches[i] = result.patch
            persist.patch(0, i, result.to_record())
            proposed.step(f"{t.id}: {len(result.patch.edits)} edits")

    tasks = [asyncio.ensure_future(one(i)) for i in todo]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await persist.flush()
    rec.rounds["analyse"] = max_turns
    rec.rounds["propose"] = 1 if any(a.lessons for a in work.analyses.values()) else 0
    return work


def _needs_patch(work: _Work, i: int) -> bool:
    return bool(work.analyses[i].lessons) and i not in work.patches


def _expected_calls(ctx: RunContext, t: Trajectory) -> int:
    return ctx.config.max_analyst_turns + 1 if is_agentic(ctx.config, t) else 2


async def _merge(
    ctx: RunContext, traces: TraceStore, patches: list[Patch], persist: Persister, rec: RunRecorder
) -> MergeResult:
    done = {
        (row["level"], row["index"]): Patch.model_validate(row["patch"])
        for row in traces.patch_rows(ctx.run_id)
        if row["level"] >= 1
    }
    shape = tree_shape(len(patches), ctx.config.fan_in)
    total = sum(1 for level in shape for g in level if len(g) > 1)
    counter = StageCounter(rec.progress, "merge", total, done=sum(1 for k in done if k[0] <= len(shape)))

    def on_group(level: int, index: int, merged: Patch, extras: dict[str, Any]) -> None:
        persist.patch(level, index, {**merged.model_dump(mode="json"), **extras})
        note = "passed through (merge call failed)" if extras.get("passthrough") else f"{len(merged.edits)} edits"
        rec.notes += extras.get("notes") or []  # splits of groups whose answer did not fit, pass-throughs
        counter.step(f"level {level} group {index}: {note}")

    try:
        result = await merge_tree(ctx, patches, done=done, on_group=on_group)
    finally:
        await persist.flush()
    rec.rounds["merge"] = result.levels
    return result


async def run_pipeline(
    traces: TraceStore,
    skills: SkillStore,
    llm: ChatLLM,
    prepared: PreparedRun,
    *,
    progress: ProgressCallback = ignore_progress,
    resolve_evaluator: EvaluatorResolver | None = None,
    protected: frozenset[str] = DEFAULT_PROTECTED,
    editor_llm: ChatLLM | None = None,
    budgets: OutputBudgets | None = None,
) -> EvolutionReport:
    """Run (or resume) a prepared run to its end and return its report; the run record is updated.

    `llm` serves the analysts, `editor_llm` (default: `llm`) the draft, proposals, merges and repairs;
    `budgets` caps each stage's output tokens (`stages.OutputBudgets`)."""
    budgets = budgets or OutputBudgets()
    editor = editor_llm if editor_llm is not None else llm
    llms = [llm] if editor is llm else [llm, editor]
    started = time.monotonic()
    config, run_id = prepared.config, prepared.run_id
    rec = RunRecorder(progress)
    rec.notes += prepared.notes
    persist = Persister(traces, run_id)
    report = EvolutionReport(
        run_id=run_id,
        skill=config.skill,
        status="failed",
        base_version=prepared.base_version,
        trajectories=len(prepared.trajectories),
        resumed=prepared.resumed,
    )
    resolver = resolve_evaluator or resolver_for(config.evaluator)
    try:
        base_version = prepared.base_version
        if base_version is None:
            with rec.stage("draft"):
                drafter = StageLLM(editor, budgets.draft, config.temperature)
                base_version = await _draft(traces, skills, drafter, prepared, rec)
            report.base_version = base_version
        base = skills.load(config.skill, base_version)
        rec.notes += _usage_notes(traces, base)
        ctx = RunContext(run_id, config, llm, base, protected=protected, resolve_evaluator=resolver)
        ctx.editor_llm, ctx.budgets, ctx.evidence = editor, budgets, evidence_of(prepared.trajectories)
        if config.strategy == "sequential":
            from trace2skill.evolve.baseline import run_sequential

            final = await run_sequential(ctx, prepared.trajectories, persist, rec, report)
        else:
            final = await _parallel(ctx, traces, prepared.trajectories, persist, rec, report)
        if final is None:
            report.status = "no_change"
        else:
            before = seen_by_a_person(skills, config.skill, base_version)
            await _commit(traces, skills, ctx, base_version, final, report, rec, before)
    except BudgetExceeded as e:
        hint = f"resume with `trace2skill evolve {config.skill} --resume {run_id} --budget-usd MORE`"
        report.status, report.error = "failed", f"budget exceeded: {e} ({hint})"
    except ProviderUnreachable as e:
        resume = f"trace2skill evolve {config.skill} --resume {run_id}"
        hint = f"what finished is kept: resume with `{resume}` once it answers; for a wrong URL, fix --model"
        report.status, report.error = "failed", f"{e} ({hint})"
    except Trace2SkillError as e:
        report.status, report.error = "failed", str(e)
    except (asyncio.CancelledError, KeyboardInterrupt):
        # Ctrl-C, or the caller cancelled: what finished is saved; `evolve --resume` continues it
        try:
            await persist.flush()
        except Exception as e:  # the run record must still say it was interrupted
            rec.notes.append(f"could not save the last analyses or patches: {e}")
        report.status = "interrupted"
        report.error = f"interrupted: resume with `{resume_command(config.skill, run_id)}`"
        await _close(traces, llms, report, rec, started)
        raise
    except BaseException as e:
        report.status, report.error = "failed", f"interrupted: {type(e).__name__}: {e}"
        await _close(traces, llms, report, rec, started)
        raise
    await _close(traces, llms, report, rec, started)
    return report


def _usage_notes(traces: TraceStore, base: Skill) -> list[str]:
    """The report's note on references no recorded read opened (`store.usage`); none when nothing is known."""
    try:
        note = unused_references_note(UsageLog(traces.db), base)
    except Exception as e:  # usage is a hint for people: never a reason for a run to fail
        log.warning("could not read the usage of %s: %s", base.name, e)
        return []
    return [note] if note else []


async def _draft(traces: TraceStore, skills: SkillStore, llm: ChatLLM, prepared: PreparedRun, rec: RunRecorder) -> int:
    config, run_id = prepared.config, prepared.run_id
    counter = StageCounter(rec.progress, "draft", 1)
    skill, errors = await draft_skill(llm, config.skill, config.task_description, prepared.trajectories, run_id=run_id)
    if errors:
        raise InvalidInput(f"the drafted skill does not validate: {'; '.join(errors[:3])}")
    version = skills.commit(
        skill,
        parent=prepared.head_version,
        author=f"evolve:{run_id}",
        changelog=["first draft written by the model from its own knowledge (create mode)"],
        provenance=[],
        run_id=run_id,
        publish=False,
        hold=review_changes(seen_by_a_person(skills, config.skill, prepared.head_version), skill),
    )
    traces.update_run(run_id, base_version=version.version)
    counter.finish(f"drafted version {version.version}")
    rec.rounds["draft"] = 1
    return version.version


async def _parallel(
    ctx: RunContext,
    traces: TraceStore,
    trajectories: list[Trajectory],
    persist: Persister,
    rec: RunRecorder,
    report: EvolutionReport,
) -> Finalized | None:
    traces.update_run(ctx.run_id, stage="analyse")
    with rec.stage("analyse+propose"):
        work = await _analyse_and_propose(ctx, traces, trajectories, persist, rec)
    report.analyses = len(work.analyses)
    report.lessons = sum(len(a.lessons) for a in work.analyses.values())
    if work.failed and not work.analyses:
        raise InvalidInput(f"every analysis failed ({work.failed}); see the notes and the call log")
    patches = [work.patches[i] for i in sorted(work.patches) if work.patches[i].edits]
    report.patches = len(patches)
    if not patches:
        rec.notes.append("no analysis produced an edit; the skill stays as it is")
        return None
    traces.update_run(ctx.run_id, stage="merge")
    with rec.stage("merge"):
        merged = await _merge(ctx, traces, patches, persist, rec)
    report.merge_levels = merged.levels
    report.changelog = list(merged.patch.changelog)
    traces.update_run(ctx.run_id, stage="apply")
    counter = StageCounter(rec.progress, "apply", None)
    with rec.stage("apply"):
        final = await finalize(ctx, merged.patch)
    counter.finish(f"{len(final.applied)} edits applied, {len(final.dropped)} dropped")
    rec.rounds["apply"] = final.rounds
    return final


_MODEL_AUTHORS = ("evolve:", "bench:")


def seen_by_a_person(skills: SkillStore, name: str, version: int | None) -> Skill | None:
    """What a new version is screened against: the newest version on `version`'s parent chain that a person
    wrote, released or let go live (published, or not written by a model). An unpublished draft or
    candidate in between (create mode, the bench) is read as part of the change; None reads everything."""
    published = skills.published_version(name)
    current = version
    while current is not None:
        v = skills.get_version(name, current)
        review = skills.review(name, current)
        if current == published or not v.author.startswith(_MODEL_AUTHORS) or (review is not None and not review.held):
            return skills.load(name, current)
        current = v.parent
    return None


async def _commit(
    traces: TraceStore,
    skills: SkillStore,
    ctx: RunContext,
    base_version: int,
    final: Finalized,
    report: EvolutionReport,
    rec: RunRecorder,
    screened_against: Skill | None,
) -> None:
    """Record the new version: published, or held for review with its reasons (`screening`)."""
    report.edits_applied = len(final.applied)
    report.edits_dropped = final.dropped
    rec.notes += final.notes + final.warnings
    if final.errors_left:
        raise InvalidInput(f"the evolved skill does not validate: {'; '.join(final.errors_left[:3])}")
    skill = no_new_executables(ctx.base, final.skill)
    if skill.digest == ctx.base.digest:
        report.status = "no_change"
        return
    counter = StageCounter(rec.progress, "commit", 1)
    with rec.stage("commit"):
        mode = ctx.config.publish_mode
        flagged = flagged_evidence(traces, ctx.run_id, screened_against, skill)
        hold = hold_reasons(mode, screened_against, skill, flagged)
        entries = provenance(final.applied, final.fixes)
        changelog = report.changelog or [f"{e['file']} {e['op']}: {e['summary']}" for e in entries]
        version = skills.commit(
            skill,
            parent=base_version,
            author=f"evolve:{ctx.run_id}",
            changelog=changelog,
            provenance=entries,
            run_id=ctx.run_id,
            publish=publishes(mode, hold),
            hold=hold,
        )
        name = ctx.config.skill
        if hold and skills.review(name, version.version) is None and skills.published_version(name) != version.version:
            skills.stage(name, version.version, hold)  # the content matched a version recorded before, unheld
        report.published = skills.published_version(name) == version.version
        report.new_version = version.version
        report.provenance = entries
        report.changelog = changelog
        report.review = hold
        report.diff = skills.diff(name, base_version, version.version)
    counter.finish(f"version {version.version}" + (" held for review" if hold else ""))
    report.status = "staged" if hold else "succeeded"
    if hold:
        rec.notes.append(
            f"version {version.version} is held for review ({len(hold)} reasons, listed under Held for review): "
            f"read it with `trace2skill skills review {name}`, publish it with "
            f"`trace2skill skills publish {name} --version {version.version}`"
        )


async def _close(
    traces: TraceStore, llms: list[ChatLLM], report: EvolutionReport, rec: RunRecorder, started: float
) -> None:
    """Fill in cost and timings from the call logs and record the report with the run."""
    for llm in llms:
        describe = getattr(llm, "price_note", None)
        provider = getattr(llm, "provider", None)
        if describe is not None and provider is not None:
            report.prices[f"{provider.name}:{provider.model}"] = describe()
        flush = getattr(llm, "flush", None)
        if flush is None:
            continue
        try:
            result = flush()
            if asyncio.iscoroutine(result):
                await result
        except Exception as e:  # the report must still be written
            rec.notes.append(f"could not flush the LLM call log: {e}")
    report.stages = _stage_table(traces, report.run_id, rec)
    report.calls = sum(s["calls"] for s in report.stages.values())
    report.input_tokens = sum(s["input_tokens"] for s in report.stages.values())
    report.output_tokens = sum(s["output_tokens"] for s in report.stages.values())
    report.cached_tokens = sum(s["cached_tokens"] for s in report.stages.values())
    report.cost_usd = round(sum(s["cost_usd"] for s in report.stages.values()), 6)
    report.seconds = round(time.monotonic() - started, 3)
    report.notes = collapse_notes(rec.notes)
    traces.update_run(
        report.run_id,
        status=report.status,
        base_version=report.base_version,
        new_version=report.new_version,
        report=report.model_dump(mode="json"),
        error=report.error,
        stage="done" if report.status != "failed" else "failed",
    )
    rec.progress(ProgressEvent("done", 1, 1, report.status))


def _stage_table(traces: TraceStore, run_id: str, rec: RunRecorder) -> dict[str, dict[str, Any]]:
    stages: dict[str, dict[str, Any]] = {}
    keys = ("input_tokens", "cached_tokens", "output_tokens")
    for call in traces.calls(run_id):
        if call.get("outcome") not in _SPENT:
            continue  # refused by the budget or served from a response cache: never reached the model
        s = stages.setdefault(stage_of(call.get("purpose")), {"calls": 0, "cost_usd": 0.0, **dict.fromkeys(keys, 0)})
        s["calls"] += 1
        s["cost_usd"] += float(call.get("cost_usd") or 0.0)
        for k in keys:
            s[k] += int(call.get(k) or 0)
    order = ["draft", "analyse", "propose", "merge", "apply", "commit"]
    timed = {"analyse": "analyse+propose"}
    out: dict[str, dict[str, Any]] = {}
    for name in order:
        if name not in stages and name not in rec.seconds and name not in rec.rounds:
            continue
        s = stages.get(name, {"calls": 0, "cost_usd": 0.0, **dict.fromkeys(keys, 0)})
        s["seconds"] = round(rec.seconds.get(timed.get(name, name), 0.0), 3) if name != "propose" else 0.0
        s["rounds"] = rec.rounds.get(name, 0)
        out[name] = s
    return out
