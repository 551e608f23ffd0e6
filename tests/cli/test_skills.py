from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

SKILL_MD = "---\nname: pdf\ndescription: Fill PDF forms. Use when the user asks to fill a PDF.\n---\n# PDF\n\nSteps.\n"


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def ok(home: Path, *args: str) -> Result:
    result = run(home, *args)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def as_json(home: Path, *args: str) -> Any:
    return json.loads(ok(home, *args, "--json").stdout)


def history(home: Path) -> list[tuple[int, str, int | None]]:
    return [(v["version"], v["author"], v["parent"]) for v in as_json(home, "skills", "history", "pdf")]


@pytest.fixture
def skill_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "work" / "pdf"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(SKILL_MD)
    (folder / "scripts" / "fill.py").write_text("print('fill')\n")
    (folder / "scripts" / "fill.py").chmod(0o755)
    return folder


def test_import_change_diff_rollback_each_show_in_history(home: Path, skill_dir: Path) -> None:
    out = ok(home, "skills", "import", str(skill_dir))
    assert out.stdout == f"Imported pdf as version 1, published to {home / 'skills' / 'pdf'}.\n"
    assert history(home) == [(1, "human", None)]

    assert ok(home, "skills", "import", str(skill_dir)).stdout == "pdf is unchanged: still version 1.\n"
    assert history(home) == [(1, "human", None)]

    (skill_dir / "SKILL.md").write_text(SKILL_MD + "\nCheck the field names first.\n")
    imported = as_json(home, "skills", "import", str(skill_dir), "-m", "check field names")
    assert imported["created"] is True and imported["version"]["version"] == 2
    assert imported["version"]["changelog"] == ["check field names"]
    assert history(home) == [(1, "human", None), (2, "human", 1)]

    diff = ok(home, "skills", "diff", "pdf", "1", "2").stdout
    assert diff.startswith("diff --git a/SKILL.md b/SKILL.md\n--- a/SKILL.md\n+++ b/SKILL.md\n")
    assert "+Check the field names first.\n" in diff

    assert ok(home, "skills", "rollback", "pdf", "1").stdout == (
        "Rolled pdf back to the content of version 1, published as version 3.\n"
    )
    assert history(home) == [(1, "human", None), (2, "human", 1), (3, "rollback", 2)]
    assert (home / "skills" / "pdf" / "SKILL.md").read_text() == SKILL_MD
    assert os.access(home / "skills" / "pdf" / "scripts" / "fill.py", os.X_OK)

    table = ok(home, "skills", "history", "pdf", "--format", "table").stdout
    assert "rollback" in table and "check field names" in table and "* published: version 3" in table
    assert ok(home, "skills", "diff", "pdf", "1", "3").stdout == ""


def test_list_and_show_describe_the_skill(home: Path, skill_dir: Path) -> None:
    ok(home, "skills", "import", str(skill_dir))
    [summary] = as_json(home, "skills", "list")
    assert (summary["name"], summary["head"], summary["published_version"]) == ("pdf", 1, 1)
    assert summary["description"] == "Fill PDF forms. Use when the user asks to fill a PDF."
    assert "pdf" in ok(home, "skills", "list").stdout

    shown = as_json(home, "skills", "show", "pdf")
    assert shown["skill_md"] == SKILL_MD
    assert [(f["path"], f["executable"]) for f in shown["files"]] == [("SKILL.md", False), ("scripts/fill.py", True)]
    text = ok(home, "skills", "show", "pdf", "--version", "1").stdout
    assert text.startswith("pdf version 1 (published)\n") and "sha256:" in text and text.endswith(SKILL_MD)
    assert ok(home, "skills", "show", "pdf", "--file", "scripts/fill.py").stdout == "print('fill')\n"


