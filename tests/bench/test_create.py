"""Create mode with a suite: the draft is rolled out first, and the evolution learns from the draft's own runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.bench.conftest import SKILL, write_suite
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import TOPICS

from trace2skill.bench.create import CreateSpec, draft_and_roll_out, parse_suite
from trace2skill.bench.measured import evolve_measured
from trace2skill.bench.runner import BASE_PROMPT
from trace2skill.cli import cli
from trace2skill.errors import InvalidInput, NotFound
from trace2skill.home import Home
from trace2skill.llm import open_llm
from trace2skill.models import EvolutionConfig
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

UNITS = str(TOPICS["units"].edit["content"])


def _agent_calls(server: FakeLLMServer) -> int:
    return sum(1 for r in server.requests if r.system.startswith(BASE_PROMPT))


def test_a_suite_is_written_suite_colon_split_and_defaults_to_the_evolve_split() -> None:
    assert parse_suite("wikitq").split == "evolve"
    assert parse_suite("/data/my:suite.jsonl:train", train=5) == CreateSpec("/data/my:suite.jsonl", "train", 5)
    with pytest.raises(InvalidInput, match="--train must be 1 or more"):
        parse_suite("wikitq", train=0)


async def test_the_analysed_runs_are_the_drafts_own_runs(tmp_path: Path, server: FakeLLMServer) -> None:
    suite = write_suite(tmp_path, n_evolve=6, n_test=2, topics={"evolve": ("units",), "test": ("units",)})
    ws = Workspace.open(Home(tmp_path / "home"))  # no skill yet: create mode drafts it
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    llm = open_llm(model, call_log=ws.traces.log_calls, concurrency=8)
    config = EvolutionConfig(skill=SKILL, model=model, mode="create", analysts="error", require_confirmed_fix=False)
    try:
        report = await evolve_measured(
            config, workspace=ws, create=CreateSpec(str(suite), "evolve", 5), llm=llm, agent_llm=llm
        )
    finally:
        await llm.aclose()
    assert report.status == "succeeded", report.error
    draft = ws.skills.get_version(SKILL, 1)
    assert draft.author == "create:toy:evolve" and (report.base_version, report.new_version) == (1, 2)
    run = ws.traces.get_run(report.run_id)
    assert run["config"]["evolution"]["mode"] == "deepen" and run["config"]["evolution"]["base_version"] == 1
    analysed = ws.traces.get_many(ws.traces.analyses(report.run_id))
    assert len(analysed) == 5 and {t.skill_version for t in analysed} == {1}
    assert {t.id for t in analysed} == set(run["config"]["trajectories"]) and run["config"]["versions"] == {"v1": 5}
    assert _agent_calls(server) == 5
    assert UNITS in ws.skills.load(SKILL, 2).skill_md and ws.skills.published_version(SKILL) == 2
    assert "rolled it out on 5 tasks of toy:evolve (0 passed)" in report.notes[0]
    ws.close()


async def test_a_suite_without_the_split_or_tasks_enough_is_refused_before_anything_is_spent(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    suite = write_suite(tmp_path, n_evolve=3, n_test=2)
    ws = Workspace.open(Home(tmp_path / "home"))
    config = EvolutionConfig(skill=SKILL, model=f"anthropic:x@{server.url}", mode="create")
    with pytest.raises(NotFound, match="has no split 'train'"):
        await evolve_measured(config, workspace=ws, create=CreateSpec(str(suite), "train"))
    with pytest.raises(InvalidInput, match="has 3 tasks; 9 were asked for"):
        await evolve_measured(config, workspace=ws, create=CreateSpec(str(suite), "evolve", 9))
    assert server.count == 0 and ws.skills.list() == []
    ws.close()


def test_create_with_a_suite_builds_on_its_draft_even_when_the_skill_is_published_and_composes_with_the_gate(
    tmp_path: Path, bench_home: Path, server: FakeLLMServer
) -> None:
    suite = write_suite(tmp_path, n_evolve=4, n_test=4, topics={"evolve": ("units",), "test": ("units",)})
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    args = ["--home", str(bench_home), "evolve", SKILL, "--model", model, "--mode", "create"]
    args += ["--suite", str(suite), "--train", "4", "--gate", f"{suite}:test", "--analysts", "error"]
    refused = CliRunner().invoke(cli, [*args, "--no-confirm-fixes", "--json"])
    assert refused.exit_code != 0 and server.count == 0
    assert "Error: skill 'sheets' already exists (version 1, " in refused.stderr and "pass --force" in refused.stderr
    result = CliRunner().invoke(cli, [*args, "--no-confirm-fixes", "--force", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # version 1 is the published human skill; the draft is version 2 and the evolution builds on it
    assert (report["base_version"], report["new_version"]) == (2, 3) and report["published"] is True
    comparison = report["gate"]["comparison"]
    assert (report["gate"]["baseline_version"], comparison["a"]["passed"], comparison["b"]["passed"]) == (2, 0, 4)
    ws = Workspace.open(Home(bench_home))
    assert ws.skills.published_version(SKILL) == 3 and ws.skills.get_version(SKILL, 3).parent == 2
    learned = ws.traces.get_many(ws.traces.get_run(report["run_id"])["config"]["trajectories"])
    assert {t.skill_version for t in learned} == {2}
    ws.close()


async def test_the_same_create_again_reuses_its_unpublished_draft_and_the_stored_rollouts(
    tmp_path: Path, bench_home: Path, server: FakeLLMServer
) -> None:
    suite = write_suite(tmp_path, n_evolve=4, n_test=2)
    ws = Workspace.open(Home(bench_home))
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    llm = open_llm(model, call_log=ws.traces.log_calls, concurrency=4)
    config = EvolutionConfig(skill=SKILL, model=model, mode="create", replace_existing=True)
    spec = CreateSpec(str(suite), "evolve", 4)
    try:
        first = await draft_and_roll_out(config, spec, workspace=ws, llm=llm)
        calls = server.count
        again = await draft_and_roll_out(config, spec, workspace=ws, llm=llm)
        assert again.version == first.version == 2 and server.count == calls and again.runs.reused == 4
        assert "reused the unpublished draft version 2" in again.notes[0]
        assert again.config.trajectory_ids == first.config.trajectory_ids and again.config.base_version == 2
        fresh = await draft_and_roll_out(config, spec, workspace=ws, llm=llm, fresh=True)
        assert server.count == calls + 1 and "drafted version" in fresh.notes[0]  # drafted again
        assert ws.skills.published_version(SKILL) == 1  # the published skill is never touched
    finally:
        await llm.aclose()
    ws.close()
