"""The whole pipeline in-process: a real store and skill store, the simulated fleet as the model."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.doubles.scripted import ScriptedProvider
from tests.doubles.simulated import chat_handler, make_skill, make_trajectories

from trace2skill.errors import BudgetExceeded
from trace2skill.evolve import ProgressEvent, estimate, evolve_async
from trace2skill.evolve.analysts import analysis_kind
from trace2skill.evolve.merge import tree_shape
from trace2skill.home import Home
from trace2skill.llm import LLM, Budget, ChatRequest
from trace2skill.models import EvolutionConfig, Trajectory
from trace2skill.workspace import Workspace

N = 12


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(Home(tmp_path / "home"))
    workspace.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    workspace.traces.add_many(make_trajectories(N, seed=5))
    yield workspace
    workspace.close()


def _llm(ws: Workspace, handler: Any = chat_handler, **options: Any) -> tuple[LLM, ScriptedProvider]:
    provider = ScriptedProvider(handler)
    return LLM(provider, call_log=ws.traces.log_calls, **options), provider


FREE = "local:qwen2.5-coder-1.5b"
"""A model a dry run prices at $0 (the estimate only reads the model string: nothing is opened)."""


def _config(**kw: Any) -> EvolutionConfig:
    return EvolutionConfig(**{"skill": "sheets", "model": "scripted", **kw})


def _calls_for(t: Trajectory) -> int:
    """What the simulated fleet spends on one trajectory: analysis turns plus its proposal."""
    return (1 if analysis_kind(t) == "success" else 3) + 1


@pytest.mark.anyio
async def test_a_run_commits_a_new_version_whose_edits_name_their_trajectories(ws: Workspace) -> None:
    llm, provider = _llm(ws)
    events: list[Any] = []
    report = await evolve_async(_config(), workspace=ws, llm=llm, progress=events.append)
    assert report.status == "succeeded" and (report.base_version, report.new_version) == (1, 2)
    skill = ws.skills.load("sheets")
    assert "3. Recompute any total from the data rows" in skill.skill_md  # repaired anchor, then applied
    assert skill.file("references/dates.md") is not None
    ids = {t.id for t in ws.traces.filter(skill="sheets", limit=None)}
    assert report.provenance and all(set(p["support"]) <= ids and p["support"] for p in report.provenance)
    assert ws.skills.head("sheets").provenance == report.provenance
    # everything is on record
    run = ws.traces.get_run(report.run_id)
    assert run["status"] == "succeeded" and run["new_version"] == 2 and run["report"]["calls"] == report.calls
    assert len(ws.traces.analyses(report.run_id)) == N
    assert len(ws.traces.patches(report.run_id, level=0)) == report.patches
    merges = sum(1 for level in tree_shape(report.patches, 5) for g in level if len(g) > 1)
    assert len([p for p in ws.traces.patch_rows(report.run_id) if p["level"] > 0]) == merges
    assert report.calls == len(provider.requests) == ws.traces.call_totals(report.run_id)["calls"]
    assert set(report.stages) >= {"analyse", "propose", "merge", "apply"}
    assert report.stages["merge"]["calls"] == merges and report.stages["merge"]["rounds"] == 2
    assert {e.stage for e in events} >= {"analyse", "propose", "merge", "apply", "commit", "done"}
    published = ws.skills.published_path("sheets") / "SKILL.md"
    assert published.read_text() == skill.skill_md


@pytest.mark.anyio
async def test_what_exists_before_a_run_is_frozen_for_the_collector_only_while_the_pipeline_runs(
    ws: Workspace,
) -> None:
    llm, _ = _llm(ws)
    frozen: dict[str, int] = {}

    def progress(event: ProgressEvent) -> None:
        frozen.setdefault(event.stage, gc.get_freeze_count())

    report = await evolve_async(_config(), workspace=ws, llm=llm, progress=progress)
    assert report.status == "succeeded"
    assert frozen["analyse"] > 0 and frozen["commit"] > 0  # the selected runs and everything older, not rescanned
    assert gc.get_freeze_count() == 0  # handed back to the collector at the end


@pytest.mark.anyio
async def test_a_process_that_froze_objects_itself_keeps_its_freeze_through_a_run(ws: Workspace) -> None:
    llm, _ = _llm(ws)
    gc.freeze()
    try:
        report = await evolve_async(_config(), workspace=ws, llm=llm)
        assert report.status == "succeeded" and gc.get_freeze_count() > 0  # not ended by the run
    finally:
        gc.unfreeze()


@pytest.mark.anyio
async def test_when_no_analysis_teaches_anything_the_skill_stays_as_it_is(ws: Workspace) -> None:
    llm, _ = _llm(ws, lambda req: {"solution_path": "", "lessons": []})
    report = await evolve_async(_config(analysts="success"), workspace=ws, llm=llm)
    assert report.status == "no_change" and report.new_version is None
    assert ws.skills.head("sheets").version == 1


@pytest.mark.anyio
async def test_a_spent_budget_fails_the_run_leaves_the_published_skill_and_resumes_paying_only_the_rest(
    ws: Workspace,
) -> None:
    before = (ws.skills.published_path("sheets") / "SKILL.md").read_text()
    llm, first = _llm(ws, budget=Budget(tokens=15_000), concurrency=2)
    report = await evolve_async(_config(workers=2), workspace=ws, llm=llm)
    assert report.status == "failed" and "budget exceeded" in (report.error or "")
    assert "--resume " + report.run_id in (report.error or "")
    assert (ws.skills.published_path("sheets") / "SKILL.md").read_text() == before
    assert ws.skills.head("sheets").version == 1
    run = ws.traces.get_run(report.run_id)
    assert run["status"] == "failed" and run["report"]["error"] == report.error
    saved = ws.traces.analyses(report.run_id)
    proposed = {row["index"] for row in ws.traces.patch_rows(report.run_id, level=0)}
    trajectories = ws.traces.get_many(run["config"]["trajectories"])
    assert 0 < len(saved) < N

    unfinished = sum(
        _calls_for(t) if t.id not in saved else (0 if i in proposed else 1) for i, t in enumerate(trajectories)
    )
    merges = sum(1 for level in tree_shape(N, 5) for g in level if len(g) > 1)
    llm2, second = _llm(ws)
    again = await evolve_async(_config(), workspace=ws, llm=llm2)  # same settings: resumes automatically
    assert again.run_id == report.run_id and again.resumed and again.status == "succeeded"
    assert len(second.requests) == unfinished + merges + 1  # + one anchor repair
    assert again.calls == len(first.requests) + len(second.requests)


@pytest.mark.anyio
async def test_fresh_starts_a_new_run_instead_of_resuming(ws: Workspace) -> None:
    llm, _ = _llm(ws, budget=Budget(tokens=1))
    failed = await evolve_async(_config(), workspace=ws, llm=llm)
    llm2, _ = _llm(ws)
    other = await evolve_async(_config(), workspace=ws, llm=llm2, fresh=True)
    assert failed.status == "failed" and other.run_id != failed.run_id and not other.resumed
    llm3, _ = _llm(ws)
    changed = await evolve_async(_config(seed=3, any_version=True), workspace=ws, llm=llm3)  # v2 made no runs
    assert changed.run_id not in (failed.run_id, other.run_id)


@pytest.mark.anyio
async def test_an_unexpected_crash_in_the_merge_keeps_the_analyses_for_the_next_attempt(ws: Workspace) -> None:
    def broken_merge(req: ChatRequest) -> Any:
        if "skill editor (merge)" in req.system:
            raise RuntimeError("bug in the merger")
        return chat_handler(req)

    llm, _ = _llm(ws, broken_merge)
    with pytest.raises(RuntimeError, match="bug in the merger"):
        await evolve_async(_config(), workspace=ws, llm=llm)
    (run,) = ws.traces.list_runs(skill="sheets")
    assert run["status"] == "failed" and "interrupted" in run["error"]
    assert len(ws.traces.analyses(run["run_id"])) == N
    llm2, second = _llm(ws)
    report = await evolve_async(None, workspace=ws, llm=llm2, resume=run["run_id"])
    assert report.status == "succeeded"
    assert all("skill editor (merge)" in r.system or "anchors" in r.system for r in second.requests)


@pytest.mark.anyio
async def test_create_mode_drafts_the_base_version_before_learning(tmp_path: Path) -> None:
    ws = Workspace.open(Home(tmp_path / "fresh"))
    ws.traces.add_many(make_trajectories(6, seed=9, skill="ledger"))
    llm, provider = _llm(ws)
    report = await evolve_async(
        EvolutionConfig(skill="ledger", model="scripted", mode="create", task_description="Answer ledger questions."),
        workspace=ws,
        llm=llm,
    )
    assert report.status == "succeeded" and (report.base_version, report.new_version) == (1, 2)
    history = ws.skills.history("ledger")
    assert history[0].changelog[0].startswith("first draft") and history[1].parent == 1
    assert (
        provider.requests[0].purpose == "draft"
        and "Answer ledger questions." in provider.requests[0].messages[0].content
    )
    assert "name: ledger" in ws.skills.load("ledger", 1).skill_md
    assert ws.skills.published_version("ledger") == 2
    (note,) = [n for n in report.notes if n.startswith("create mode")]
    assert "none of them used it" in note and "(no recorded version: 6)" in note  # the draft made none of the runs
    ws.close()


@pytest.mark.anyio
async def test_a_create_run_that_failed_after_drafting_resumes_without_drafting_again(tmp_path: Path) -> None:
    ws = Workspace.open(Home(tmp_path / "fresh"))
    ws.traces.add_many(make_trajectories(6, seed=9, skill="ledger"))
    config = EvolutionConfig(skill="ledger", model="scripted", mode="create")

    def no_merge(req: ChatRequest) -> Any:
        if "skill editor (merge)" in req.system:
            raise BudgetExceeded("spent")
        return chat_handler(req)

    llm, _ = _llm(ws, no_merge)
    failed = await evolve_async(config, workspace=ws, llm=llm)
    assert failed.status == "failed" and failed.base_version == 1 and ws.skills.published_version("ledger") is None
    llm2, provider = _llm(ws)
    again = await evolve_async(config, workspace=ws, llm=llm2)
    assert again.run_id == failed.run_id and again.status == "succeeded" and again.new_version == 2
    assert not [r for r in provider.requests if r.purpose == "draft"]
    assert any("none of them used it" in note for note in again.notes)  # the selection's notes survive a resume
    ws.close()


@pytest.mark.anyio
async def test_the_sequential_baseline_updates_after_every_trajectory(ws: Workspace) -> None:
    llm, provider = _llm(ws)
    report = await evolve_async(_config(strategy="sequential", batch_size=1), workspace=ws, llm=llm)
    assert report.status == "succeeded" and report.merge_levels == 0
    assert report.stages["analyse"]["rounds"] >= N and report.stages["propose"]["rounds"] >= 5
    assert all(p["edit_id"].startswith("s") for p in report.provenance)
    skill = ws.skills.load("sheets")
    assert skill.skill_md.count("Parse dates into ISO form") == 1
    # later analysts see the skill as updated by earlier steps
    systems = [r.system for r in provider.requests if "success analyst" in r.system or "error analyst" in r.system]
    assert "Parse dates into ISO form" not in systems[0] and "Parse dates into ISO form" in systems[-1]


@pytest.mark.anyio
async def test_the_batched_sequential_baseline_merges_each_batch(ws: Workspace) -> None:
    llm, _ = _llm(ws)
    report = await evolve_async(_config(strategy="sequential", batch_size=4), workspace=ws, llm=llm)
    # batch 1 brings four new topics (one merge); later batches bring at most one new edit each
    assert report.status == "succeeded" and report.merge_levels == 1
    skill_md = ws.skills.load("sheets").skill_md
    assert all(skill_md.count(line) == 1 for line in ("Parse dates", "Check the unit", "Read the output file back"))


def test_the_dry_run_counts_calls_rounds_and_cost_before_spending(ws: Workspace) -> None:
    est = estimate(_config(model=FREE), workspace=ws)
    failures = sum(1 for t in ws.traces.filter(skill="sheets", limit=None) if t.outcome.status == "failure")
    assert est.trajectories == N and est.failures == failures and est.agentic == failures
    groups = sum(len(level) for level in tree_shape(N, 5))
    assert est.calls["propose"] == N and est.calls["merge"] == groups and est.rounds["merge"] == 2
    assert est.calls["analyse"] == 4 * failures + (N - failures)
    assert est.cost_usd == 0.0 and est.input_tokens > est.cached_tokens > 0
    priced = estimate(_config(model="anthropic:claude-sonnet-4-5"), workspace=ws)
    assert priced.cost_usd is not None and priced.cost_usd > 0
    assert ws.traces.list_runs() == []


def test_the_dry_run_counts_only_the_runs_the_real_run_would_learn_from(ws: Workspace) -> None:
    base = ws.skills.load("sheets")
    ws.skills.commit(base.with_files({"references/more.md": b"# More\n"}), parent=1, author="human", changelog=["+"])
    ws.traces.add_many(t.model_copy(update={"skill_version": 2}) for t in make_trajectories(5, seed=77))
    est = estimate(_config(model=FREE), workspace=ws)  # the base is version 2 now: only its 5 runs are used
    assert est.trajectories == 5 and any("left out 12 runs not made with the base version v2" in n for n in est.notes)
    assert estimate(_config(model=FREE, any_version=True), workspace=ws).trajectories == N + 5