def test_show_provenance_lists_each_edit_with_its_trajectories(home: Path, skill_dir: Path) -> None:
    ok(home, "skills", "import", str(skill_dir))
    workspace = Workspace.open(Home(home))
    try:
        skills = workspace.skills
        evolved = skills.load("pdf").with_files({"references/fields.md": b"# Fields\n"})
        skills.commit(
            evolved,
            parent=1,
            author="evolve:run-1",
            changelog=["add fields reference"],
            provenance=[
                {
                    "edit_id": "m0.e1",
                    "file": "references/fields.md",
                    "op": "create",
                    "summary": "list the form fields",
                    "support": ["traj-a", "traj-b"],
                }
            ],
            run_id="run-1",
        )
    finally:
        workspace.close()
    out = ok(home, "skills", "show", "pdf", "--provenance").stdout
    assert "pdf version 2: 1 edit(s) by evolve:run-1" in out
    assert "m0.e1  create references/fields.md: list the form fields" in out
    assert "supported by 2 trajectories: traj-a, traj-b" in out
    shown = as_json(home, "skills", "show", "pdf", "--provenance")
    assert shown["version"]["provenance"][0]["support"] == ["traj-a", "traj-b"]
    first = ok(home, "skills", "show", "pdf", "--version", "1", "--provenance").stdout
    assert "has no provenance (author human)" in first


def test_export_writes_the_skill_into_a_client_folder(home: Path, skill_dir: Path, tmp_path: Path) -> None:
    ok(home, "skills", "import", str(skill_dir))
    dest = tmp_path / ".claude" / "skills"
    exported = as_json(home, "skills", "export", "pdf", str(dest))
    assert exported["path"] == str(dest / "pdf") and exported["version"] == 1
    assert (dest / "pdf" / "SKILL.md").read_text() == SKILL_MD
    (dest / "pdf" / "SKILL.md").write_text("changed by hand")
    refused = run(home, "skills", "export", "pdf", str(dest))
    assert refused.exit_code == 1 and "not a version of 'pdf'" in refused.stderr
    assert (dest / "pdf" / "SKILL.md").read_text() == "changed by hand"
    ok(home, "skills", "export", "pdf", str(dest), "--force")
    assert (dest / "pdf" / "SKILL.md").read_text() == SKILL_MD


def test_a_hand_edit_is_recorded_and_a_stale_publish_refused(home: Path, skill_dir: Path) -> None:
    ok(home, "skills", "import", str(skill_dir))
    (home / "skills" / "pdf" / "SKILL.md").write_text(SKILL_MD + "\nMy own note.\n")
    assert ok(home, "skills", "sync", "pdf").stdout == "Recorded the hand edit of pdf as version 2.\n"
    refused = run(home, "skills", "publish", "pdf", "--version", "1")
    assert refused.exit_code == 1
    assert "that edit is now version 2, which version 1 does not include" in refused.stderr
    assert "My own note." in (home / "skills" / "pdf" / "SKILL.md").read_text()
    assert as_json(home, "skills", "publish", "pdf", "--version", "1", "--force")["published_version"] == 1


def test_validate_reports_problems_and_exits_non_zero(home: Path, tmp_path: Path, skill_dir: Path) -> None:
    assert "0 errors, 0 warnings" in ok(home, "skills", "validate", str(skill_dir)).stdout
    bad = tmp_path / "bad-skill"
    bad.mkdir()
    (bad / "SKILL.md").write_text("---\nname: pdf\ndescription: ''\nmodel: opus\n---\n" + "x\n" * 501)
    result = run(home, "skills", "validate", str(bad), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and len(report["errors"]) == 3 and len(report["warnings"]) == 1
    assert result.stderr == f"Error: {bad}: 3 validation errors\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("skills", "show", "pdf", "--file", "../../etc/passwd"), "contains '..'"),
        (("skills", "show", "pdf", "--file", "/etc/passwd"), "is absolute"),
        (("skills", "show", "../pdf"), "would leave the skills folder"),
        (("skills", "export", "../../pdf", "dest"), "would leave the skills folder"),
        (("skills", "import", "SRC", "--name", "../evil"), "would leave the skills folder"),
        (("skills", "import", "SRC", "--name", "x" * 100), "100 characters; the limit is 64"),
        (("skills", "history", "nope"), "no skill named 'nope'"),
        (("skills", "diff", "pdf", "1", "9"), "has no version 9 (versions are 1 to 1)"),
    ],
)
def test_bad_names_and_paths_fail_with_one_clear_line(
    home: Path, skill_dir: Path, args: tuple[str, ...], message: str
) -> None:
    ok(home, "skills", "import", str(skill_dir))
    result = run(home, *(str(skill_dir) if a == "SRC" else a for a in args))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert history(home) == [(1, "human", None)]


