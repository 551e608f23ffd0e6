"""The usage log's reads from imported runs: tied to the run, one row per file, replaced when the run comes again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trace2skill.home import Home
from trace2skill.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(Home(tmp_path / "home"))
    yield workspace
    workspace.close()


def test_a_runs_files_are_recorded_once_each_and_tied_to_it_at_the_time_it_ran(ws: Workspace) -> None:
    ran = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    n = ws.usage.record_run_reads("t1", "xlsx", 2, ["SKILL.md", "scripts/a.py", "SKILL.md"], session="c1", at=ran)
    assert n == 2
    reads = ws.usage.reads_of_trajectory("t1")
    assert [(r.path, r.version, r.via, r.session, r.created_at) for r in reads] == [
        ("SKILL.md", 2, "transcript", "c1", ran),
        ("scripts/a.py", 2, "transcript", "c1", ran),
    ]


def test_recording_a_run_again_replaces_its_transcript_reads_and_nothing_else(ws: Workspace) -> None:
    ws.usage.record_read("xlsx", 2, "references/b.md", session="mcp-1", via="resource")
    ws.usage.tie("mcp-1", "t1")  # a read over MCP tied to the same run stays
    ws.usage.record_run_reads("t1", "xlsx", None, ["SKILL.md", "scripts/a.py"], session="c1")
    ws.usage.record_run_reads("t1", "other", None, ["SKILL.md"], session="c1")
    ws.usage.record_run_reads("t1", "xlsx", 2, ["SKILL.md"], session="c1")  # imported again, now versioned
    reads = sorted((r.skill, r.path, r.version, r.via) for r in ws.usage.reads_of_trajectory("t1"))
    assert reads == [
        ("other", "SKILL.md", None, "transcript"),
        ("xlsx", "SKILL.md", 2, "transcript"),
        ("xlsx", "references/b.md", 2, "resource"),
    ]
