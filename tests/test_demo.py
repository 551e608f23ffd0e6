"""`trace2skill demo`: the library function and the installed command, end to end, offline.

Every run uses the real pipeline against the local protocol server (the simulated analyst fleet),
in a temporary home, with the provider environment cleared so that no test can spend money.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from tests.doubles.llmserver import FakeLLMServer, ServerRequest
from tests.doubles.simulated import server_handler

from trace2skill.demo import SKILL_NAME, DemoFleet, DemoResult, choose_model, load_trajectories, marker_for, run_demo
from trace2skill.home import Home
from trace2skill.workspace import Workspace

PROVIDER_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_MODEL", "ANTHROPIC_AUTH_TOKEN")
PLANTED_SECRET = "AKIAIOSFODNN7EXAMPLE"
LESSON_LINES = {
    "dates": "Parse dates into ISO form before comparing them",
    "units": "Check the unit of each column before adding or comparing figures.",
    "totals": "3. Recompute any total from the data rows before trusting a total row.",
    "headers": "Print the first rows and pick the header row explicitly.",
    "readback": "Read the output file back and check the written cells.",
}
KEY_PHRASE = {
    "dates": "Parse dates",
    "units": "Check the unit",
    "totals": "Recompute any total",
    "headers": "pick the header row",
    "readback": "Read the output file back",
}
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def no_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in PROVIDER_ENV:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoResult, str]]:
    """One library run shared by the assertions below (it takes a few seconds)."""
    saved = {k: os.environ.pop(k) for k in PROVIDER_ENV if k in os.environ}
    buffer = io.StringIO()
    try:
        result = run_demo(home=tmp_path_factory.mktemp("demo") / "home", console=Console(file=buffer, width=200))
    finally:
        os.environ.update(saved)
    yield result, buffer.getvalue()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV and k != "TRACE2SKILL_HOME"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def test_the_demo_publishes_a_new_version_whose_files_hold_the_merged_edits(demo: tuple[DemoResult, str]) -> None:
    result, _ = demo
    assert result.simulated and result.report.status == "succeeded"
    assert result.base_version == 1 and result.report.new_version == 2
    ws = Workspace.open(Home(result.home))
    try:
        before, after = ws.skills.load(SKILL_NAME, 1), ws.skills.load(SKILL_NAME, 2)
        for line in LESSON_LINES.values():
            assert line not in before.skill_md and line in after.skill_md
        assert after.file("references/dates.md") is not None and before.file("references/dates.md") is None
        assert ws.skills.published_version(SKILL_NAME) == 2
    finally:
        ws.close()
    published = result.published / "SKILL.md"
    assert published.is_file() and LESSON_LINES["units"] in published.read_text()
    assert (result.published / "references" / "dates.md").is_file()


def test_each_edit_is_supported_by_exactly_the_runs_that_teach_its_lesson(demo: tuple[DemoResult, str]) -> None:
    result, _ = demo
    ws = Workspace.open(Home(result.home))
    try:
        by_topic: dict[str, set[str]] = {topic: set() for topic in LESSON_LINES}
        broken = set()
        for tid in result.trajectory_ids:
            t = ws.traces.get(tid)
            for tag in t.tags:
                by_topic.get(tag, set()).add(tid)
            if "missing-input" in t.tags:
                broken.add(tid)
        provenance = ws.skills.head(SKILL_NAME).provenance
    finally:
        ws.close()
    assert len(provenance) == result.report.edits_applied == 6
    for entry in provenance:
        topic = "dates" if entry["file"] == "references/dates.md" else None
        topic = topic or next(t for t, phrase in KEY_PHRASE.items() if phrase in entry["summary"])
        assert set(entry["support"]) == by_topic[topic], entry
    supported = {tid for entry in provenance for tid in entry["support"]}
    assert broken and not broken & supported  # the evaluator gate dropped the broken task's lessons


def test_the_report_states_calls_tokens_and_cost_and_says_the_answers_are_simulated(
    demo: tuple[DemoResult, str],
) -> None:
    result, text = demo
    report = result.report
    assert report.calls > 0 and report.input_tokens > 0 and report.output_tokens > 0 and report.cost_usd > 0
    total = next(line for line in text.splitlines() if line.startswith("| **total** |"))
    assert f"| {report.calls} |" in total and f"{report.input_tokens:,}" in total
    assert "simulated" in text and "ANTHROPIC_API_KEY" in text and "--model" in text
    assert "supported by 8 trajectories" in text
    assert "+- Check the unit of each column" in text  # the diff
    assert str(result.published) in text
    for command in result.next_commands:
        assert command in text
    assert any("--provenance" in c for c in result.next_commands)
    assert any(c.startswith("claude mcp add") for c in result.next_commands)


def test_the_planted_secret_is_counted_and_never_reaches_the_home_folder(demo: tuple[DemoResult, str]) -> None:
    result, text = demo
    assert result.redactions == {"aws_access_key": 1} and len(result.redacted_ids) == 1
    assert "1 secret (aws_access_key × 1)" in text
    ws = Workspace.open(Home(result.home))
    try:
        stored = ws.traces.get(result.redacted_ids[0]).model_dump_json()
    finally:
        ws.close()
    assert "[REDACTED:aws_access_key]" in stored and PLANTED_SECRET not in stored
    for path in result.home.rglob("*"):
        if path.is_file():
            assert PLANTED_SECRET.encode() not in path.read_bytes(), path


def test_the_embedded_runs_are_realistic_public_trajectories() -> None:
    runs = load_trajectories()
    assert 30 <= len(runs) <= 50
    failures = [t for t in runs if t.outcome.status == "failure"]
    assert 0.3 < len(failures) / len(runs) < 0.7
    assert all(t.skill == SKILL_NAME and t.messages[0].role == "user" for t in runs)
    assert any(part.type == "tool_result" and part.is_error for t in runs for m in t.messages for part in m.content)
    assert sum(t.outcome.feedback is not None for t in failures) == len(failures)
    assert all(t.metadata.get("evaluator") == "exact" for t in runs if t.reference is not None)
    assert not any("[topic:" in t.model_dump_json() for t in runs)  # plain data: the markers live in DemoFleet


def test_the_demo_fleet_marks_only_requests_that_carry_an_embedded_run() -> None:
    runs = load_trajectories()
    fleet = DemoFleet(runs)
    dates = next(t for t in runs if "dates" in t.tags and t.outcome.status == "failure" and t.reference is not None)
    broken = next(t for t in runs if "missing-input" in t.tags)
    fixed = f"[topic:dates] [fix:{dates.reference}]"  # the answer the simulated analyst works out
    assert marker_for(dates) == fixed and marker_for(broken) == "[unfixable]"

    def request(content: object) -> ServerRequest:
        return ServerRequest(
            protocol="anthropic", path="/v1/messages", body={}, model="m", system="sys",
            messages=[{"role": "user", "content": content}], tools=[], tool_choice=None, schema=None,
            forced_tool=None, json_mode=False, stream=False, headers={}, arrived_at=0.0, index=0,
        )  # fmt: skip

    as_text = fleet.mark(request(f"Task: {dates.task}\nOutcome: failure"))
    assert as_text.texts[1].endswith(f"\n{fixed}")
    as_blocks = fleet.mark(request([{"type": "text", "text": f"Task: {broken.task}"}]))
    assert as_blocks.texts[1].endswith("\n[unfixable]")
    untouched = request("Task: something else entirely")
    assert fleet.mark(untouched) is untouched


def test_the_model_comes_from_the_flag_then_the_environment_else_the_demo_simulates() -> None:
    assert choose_model("openai:gpt-5-mini", {"ANTHROPIC_API_KEY": "k"}) == ("openai:gpt-5-mini", "--model")
    assert choose_model(None, {"ANTHROPIC_API_KEY": "k"})[0] == "anthropic:claude-sonnet-4-5"  # type: ignore[index]
    assert choose_model(None, {"OPENAI_API_KEY": "k"})[0] == "openai:gpt-5"  # type: ignore[index]
    assert choose_model(None, {"TRACE2SKILL_MODEL": "openai:x@http://127.0.0.1:1/v1"})[0].startswith("openai:x@")  # type: ignore[index]
    assert choose_model(None, {}) is None


def test_with_a_model_the_demo_sends_every_call_to_that_model(tmp_path: Path) -> None:
    with FakeLLMServer(server_handler) as server:
        buffer = io.StringIO()
        result = run_demo(
            home=tmp_path / "home",
            model=f"anthropic:claude-sonnet-4-5@{server.url}",
            console=Console(file=buffer, width=200),
        )
        assert not result.simulated and result.report.status == "succeeded"
        assert result.report.calls == server.count > 0
    text = buffer.getvalue()
    assert "simulated" not in text and "(--model); spending at most $2.00" in text


def test_the_command_runs_offline_and_writes_nothing_outside_its_home(tmp_path: Path) -> None:
    user, tmp, cwd = tmp_path / "user", tmp_path / "tmp", tmp_path / "cwd"
    for folder in (user, tmp, cwd):
        folder.mkdir()
    env = _clean_env(HOME=str(user), TMPDIR=str(tmp), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [str(BIN / "trace2skill"), "demo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    (home,) = tmp.iterdir()  # the new temporary home is the only thing in TMPDIR
    assert home.name.startswith("trace2skill-demo-") and str(home) in done.stdout
    assert not any(user.iterdir()) and not any(cwd.iterdir())
    assert "simulated" in done.stdout and "version 2 of spreadsheet-qa now lives in" in done.stdout
    assert "analyse" in done.stderr and "commit" in done.stderr  # the evolve command's progress bars
    shown = subprocess.run(
        [str(BIN / "trace2skill"), "--home", str(home), "skills", "show", SKILL_NAME, "--provenance"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0 and "Recompute any total" in shown.stdout


def test_the_command_refuses_a_home_that_is_not_empty_unless_told_to_keep_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    env = _clean_env()
    refused = subprocess.run(
        [str(BIN / "trace2skill"), "demo", "--home", str(home)], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1 and "is not empty" in refused.stderr and "--keep" in refused.stderr
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]
    kept = subprocess.run(
        [str(BIN / "trace2skill"), "--home", str(home), "demo", "--keep"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    assert (home / "notes.txt").read_text() == "mine" and (home / "trace2skill.db").is_file()


def test_the_package_data_globs_cover_every_embedded_file() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["trace2skill"]
    package = root / "src" / "trace2skill"
    covered = {p for g in globs for p in package.glob(g) if p.is_file()}
    data = {p for p in (package / "demo" / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert len(data) > 40 and data <= covered


def test_next_commands_name_the_command_as_it_can_be_typed_here(monkeypatch, tmp_path):
    """Off PATH (right after `make demo`) the demo prints the venv's path, so its suggestions run as shown."""
    import sys
    from pathlib import Path

    from trace2skill.demo.runner import _command_name

    venv_bin = Path(sys.executable).parent
    if not (venv_bin / "trace2skill").exists():
        pytest.skip("the trace2skill command is not installed beside this interpreter")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(venv_bin.parent.parent)
    assert _command_name() == str((venv_bin / "trace2skill").relative_to(venv_bin.parent.parent))
    monkeypatch.chdir(tmp_path)
    assert _command_name() == str(venv_bin / "trace2skill")
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")
    assert _command_name() == "trace2skill"
