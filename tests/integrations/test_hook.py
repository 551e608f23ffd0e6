"""Done-when 3: the installed Claude Code hook imports the transcript its payload points to."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from trace2skill.cli import cli
from trace2skill.errors import NotFound
from trace2skill.home import Home
from trace2skill.integrations.hook import main, run_import
from trace2skill.models import Skill, SkillFile
from trace2skill.workspace import Workspace

SESSION = "c64cc478-3430-40fe-8e9c-4ee9986e9754"


@pytest.fixture
def transcript(shared_data: Path, tmp_path: Path) -> Path:
    """A copy of a real transcript where Claude Code keeps them: projects/<project>/<session>.jsonl."""
    source = shared_data / "traces" / "claude_code" / "drmaciver_coverage-test-fix.jsonl"
    target = tmp_path / "claude" / "projects" / "-tmp-project" / f"{SESSION}.jsonl"
    target.parent.mkdir(parents=True)
    shutil.copy(source, target)
    return target


def stored(home: Path, ident: str) -> object | None:
    workspace = Workspace.open(Home(home))
    try:
        return workspace.traces.get(ident)
    except NotFound:
        return None
    finally:
        workspace.close()


def wait_for(home: Path, ident: str, deadline_s: float = 60.0) -> object:
    """Poll the store until the detached worker has written the run (or the deadline passes)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = stored(home, ident)
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{ident} never reached the store at {home}; log: {(home / 'logs' / 'hooks.log').read_text()}")


def test_the_installed_hook_imports_the_session_it_is_told_about(tmp_path: Path, transcript: Path) -> None:
    home = tmp_path / "t2s-home"
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "theme": "dark",
                "hooks": {
                    "Stop": [{"hooks": [{"type": "command", "command": "say done"}]}],
                    "PostToolUse": [{"matcher": "Edit", "hooks": [{"type": "command", "command": "ruff format"}]}],
                },
            },
            indent=2,
        )
        + "\n"
    )
    runner = CliRunner()
    for _ in range(2):  # installing twice leaves one entry
        result = runner.invoke(
            cli, ["--home", str(home), "hooks", "install", "claude-code", "--settings", str(settings)]
        )
        assert result.exit_code == 0, result.output
    data = json.loads(settings.read_text())
    assert data["theme"] == "dark" and data["hooks"]["PostToolUse"][0]["hooks"][0]["command"] == "ruff format"
    commands = [h["command"] for g in data["hooks"]["SessionEnd"] for h in g["hooks"]]
    assert len(commands) == 1
    assert next(h["command"] for g in data["hooks"]["Stop"] for h in g["hooks"]) == "say done"
    assert sum(1 for g in data["hooks"]["Stop"] for h in g["hooks"] if "trace2skill" in h["command"]) == 1

    payload = {
        "session_id": SESSION,
        "transcript_path": str(transcript),
        "cwd": "/tmp/project",
        "hook_event_name": "SessionEnd",
        "reason": "other",
    }
    done = subprocess.run(
        commands[0], shell=True, input=json.dumps(payload), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""

    trajectory = wait_for(home, f"claude-code:{SESSION}")
    assert trajectory.task.startswith("Add a function called multiply_numbers")  # type: ignore[attr-defined]
    assert len(trajectory.tool_calls) == 13  # type: ignore[attr-defined]
    assert "imported" in (home / "logs" / "hooks.log").read_text()


def test_stop_then_session_end_on_a_grown_transcript_keeps_one_updated_run(tmp_path: Path, transcript: Path) -> None:
    home = tmp_path / "home"
    full = transcript.read_text().splitlines(keepends=True)
    transcript.write_text("".join(full[:12]))
    payload = json.dumps({"session_id": SESSION, "transcript_path": str(transcript), "hook_event_name": "Stop"})

    def hook(text: str) -> int:
        old = sys.stdin
        sys.stdin = io.StringIO(text)
        try:
            return main(["claude-code", "--home", str(home), "--sync"])
        finally:
            sys.stdin = old

    assert hook(payload) == 0
    early = stored(home, f"claude-code:{SESSION}")
    transcript.write_text("".join(full))
    assert hook(payload.replace("Stop", "SessionEnd")) == 0
    late = stored(home, f"claude-code:{SESSION}")
    assert early is not None and late is not None
    assert len(late.messages) > len(early.messages)  # type: ignore[attr-defined]
    workspace = Workspace.open(Home(home))
    try:
        assert workspace.traces.count() == 1
    finally:
        workspace.close()


def test_subagent_transcripts_of_the_session_are_imported_with_it(
    tmp_path: Path, transcript: Path, shared_data: Path
) -> None:
    sub = transcript.parent / SESSION / "subagents"
    sub.mkdir(parents=True)
    shutil.copy(
        shared_data / "traces" / "claude_code" / "spotter_subagents" / "ae4a77f8_agent-aac57f5.jsonl",
        sub / "agent-aac57f5.jsonl",
    )
    home = tmp_path / "home"
    result = run_import(home, transcript, SESSION)
    assert result["added"] == 2 and result["errors"] == 0


def test_the_hook_names_the_stored_version_whose_skill_text_the_session_loaded(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "importers" / "fixtures" / "claude_code_branches.jsonl"
    target = tmp_path / "claude" / "projects" / "-work-calc" / "5e1f0c2a-0000-4000-8000-000000000001.jsonl"
    target.parent.mkdir(parents=True)
    shutil.copy(fixture, target)
    home = tmp_path / "home"
    ws = Workspace.open(Home(home))
    try:
        skill_md = b"---\nname: python-testing\ndescription: Test.\n---\n# Python testing\nRun pytest -x first.\n"
        skill = Skill(name="python-testing", files=(SkillFile(path="SKILL.md", data=skill_md),))
        ws.skills.commit(skill, parent=None, author="human", changelog=["import"])
    finally:
        ws.close()
    result = run_import(home, target, target.stem)
    runs = [stored(home, i) for i in result["ids"]]
    assert [getattr(t, "skill_version", None) for t in runs if getattr(t, "skill", None) == "python-testing"] == [1]
    assert result["skill_reads"] == {"python-testing": 1}  # its SKILL.md, loaded: a read of version 1
    ws = Workspace.open(Home(home))
    try:
        assert [(r.path, r.version, r.via) for r in ws.usage.reads_for("python-testing")] == [
            ("SKILL.md", 1, "transcript")
        ]
    finally:
        ws.close()


def test_a_payload_without_a_transcript_is_logged_and_the_hook_still_succeeds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "trace2skill.integrations.hook", "claude-code", "--home", str(home)],
        input=json.dumps({"conversation_id": "cursor-1", "hook_event_name": "stop", "transcript_path": None}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == ""
    assert "no transcript_path" in (home / "logs" / "hooks.log").read_text()
