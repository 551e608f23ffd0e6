from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput, UnsafePath
from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import check_skill_files, check_skill_name, safe_relpath


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("SKILL.md", "SKILL.md"),
        ("references/forms.md", "references/forms.md"),
        ("./scripts//fill.py", "scripts/fill.py"),
        ("assets/./logo.png", "assets/logo.png"),
        ("a/b/", "a/b"),
        ("notes..md", "notes..md"),
        ("références/é.md", "références/é.md"),
    ],
)
def test_safe_relpath_normalises_paths_that_stay_inside(given: str, normal: str) -> None:
    assert safe_relpath(given) == normal


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("../etc/passwd", "'..'"),
        ("references/../../x", "'..'"),
        ("a/..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("C:/Windows/win.ini", "drive letter"),
        ("c:evil", "drive letter"),
        ("..\\..\\x", "backslash"),
        ("references\\x.md", "backslash"),
        ("a\x00b", "NUL"),
        ("a\nb", "control character"),
        (".", "names no file"),
        ("a" * 301, "characters; the limit is 300"),
        ("x" * 256 + "/f", "256-byte name"),
        ("/".join(["d"] * 17), "17 folders deep"),
    ],
)
def test_safe_relpath_refuses_escapes_with_a_reason(given: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason.replace("(", r"\(").replace(".", r"\.")) as raised:
        safe_relpath(given)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("name", ["pdf", "pdf-forms", "a", "x1-2y", "a" * 64])
def test_check_skill_name_accepts_agent_skills_names(name: str) -> None:
    assert check_skill_name(name) == name


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("../evil", UnsafePath, "leave the skills folder"),
        ("a/b", UnsafePath, "leave the skills folder"),
        ("..", UnsafePath, "leave the skills folder"),
        ("a\x00b", UnsafePath, "NUL"),
        ("a" * 65, InvalidInput, "65 characters"),
        ("a" * 10_000, InvalidInput, "10000 characters"),
        ("PDF", InvalidInput, "not a valid Agent Skills name"),
        ("-pdf", InvalidInput, "not a valid Agent Skills name"),
        ("pdf--forms", InvalidInput, "not a valid Agent Skills name"),
        ("", InvalidInput, "not a valid Agent Skills name"),
    ],
)
def test_check_skill_name_refuses_unsafe_or_invalid_names(name: str, error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        check_skill_name(name)


def _skill(*paths: str) -> Skill:
    return Skill(name="pdf", files=tuple(SkillFile(path=p, data=b"x") for p in paths))


def test_check_skill_files_refuses_a_path_not_in_normal_form() -> None:
    with pytest.raises(UnsafePath, match=r"not in normal form; use 'a/b.md'"):
        check_skill_files(_skill("SKILL.md", "./a/b.md"))


def test_check_skill_files_refuses_a_file_that_is_also_a_folder() -> None:
    with pytest.raises(InvalidInput, match=r"'references' is both a file and the folder of 'references/a.md'"):
        check_skill_files(_skill("SKILL.md", "references", "references/a.md"))


def test_check_skill_files_refuses_duplicates() -> None:
    with pytest.raises(InvalidInput, match=r"lists 'SKILL.md' twice"):
        check_skill_files(_skill("SKILL.md", "SKILL.md"))
