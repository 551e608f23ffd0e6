"""`trace2skill skills delete NAME`: every version, the published folder, after confirmation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.cli import traces as traces_cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

from .test_skills import SKILL_MD


def run(home: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin, catch_exceptions=False)


def ok(home: Path, *args: str, stdin: str | None = None) -> Result:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def error_line(home: Path, *args: str) -> str:
    result = run(home, *args)
    assert result.exit_code != 0 and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    return line


def make_skill(tmp_path: Path, name: str, extra: str = "") -> Path:
    folder = tmp_path / "work" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(SKILL_MD.replace("name: pdf", f"name: {name}") + extra)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Skill `pdf` with two versions and skill `forms` sharing a file's content with it; both published."""
    root = tmp_path / "home"
    folder = make_skill(tmp_path, "pdf")
    (folder / "notes.md").write_text("shared notes\n")
    ok(root, "skills", "import", str(folder))
    ok(root, "skills", "import", str(make_skill(tmp_path, "pdf", "\nMore steps.\n")))
    other = make_skill(tmp_path, "forms")
    (other / "notes.md").write_text("shared notes\n")
    ok(root, "skills", "import", str(other))
    return root


def names(home: Path) -> list[str]:
    return [row["name"] for row in json.loads(ok(home, "skills", "list", "--json").stdout)]


def test_delete_removes_every_version_and_the_published_folder(home: Path) -> None:
    assert (home / "skills" / "pdf" / "SKILL.md").exists()
    result = ok(home, "skills", "delete", "pdf", "--yes")
    assert result.stdout == "Deleted skill pdf (2 versions).\n"
    assert names(home) == ["forms"]
    assert not (home / "skills" / "pdf").exists() and not (home / "skills" / ".versions" / "pdf").exists()
    assert error_line(home, "skills", "history", "pdf").startswith("Error: no skill named 'pdf'")
    # the other skill keeps its files, including content it shared with the deleted one
    assert (home / "skills" / "forms" / "notes.md").read_text() == "shared notes\n"
    workspace = Workspace.open(Home(home))
    try:
        assert workspace.skills.read_file("forms", "notes.md") == b"shared notes\n"  # its stored copy too
        assert workspace.db.execute("SELECT count(*) FROM skill_blobs").fetchone()[0] == 2  # pdf's own ones went
    finally:
        workspace.close()


def test_a_deleted_name_can_be_imported_again_from_version_1(home: Path, tmp_path: Path) -> None:
    ok(home, "skills", "delete", "pdf", "--yes")
    again = json.loads(ok(home, "skills", "import", str(make_skill(tmp_path, "pdf")), "--json").stdout)
    assert again["version"]["version"] == 1 and again["created"] is True


def test_delete_asks_on_a_terminal_and_refuses_without_yes_elsewhere(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = error_line(home, "skills", "delete", "pdf")
    assert line.startswith("Error: Delete skill 'pdf' with its 2 versions") and line.endswith("add --yes")
    monkeypatch.setattr(traces_cli, "stdin_is_terminal", lambda: True)
    refused = run(home, "skills", "delete", "pdf", stdin="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.stderr
    assert names(home) == ["forms", "pdf"]
    out = json.loads(ok(home, "skills", "delete", "pdf", "--json", stdin="y\n").stdout)
    assert out == {"name": "pdf", "versions": 2, "deleted": True}


def test_delete_is_refused_while_an_evolution_of_the_skill_runs(home: Path) -> None:
    workspace = Workspace.open(Home(home))
    try:
        workspace.traces.create_run("r_running", "pdf", {})
    finally:
        workspace.close()
    line = error_line(home, "skills", "delete", "pdf", "--yes")
    assert (
        line == "Error: skill 'pdf' has an evolution running (r_running): wait for it to end, or stop it, then delete"
    )
    assert names(home) == ["forms", "pdf"]


def test_deleting_an_unknown_skill_is_one_line(home: Path) -> None:
    assert error_line(home, "skills", "delete", "nope", "--yes").startswith("Error: no skill named 'nope'")