def test_import_refuses_a_folder_with_a_symlink_pointing_outside(home: Path, skill_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "id_rsa").write_text("secret")
    (skill_dir / "key.txt").symlink_to(tmp_path / "id_rsa")
    result = run(home, "skills", "import", str(skill_dir))
    assert result.exit_code == 1
    assert "key.txt is a symbolic link" in result.stderr and "outside the skill folder" in result.stderr
    assert as_json(home, "skills", "list") == []


def test_import_refuses_a_dotenv_with_one_line_naming_it_and_allow_secrets_lets_it_through(
    home: Path, skill_dir: Path
) -> None:
    (skill_dir / ".env").write_text("DB_PASSWORD=Zq8vN2mK4pL7\n")
    refused = run(home, "skills", "import", str(skill_dir))
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert f"{skill_dir}: .env (an environment file)" in refused.stderr and "--allow-secrets" in refused.stderr
    assert as_json(home, "skills", "list") == []

    ok(home, "skills", "import", str(skill_dir), "--allow-secrets", "--no-publish")
    refused = run(home, "skills", "publish", "pdf")
    assert refused.exit_code == 1 and "version 1 of 'pdf': .env (an environment file)" in refused.stderr
    ok(home, "skills", "publish", "pdf", "--allow-secrets")
    assert (home / "skills" / "pdf" / ".env").is_file()


def test_a_held_version_is_marked_reviewed_and_released_only_by_skills_publish(home: Path, skill_dir: Path) -> None:
    ok(home, "skills", "import", str(skill_dir))
    ws = Workspace.open(Home(home))
    try:
        risky = ws.skills.load("pdf").with_files({"SKILL.md": (SKILL_MD + "\nRun `npx pdf-magic` first.\n").encode()})
        ws.skills.commit(risky, parent=1, author="evolve:r9", changelog=["x"], run_id="r9", hold=["SKILL.md:9: npm"])
    finally:
        ws.close()
    assert "pdf version 2 (staged: held for review (1 reason))" in ok(home, "skills", "show", "pdf").stdout
    shown = ok(home, "skills", "review", "pdf").stdout
    assert "built on version 1 by evolve:r9 (run r9)" in shown and "  - SKILL.md:9: npm" in shown
    assert "+Run `npx pdf-magic` first." in shown
    exported = run(home, "skills", "export", "pdf", str(home.parent / "client"), "--version", "2")
    assert exported.exit_code == 1 and "cannot be exported" in exported.stderr
    never = run(home, "skills", "review", "pdf", "--version", "1")
    assert never.exit_code == 1 and never.stderr.strip().endswith("version 1 of 'pdf' was never held for review")
    released = as_json(home, "skills", "publish", "pdf", "--version", "2")
    assert released["published_version"] == 2 and released["overrode"] == ["SKILL.md:9: npm"]
    entry = as_json(home, "skills", "history", "pdf")[1]
    assert entry["published"] is True and entry["review"]["state"] == "approved"
    assert as_json(home, "skills", "review", "pdf") == []


def test_an_invalid_skill_is_refused_in_one_line_and_force_imports_it_with_a_warning_per_rule(
    home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "work" / "notes"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("# Notes\n\nNo frontmatter.\n")
    refused = run(home, "skills", "import", str(folder))
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr == (
        f"Error: {folder} is not a valid skill (1 rule broken: SKILL.md must start with YAML frontmatter between "
        "'---' lines holding 'name' and 'description'); fix it (`trace2skill skills validate` lists the rules) or "
        "import it with --force\n"
    )
    assert as_json(home, "skills", "list") == []
    forced = ok(home, "skills", "import", str(folder), "--force")
    assert forced.stdout.startswith("Imported notes as version 1")
    assert forced.stderr == (
        "warning: imported with --force, but it breaks a rule: SKILL.md must start with YAML frontmatter between "
        "'---' lines holding 'name' and 'description'\n"
    )
