from __future__ import annotations

import sqlite3
from pathlib import Path

from trace2skill.home import Home
from trace2skill.models import parse_trajectory
from trace2skill.workspace import Workspace

SECRET = "sk-ant-api03-" + "Q" * 40


def _trajectory(text: str):
    return parse_trajectory({"task": "deploy", "messages": [{"role": "user", "content": text}]})


def test_record_redacts_before_the_secret_reaches_the_database(tmp_path: Path):
    ws = Workspace.open(Home(tmp_path / "h"))
    ident, redactions, returned = ws.record(_trajectory(f"use key {SECRET} please"))
    ws.close()
    assert redactions == 1
    raw = sqlite3.connect(tmp_path / "h" / "trace2skill.db").iterdump()
    assert not any(SECRET in line for line in raw)
    ws = Workspace.open(Home(tmp_path / "h"))
    stored = ws.traces.get(ident)
    assert SECRET not in stored.messages[0].text
    assert "REDACTED" in stored.messages[0].text
    ws.close()
    # what record returns is the run as stored: the caller need not read it back
    assert returned.id == ident and returned.messages == stored.messages
    assert returned.metadata["redactions"] == stored.metadata["redactions"] == {"anthropic_key": 1}


def test_record_without_redaction_keeps_the_text(tmp_path: Path):
    ws = Workspace.open(Home(tmp_path / "h"))
    ident, redactions, _ = ws.record(_trajectory(f"use key {SECRET}"), redact=False)
    assert redactions == 0
    assert SECRET in ws.traces.get(ident).messages[0].text
    ws.close()


def test_home_redaction_file_adds_patterns(tmp_path: Path):
    home = Home(tmp_path / "h").ensure()
    home.redaction_path.write_text("patterns:\n  ticket: 'TICKET-[0-9]{4}'\n", encoding="utf-8")
    ws = Workspace.open(home)
    ident, redactions, _ = ws.record(_trajectory("see TICKET-1234"))
    assert redactions == 1
    assert "TICKET-1234" not in ws.traces.get(ident).messages[0].text
    ws.close()
