"""Evolution seeds: K candidates from one base, the best on the evolve split kept, then gated."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.bench.conftest import SKILL, skill_teaching, write_suite
from tests.doubles.llmserver import FakeLLMServer

from trace2skill.bench.gate import GateSpec
from trace2skill.bench.measured import evolve_measured
from trace2skill.bench.rollouts import run_arm
from trace2skill.bench.runner import Arm, RolloutSettings
from trace2skill.bench.suites import load_jsonl_suite
from trace2skill.cli import cli
from trace2skill.errors import InvalidInput
from trace2skill.home import Home
from trace2skill.llm import open_llm
from trace2skill.models import EvolutionConfig
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio


async def test_the_candidate_best_on_the_evolve_split_is_gated_and_the_others_stay_unpublished(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    suite_path = write_suite(tmp_path, n_evolve=6, n_test=4)  # topics units and totals in both splits
    suite = load_jsonl_suite(suite_path)
    home = tmp_path / "home"
    ws = Workspace.open(Home(home))
    base = skill_teaching()
    ws.skills.commit(base, parent=None, author="human", changelog=["import"])
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    llm = open_llm(model, call_log=ws.traces.log_calls, concurrency=8)
    try:
        runs = suite.split("evolve")  # recorded one at a time, so each seed's sample is the same on every run
        await run_arm(ws, suite, runs, Arm("v1", base, 1), llm, RolloutSettings(model=model), workers=1)
        config = EvolutionConfig(skill=SKILL, model=model, limit=2, analysts="error", require_confirmed_fix=False)
        report = await evolve_measured(
            config, workspace=ws, gate=GateSpec(str(suite_path), "test"), seeds=2, llm=llm, agent_llm=llm
        )
    finally:
        await llm.aclose()
    assert report.status == "succeeded" and report.published is True, report.error
    # seed 0 (version 2) learned one topic, seed 1 (version 3) both: the later seed is the better one
    assert all(ws.skills.get_version(SKILL, v).parent == 1 for v in (2, 3))
    picks = {s.version: (s.passed, s.verdict) for s in ws.skills.scores(SKILL) if s.split == "evolve"}
    assert picks == {2: (3, "not picked"), 3: (6, "picked")}
    assert report.new_version == 3 and ws.skills.published_version(SKILL) == 3  # version 2 stays in the history
    assert report.gate is not None and (report.gate["baseline_version"], report.gate["candidate_version"]) == (1, 3)
    assert any(
        "picked seed 1 (version 3) of 2 candidates by pass rate on toy:evolve (6 tasks)" in n for n in report.notes
    )
    learned = [set(ws.traces.get_run(r["run_id"])["config"]["trajectories"]) for r in ws.traces.list_runs(skill=SKILL)]
    assert len(learned) == 2 and learned[0] != learned[1]  # the seeds drew different samples
    ws.close()
    history = CliRunner().invoke(cli, ["--home", str(home), "skills", "history", SKILL, "--format", "table"])
    assert "toy:evolve" in history.stdout and "(not picked)" in history.stdout


async def test_seeds_need_a_limit_and_somewhere_to_pick(tmp_path: Path) -> None:
    ws = Workspace.open(Home(tmp_path / "home"))
    gate = GateSpec("toy.jsonl", "test")
    with pytest.raises(InvalidInput, match="--seeds needs --limit N"):
        await evolve_measured(EvolutionConfig(skill=SKILL), workspace=ws, gate=gate, seeds=3)
    with pytest.raises(InvalidInput, match="--seeds needs --gate"):
        await evolve_measured(EvolutionConfig(skill=SKILL, limit=4), workspace=ws, seeds=3)
    ws.close()
