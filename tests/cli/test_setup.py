"""`trace2skill setup` and `trace2skill doctor` at the command line (click's CliRunner), with the
clients' files in a fake user home and the state in a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

COMMAND = "/opt/t2s/bin/trace2skill"
CURSOR = '{\n  "mcpServers": {\n    "browser": {\n      "url": "http://127.0.0.1:9000/mcp"\n    }\n  }\n}\n'


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    (folder / ".cursor").mkdir(parents=True)
    (folder / ".cursor" / "mcp.json").write_text(CURSOR)
    monkeypatch.setenv("HOME", str(folder))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME", "TRACE2SKILL_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-cli-test")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return folder


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_setup_then_setup_again_says_already_set_up(user: Path, tmp_path: Path) -> None:
    home = tmp_path / "t2s"
    first = run(home, "setup", "cursor", "--command", COMMAND)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("cursor: set up")
    assert "added" in first.output and str(user / ".cursor" / "mcp.json") in first.output
    second = run(home, "setup", "cursor", "--command", COMMAND)
    assert second.exit_code == 0
    assert second.output.startswith("cursor: already set up; nothing changed")
    assert "added" not in second.output


def test_dry_run_prints_the_plan_and_writes_nothing(user: Path, tmp_path: Path) -> None:
    home = tmp_path / "t2s"
    result = run(home, "setup", "cursor", "--dry-run", "--command", COMMAND)
    assert result.exit_code == 0
    assert "dry run, nothing written" in result.output and "would add" in result.output
    assert (user / ".cursor" / "mcp.json").read_text() == CURSOR
    assert not home.exists()


def test_undo_restores_the_file_byte_for_byte(user: Path, tmp_path: Path) -> None:
    home = tmp_path / "t2s"
    run(home, "setup", "cursor", "--command", COMMAND)
    assert "trace2skill" in json.loads((user / ".cursor" / "mcp.json").read_text())["mcpServers"]
    dry = run(home, "setup", "cursor", "--undo", "--dry-run")
    assert "would restore" in dry.output
    assert "trace2skill" in (user / ".cursor" / "mcp.json").read_text()
    result = run(home, "setup", "cursor", "--undo")
    assert result.exit_code == 0 and result.output.startswith("cursor: undone")
    assert (user / ".cursor" / "mcp.json").read_text() == CURSOR
    again = run(home, "setup", "cursor", "--undo")
    assert "nothing to undo" in again.output


def test_setup_json_lists_each_step(user: Path, tmp_path: Path) -> None:
    result = run(tmp_path / "t2s", "setup", "codex", "--json", "--command", COMMAND)
    data = json.loads(result.output)
    assert data["client"] == "codex" and data["changed"] is True
    assert [(s["kind"], s["action"]) for s in data["steps"]] == [("mcp-server", "add"), ("skills-folder", "add")]
    assert data["steps"][0]["file"] == str(user / ".codex" / "config.toml")


def test_a_broken_client_file_is_one_error_line_and_exit_1(user: Path, tmp_path: Path) -> None:
    (user / ".cursor" / "mcp.json").write_text("{nope")
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "t2s"), "setup", "cursor", "--command", COMMAND])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: ") and "not valid JSON" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (user / ".cursor" / "mcp.json").read_text() == "{nope"


def test_an_unknown_client_is_a_usage_error(user: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "t2s"), "setup", "vscode"])
    assert result.exit_code == 2 and "claude-code" in result.output


def test_doctor_on_a_healthy_home_exits_0_with_one_line_per_check(user: Path, tmp_path: Path) -> None:
    home = tmp_path / "t2s"
    run(home, "setup", "cursor", "--command", "/bin/sh")
    Workspace.open(Home(home)).close()  # a home in use: its database exists
    result = run(home, "doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("ok") and "home" in line for line in lines)
    assert any(line.startswith("ok") and "integrity ok" in line for line in lines)
    assert any(line.startswith("ok") and "client cursor" in line for line in lines)
    assert "sk-ant-cli-test" not in result.output


def test_doctor_exits_1_when_a_check_fails_and_says_what_to_fix(user: Path, tmp_path: Path) -> None:
    home = tmp_path / "t2s"
    home.mkdir()
    (home / "trace2skill.db").write_bytes(b"not a database" * 100)
    result = run(home, "doctor", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False
    failed = [c for c in data["checks"] if c["status"] == "fail"]
    assert [c["check"] for c in failed] == ["database"] and failed[0]["fix"]
