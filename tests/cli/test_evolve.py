"""`trace2skill evolve` and `runs` end to end: the real SDK clients against the local protocol server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.doubles.llmserver import FakeLLMServer, Fault, ServerRequest
from tests.doubles.simulated import make_skill, make_trajectories, seeded_home, server_handler

from trace2skill.cli import cli
from trace2skill.evolve.merge import tree_shape
from trace2skill.home import Home
from trace2skill.workspace import Workspace

N = 50


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return seeded_home(tmp_path / "home", N, seed=11, unfixable_every=9)


def _invoke(home: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result


def _is_merge(req: ServerRequest) -> bool:
    return "skill editor (merge)" in req.system


def test_evolve_over_the_wire_makes_a_version_whose_provenance_names_the_trajectories(
    home: Path, server: FakeLLMServer
) -> None:
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    result = _invoke(home, "evolve", "sheets", "--model", model, "--workers", "32", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "succeeded" and report["new_version"] == 2
    assert report["calls"] == server.count and report["input_tokens"] > 0 and report["cost_usd"] > 0
    assert report["cached_tokens"] > 0.5 * report["input_tokens"]
    ws = Workspace.open(Home(home))
    skill = ws.skills.load("sheets")
    for line in ("Check the unit of each column", "3. Recompute any total", "Parse dates into ISO form"):
        assert line in skill.skill_md
    shown = _invoke(home, "skills", "show", "sheets", "--provenance")
    assert shown.exit_code == 0
    failures = {t.id for t in ws.traces.filter(skill="sheets", outcome="failure", limit=None)}
    successes = {t.id for t in ws.traces.filter(skill="sheets", outcome="success", limit=None)}
    for entry in ws.skills.head("sheets").provenance:
        assert entry["edit_id"] in shown.stdout and entry["support"]
        assert all(tid in shown.stdout for tid in entry["support"])
        assert set(entry["support"]) <= failures | successes
    ws.close()
    markdown = _invoke(home, "runs", "show", report["run_id"])
    assert "| **total** |" in markdown.stdout and f"{report['calls']} |" in markdown.stdout
    assert "supported by" in markdown.stdout


def test_the_openai_protocol_works_the_same(tmp_path: Path, server: FakeLLMServer) -> None:
    folder = tmp_path / "h2"
    ws = Workspace.open(Home(folder))
    ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    ws.traces.add_many(make_trajectories(10, seed=4))
    ws.close()
    result = _invoke(folder, "evolve", "sheets", "--model", f"openai:gpt-5-mini@{server.url}/v1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["new_version"] == 2


def test_a_run_killed_during_the_merge_resumes_paying_only_for_the_unfinished_work(
    home: Path, server: FakeLLMServer
) -> None:
    merging = threading.Event()
    hang = True

    def handler(req: ServerRequest) -> Any:
        if _is_merge(req) and hang:
            merging.set()
            return Fault.hang(120)
        return server_handler(req)

    server.handler = handler
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    cmd = [sys.executable, "-c", "from trace2skill.cli import cli; cli()", "--home", str(home)]
    proc = subprocess.Popen(
        [*cmd, "evolve", "sheets", "--model", model], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert merging.wait(timeout=120), "the run never reached the merge"
        ws = Workspace.open(Home(home))
        (run,) = ws.traces.list_runs(skill="sheets")
        assert len(ws.traces.analyses(run["run_id"])) == N  # saved before the merge started
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert ws.traces.get_run(run["run_id"])["status"] == "running"
    patches = [p for p in ws.traces.patches(run["run_id"], level=0) if p["edits"]]
    assert not [r for r in ws.traces.patch_rows(run["run_id"]) if r["level"] > 0]
    merges = sum(1 for level in tree_shape(len(patches), 5) for group in level if len(group) > 1)
    ws.close()

    hang = False
    server.reset()
    rerun = _invoke(home, "evolve", "sheets", "--model", model, "--json")
    assert rerun.exit_code == 0, rerun.output
    report = json.loads(rerun.stdout)
    assert report["run_id"] == run["run_id"] and report["resumed"] and report["status"] == "succeeded"
    repairs = sum(1 for r in server.requests if r.system.startswith("You correct the anchors"))
    assert repairs == 1
    assert server.count == merges + repairs  # nothing analysed or proposed twice
    assert all(_is_merge(r) or r.system.startswith("You correct the anchors") for r in server.requests)


def test_the_dry_run_estimates_without_calling_the_model(home: Path, server: FakeLLMServer) -> None:
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    text = _invoke(home, "evolve", "sheets", "--model", model, "--dry-run")
    assert text.exit_code == 0 and f"{N} trajectories" in text.stdout and "cost:   $" in text.stdout
    data = json.loads(_invoke(home, "evolve", "sheets", "--model", model, "--dry-run", "--json").stdout)
    assert data["trajectories"] == N and data["rounds"]["merge"] == 3 and data["cost_usd"] > 0
    assert server.count == 0
    assert json.loads(_invoke(home, "runs", "list", "--json").stdout) == []


def test_create_mode_on_an_existing_skill_is_refused_and_the_dry_run_says_what_it_would_replace(
    home: Path, server: FakeLLMServer
) -> None:
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    files = len(json.loads(_invoke(home, "skills", "show", "sheets", "--json").stdout)["files"])
    dry = _invoke(home, "evolve", "sheets", "--model", model, "--mode", "create", "--dry-run")
    assert (
        dry.exit_code == 0
        and (
            f"note: create mode would replace 'sheets' (version 1, {files} files) with a new draft; "
            "the real run is refused unless --force"
        )
        in dry.stdout
    )
    refused = _invoke(home, "evolve", "sheets", "--model", model, "--mode", "create")
    assert refused.exit_code != 0 and refused.stderr.strip() == (
        f"Error: skill 'sheets' already exists (version 1, {files} files); create mode would replace it with a new "
        "draft: deepen it instead (--mode deepen), or pass --force to replace it (its versions stay in the history)"
    )
    assert server.count == 0 and json.loads(_invoke(home, "runs", "list", "--json").stdout) == []
    forced = _invoke(home, "evolve", "sheets", "--model", model, "--mode", "create", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    report = json.loads(forced.stdout)
    # the draft is version 2, the evolved one 3, held for review: it drops what version 1 had
    assert (report["base_version"], report["new_version"], report["status"]) == (2, 3, "staged")
    history = json.loads(_invoke(home, "skills", "history", "sheets", "--json").stdout)
    assert [v["version"] for v in history] == [1, 2, 3]  # version 1 stays in the history


def test_a_budget_stops_the_run_which_is_then_listed_as_failed(home: Path, server: FakeLLMServer) -> None:
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    result = _invoke(home, "evolve", "sheets", "--model", model, "--budget-usd", "0.05", "--workers", "4")
    assert result.exit_code == 1
    assert "budget exceeded" in result.stderr and f"evolve sheets --resume {listed_id(home)}" in result.stderr
    (listed,) = json.loads(_invoke(home, "runs", "list", "--json").stdout)
    assert listed["status"] == "failed" and 0.05 <= listed["cost_usd"] < 0.08
    shown = json.loads(_invoke(home, "runs", "show", listed["id"], "--json").stdout)
    assert shown["saved"]["analyses"] > 0 and shown["status"] == "failed"
    other = _invoke(home, "evolve", "ledger", "--resume", listed["id"])
    assert other.exit_code == 1 and "does not evolve 'ledger'" in other.stderr
    again = _invoke(home, "evolve", "sheets", "--resume", listed["id"])  # the run's budget is spent
    assert again.exit_code == 1 and "budget exceeded" in again.stderr
    assert json.loads(_invoke(home, "runs", "show", listed["id"], "--json").stdout)["saved"] == shown["saved"]
    resumed = _invoke(home, "evolve", "sheets", "--resume", listed["id"], "--budget-usd", "5", "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["status"] == "succeeded"


NO_CALLS = "openai:m@http://127.0.0.1:9/v1"
"""A model that needs no key to open; these commands are refused before any call is made."""


def listed_id(home: Path) -> str:
    return json.loads(_invoke(home, "runs", "list", "--json").stdout)[0]["id"]


def test_bad_options_are_one_line_errors(home: Path) -> None:
    result = _invoke(home, "evolve", "sheets", "--model", NO_CALLS, "--fan-in", "1")
    assert result.exit_code == 1 and result.stderr.startswith("Error: fan_in")
    missing = _invoke(home, "evolve", "nosuch", "--model", NO_CALLS)
    assert missing.exit_code == 1 and "no skill named 'nosuch'" in missing.stderr
    bad_model = _invoke(home, "evolve", "sheets", "--model", "nonsense")
    assert bad_model.exit_code == 1 and "provider:model" in bad_model.stderr
    assert json.loads(_invoke(home, "runs", "list", "--json").stdout) == []  # nothing recorded
    unknown = _invoke(home, "runs", "show", "r_nope")
    assert unknown.exit_code == 1 and "no evolution run" in unknown.stderr


def test_every_new_option_is_explained_in_help(home: Path) -> None:
    shown = _invoke(home, "evolve", "--help").stdout
    for option in ("--any-version", "--analyst ", "--analyst-model", "--merge-model", "--temperature"):
        assert option in shown
    for option in ("--suite SUITE[:SPLIT]", "--train N", "--seeds K"):
        assert option in shown
    assert "every version of the" in shown and "roll the draft out" in shown and "keep the best" in shown


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--temperature", "5"], "Error: --temperature 5 is outside 0 to 2"),
        (["--train", "5"], "Error: --train is the number of tasks the draft is rolled out on; it needs --suite"),
        (["--suite", "toy.jsonl"], "Error: --suite is for --mode create"),
        (["--seeds", "2", "--limit", "5"], "Error: --seeds needs --gate SUITE:SPLIT"),
        (["--seeds", "2", "--gate", "toy.jsonl:test"], "Error: --seeds needs --limit N"),
        (["--seeds", "0", "--gate", "toy.jsonl:test"], "Error: --seeds must be between 1 and 10, got 0"),
        (["--mode", "create", "--suite", "toy.jsonl", "--train", "0"], "Error: --train must be 1 or more"),
        (["--mode", "create", "--suite", "toy.jsonl", "--dry-run"], "Error: --dry-run estimates one evolution"),
    ],
)
def test_bad_values_of_the_new_options_are_one_line_and_record_nothing(home: Path, args: list[str], line: str) -> None:
    result = _invoke(home, "evolve", "sheets", "--model", NO_CALLS, *args)
    assert result.exit_code == 1 and result.stderr.startswith(line), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(_invoke(home, "runs", "list", "--json").stdout) == []


def test_an_unknown_analyst_is_refused_by_name(home: Path) -> None:
    result = _invoke(home, "evolve", "sheets", "--analyst", "psychic")
    assert result.exit_code == 2 and "Invalid value for '--analyst'" in result.stderr


def test_runs_of_other_versions_are_left_out_unless_any_version_takes_them(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    folder = tmp_path / "versions"
    ws = Workspace.open(Home(folder))
    ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    ws.skills.commit(make_skill("sheets", filler_lines=2), parent=1, author="human", changelog=["notes"])
    for seed, n, version in ((4, 12, 1), (6, 8, 2)):
        ws.traces.add_many(t.model_copy(update={"skill_version": version}) for t in make_trajectories(n, seed=seed))
    ws.close()
    model = f"anthropic:claude-sonnet-4-5@{server.url}"

    first = _invoke(folder, "evolve", "sheets", "--model", model, "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["base_version"] == 2 and report["trajectories"] == 8
    assert any("left out 12 runs not made with the base version v2 (v1: 12)" in n for n in report["notes"])
    shown = json.loads(_invoke(folder, "runs", "show", report["run_id"], "--json").stdout)
    assert shown["config"]["versions"] == {"v2": 8}

    nothing = _invoke(folder, "evolve", "sheets", "--model", model)  # version 3 has made no runs yet
    assert nothing.exit_code == 1 and len(nothing.stderr.strip().splitlines()) == 1
    assert "none of skill 'sheets' made with its base version v3" in nothing.stderr
    assert "20 runs of other versions match (v1: 12, v2: 8): add --any-version" in nothing.stderr

    wide = _invoke(folder, "evolve", "sheets", "--model", model, "--any-version", "--json")
    assert wide.exit_code == 0, wide.output
    widened = json.loads(wide.stdout)
    assert widened["base_version"] == 3 and widened["trajectories"] == 20
    shown = json.loads(_invoke(folder, "runs", "show", widened["run_id"], "--json").stdout)
    assert shown["config"]["versions"] == {"v1": 12, "v2": 8}
    assert shown["config"]["evolution"]["any_version"] is True


def test_publish_review_holds_the_version_and_history_says_so(home: Path, server: FakeLLMServer) -> None:
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    result = _invoke(home, "evolve", "sheets", "--model", model, "--limit", "10", "--publish", "review")
    assert result.exit_code == 0, result.output
    assert "**Status:** staged (version 1 → 2)" in result.stdout and "## Held for review" in result.stdout
    assert "held for review: the run asked to stage every version (--publish review)" in result.stdout
    history = _invoke(home, "skills", "history", "sheets", "--format", "table").stdout
    assert "staged: held for review (1 reason)" in history and "* published: version 1" in history


def test_publish_never_records_the_version_without_holding_or_publishing_it(home: Path, server: FakeLLMServer) -> None:
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    report = json.loads(
        _invoke(home, "evolve", "sheets", "--model", model, "--limit", "10", "--publish", "never", "--json").stdout
    )
    assert (report["status"], report["published"], report["review"]) == ("succeeded", False, [])
    assert "staged" not in _invoke(home, "skills", "history", "sheets", "--format", "table").stdout
    assert "--publish [auto|review|never]" in _invoke(home, "evolve", "--help").stdout
    bad = _invoke(home, "evolve", "sheets", "--publish", "always")
    assert bad.exit_code == 2 and "Invalid value for '--publish'" in bad.stderr
