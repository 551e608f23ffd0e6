"""`trace2skill bench` end to end on a small user suite, against the local protocol server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.bench.conftest import SKILL, write_suite
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import TOPICS

from trace2skill.bench.harness import _unfinished_evolution
from trace2skill.bench.runner import BASE_PROMPT
from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.models import EvolutionConfig
from trace2skill.workspace import Workspace


def _bench(home: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["--home", str(home), "bench", *args], catch_exceptions=False)


def _agent_calls(server: FakeLLMServer) -> int:
    return sum(1 for r in server.requests if r.system.startswith(BASE_PROMPT))


def test_bench_rolls_out_evolves_and_measures_none_before_after_then_resumes_for_free(
    tmp_path: Path, bench_home: Path, server: FakeLLMServer
) -> None:
    suite = write_suite(tmp_path, n_evolve=6, n_test=8)
    out = tmp_path / "out"
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    args = ["--suite", str(suite), "--model", model, "--skill", SKILL, "--train", "6", "--test", "8"]
    args += ["--analyst", "single", "--workers", "4", "--out", str(out), "--json"]
    result = _bench(bench_home, *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded"
    arms = report["arms"]
    assert [arms[k]["passed"] for k in ("none", "before", "after")] == [0, 0, 8]
    assert arms["after"]["label"] == "after (v2)" and all(arms[k]["total"] == 8 for k in arms)
    after_vs_before = next(c for c in report["comparisons"] if c["name"] == "after vs before")
    assert (after_vs_before["gained"], after_vs_before["lost"], after_vs_before["diff"]) == (8, 0, 1.0)
    assert after_vs_before["p_value"] < 0.01
    (evolution,) = report["evolutions"]
    assert evolution["status"] == "succeeded" and evolution["trajectories"] == 6 and evolution["diff"]
    assert report["train"]["0"]["total"] == 6 and report["usage"]["rollouts"]["calls"] == 6 + 8 * 3
    for name in ("report.md", "report.json", "pass-rates.png"):
        assert (out / name).is_file()
    assert (out / "pass-rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Paired comparisons" in (out / "report.md").read_text()

    ws = Workspace.open(Home(bench_home))
    new = ws.skills.load(SKILL, 2)
    assert TOPICS["units"].edit["content"] in new.skill_md
    assert ws.skills.published_version(SKILL) == 1  # the bench measures; it never publishes
    run = ws.traces.get_run(report["run_id"])
    assert run["status"] == "succeeded" and run["config"]["kind"] == "bench"
    learned = ws.traces.get_run(evolution["run_id"])["config"]["trajectories"]
    assert set(learned) == set(report["train"]["0"]["runs"])  # evolve learned from exactly these runs
    ws.close()

    shown = CliRunner().invoke(cli, ["--home", str(bench_home), "runs", "show", report["run_id"]])
    assert shown.exit_code == 0 and "| after | 8/8 |" in shown.stdout

    calls = _agent_calls(server)
    again = _bench(bench_home, *args[:-1], "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["arms"]["after"]["passed"] == 8
    assert _agent_calls(server) == calls  # every rollout came back from the store


def test_bench_with_a_suite_missing_its_test_split_is_one_clear_line(tmp_path: Path, bench_home: Path) -> None:
    suite = tmp_path / "only-evolve.jsonl"
    suite.write_text(json.dumps({"id": "a", "task": "t", "reference": "r", "split": "evolve"}) + "\n")
    result = CliRunner().invoke(
        cli, ["--home", str(bench_home), "bench", "--suite", str(suite), "--model", "anthropic:x@http://127.0.0.1:9"]
    )
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith("Error: suite only-evolve has no split 'test'")
    assert "Traceback" not in result.output


def test_a_bench_stopped_while_evolving_finds_that_evolution_by_what_it_was_asked(bench_home: Path) -> None:
    ws = Workspace.open(Home(bench_home))
    asked = EvolutionConfig(skill=SKILL, model="local:m", trajectory_ids=["a", "b"], seed=0, analyst="single")

    def run(run_id: str, config: EvolutionConfig, status: str, analyses: int) -> None:
        ws.traces.create_run(run_id, SKILL, {"evolution": config.model_dump(mode="json")})
        ws.traces.update_run(run_id, status=status)
        for i in range(analyses):
            ws.traces.save_analysis(run_id, f"t{i}", "error", {"lessons": []})

    run("r_little", asked, "running", 1)
    run("r_most", asked, "failed", 5)
    run("r_done", asked, "succeeded", 9)
    run("r_other_runs", asked.model_copy(update={"trajectory_ids": ["a"]}), "running", 9)
    run("r_other_analyst", asked.model_copy(update={"analyst": "agentic"}), "running", 9)
    assert _unfinished_evolution(ws, asked) == "r_most"
    assert _unfinished_evolution(ws, asked.model_copy(update={"seed": 1})) is None
    ws.close()
