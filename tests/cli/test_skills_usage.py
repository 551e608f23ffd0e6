"""`trace2skill skills usage NAME`: reads per file, sessions, last read, files never read, runs that read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.models import Trajectory
from trace2skill.workspace import Workspace

SKILL_MD = (
    "---\nname: pdf\ndescription: Fill PDF forms. Use when the user asks to fill a PDF.\n---\n# PDF\n\n"
    "See [fields](references/fields.md) and [fonts](references/fonts.md).\n"
)


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


@pytest.fixture
def skill_home(home: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "pdf"
    (folder / "references").mkdir(parents=True)
    (folder / "SKILL.md").write_text(SKILL_MD)
    (folder / "references" / "fields.md").write_text("# Fields\n")
    (folder / "references" / "fonts.md").write_text("# Fonts\n")
    assert run(home, "skills", "import", str(folder)).exit_code == 0
    return home


def read(home: Path, *reads: tuple[str, str], tie: str | None = None) -> None:
    ws = Workspace.open(Home(home))
    try:
        for session, path in reads:
            ws.usage.record_read("pdf", 1, path, session=session, via="resource")
        if tie is not None:
            run_id = ws.traces.add(Trajectory.model_validate({"task": "fill", "messages": [], "skill": "pdf"}))
            ws.usage.tie(tie, run_id)
    finally:
        ws.close()


def test_usage_counts_reads_and_sessions_per_file_and_names_the_files_never_read(skill_home: Path) -> None:
    read(skill_home, ("s1", "SKILL.md"), ("s1", "references/fields.md"), ("s1", "SKILL.md"), tie="s1")
    read(skill_home, ("s2", "SKILL.md"))
    result = run(skill_home, "skills", "usage", "pdf")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("pdf version 1: 4 read(s) in 2 session(s)\n")
    assert "Never read: references/fonts.md\n" in out
    assert "Recorded trajectories that read this version: 1." in out
    assert "never" in out.split("references/fonts.md")[1]  # the table's last-read cell

    data = json.loads(run(skill_home, "skills", "usage", "pdf", "--json").stdout)
    files = {f["path"]: (f["reads"], f["sessions"]) for f in data["files"]}
    assert files == {"SKILL.md": (3, 2), "references/fields.md": (1, 1), "references/fonts.md": (0, 0)}
    assert data["never_read"] == ["references/fonts.md"]
    assert (data["version"], data["reads"], data["sessions"], data["trajectories"]) == (1, 4, 2, 1)
    assert data["files"][0]["last_read"] is not None and data["files"][2]["last_read"] is None


def test_usage_without_any_recorded_read_says_so_instead_of_calling_every_file_unread(skill_home: Path) -> None:
    result = run(skill_home, "skills", "usage", "pdf")
    assert result.exit_code == 0 and "No reads recorded yet" in result.stdout and "Never read" not in result.stdout


def test_usage_of_an_unknown_skill_or_version_is_one_error_line(skill_home: Path) -> None:
    missing = run(skill_home, "skills", "usage", "nope")
    version = run(skill_home, "skills", "usage", "pdf", "--version", "7")
    assert missing.exit_code == 1 and missing.stderr.strip().splitlines() == [
        "Error: no skill named 'nope' (see `trace2skill skills list`)"
    ]
    assert version.exit_code == 1 and "Error: skill 'pdf' has no version 7 (versions are 1 to 1)" in version.stderr
