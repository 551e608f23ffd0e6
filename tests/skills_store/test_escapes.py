"""Names and paths that try to leave their folder are refused with a clear error wherever they enter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trace2skill.errors import Conflict, InvalidInput, UnsafePath
from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import SkillStore

from .conftest import skill_md

BAD_NAMES = [
    ("../evil", UnsafePath, "would leave the skills folder"),
    ("a/b", UnsafePath, "would leave the skills folder"),
    ("..", UnsafePath, "would leave the skills folder"),
    ("evil\x00", UnsafePath, "NUL byte"),
    ("x" * 300, InvalidInput, "300 characters; the limit is 64"),
]
LONG_PATH = "a" * 100 + "/" + "b" * 100 + "/" + "c" * 110
BAD_PATHS = [
    ("../outside.md", "contains '..'"),
    ("references/../../outside.md", "contains '..'"),
    ("/etc/passwd", "is absolute"),
    ("C:/evil.md", "drive letter"),
    ("..\\outside.md", "backslash"),
    ("a\x00.md", "NUL byte"),
    (LONG_PATH, "312 characters; the limit is 300"),
]


def _nothing_escaped(tmp_path: Path) -> None:
    leaked = [p for p in tmp_path.rglob("*") if p.name in ("outside.md", "evil", "passwd", "evil.md")]
    assert leaked == []


# --- at import ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "error", "reason"), BAD_NAMES)
def test_import_refuses_an_escaping_name(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path, name: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        store.import_dir(make_skill("pdf"), name=name)
    assert store.list() == []
    _nothing_escaped(tmp_path)


def test_import_refuses_an_escaping_name_in_skill_md(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", {"SKILL.md": skill_md("../../evil")})
    with pytest.raises(UnsafePath, match=r"would leave the skills folder.*; pass --name"):
        store.import_dir(folder)


@pytest.mark.parametrize(
    ("target", "where"),
    [("/etc/passwd", "outside"), ("../../outside.md", "outside"), ("SKILL.md", "inside")],
)
def test_import_refuses_symlinks(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path, target: str, where: str
) -> None:
    folder = make_skill("pdf", {"references/x.md": "x"})
    (folder / "references/link.md").symlink_to(target)
    with pytest.raises(UnsafePath, match=f"references/link.md is a symbolic link .*{where} the skill folder"):
        store.import_dir(folder)
    assert store.list() == []


def test_import_refuses_a_symlinked_folder_pointing_outside(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / "home-dir").mkdir()
    folder = make_skill("pdf")
    (folder / "scripts").symlink_to(tmp_path / "home-dir", target_is_directory=True)
    with pytest.raises(UnsafePath, match="scripts is a symbolic link"):
        store.import_dir(folder)


def test_import_refuses_an_over_long_path(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", {LONG_PATH: "deep"})
    with pytest.raises(UnsafePath, match="312 characters; the limit is 300"):
        store.import_dir(folder)


def test_import_refuses_a_folder_path_with_a_nul_byte(store: SkillStore) -> None:
    with pytest.raises(UnsafePath, match="NUL byte"):
        store.import_dir("skills/pdf\x00/../../etc")


# --- at read --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "reason"), BAD_PATHS)
def test_reading_a_file_refuses_an_escaping_path(
    store: SkillStore, make_skill: Callable[..., Path], path: str, reason: str
) -> None:
    store.import_dir(make_skill("pdf"))
    with pytest.raises(UnsafePath, match=reason.replace("\\", "\\\\").replace("(", r"\(")):
        store.read_file("pdf", path)


@pytest.mark.parametrize(("name", "error", "reason"), BAD_NAMES)
def test_reading_refuses_an_escaping_skill_name(
    store: SkillStore, name: str, error: type[Exception], reason: str
) -> None:
    for read in (store.head, store.history, store.load, lambda n: store.read_file(n, "SKILL.md")):
        with pytest.raises(error, match=reason):
            read(name)


# --- at publish and export ------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "reason"), BAD_PATHS)
def test_committing_a_skill_with_an_escaping_path_writes_nothing(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path, path: str, reason: str
) -> None:
    store.import_dir(make_skill("pdf"))
    evil = (*store.load("pdf").files, SkillFile(path=path, data=b"pwned"))
    with pytest.raises(UnsafePath, match=reason.replace("\\", "\\\\").replace("(", r"\(")):
        store.commit(Skill(name="pdf", files=evil), parent=1, author="evolve:r", changelog=[])
    assert store.head("pdf").version == 1
    _nothing_escaped(tmp_path)


@pytest.mark.parametrize(("name", "error", "reason"), BAD_NAMES)
def test_publish_and_export_refuse_an_escaping_skill_name(
    store: SkillStore, tmp_path: Path, name: str, error: type[Exception], reason: str
) -> None:
    with pytest.raises(error, match=reason):
        store.publish(name)
    with pytest.raises(error, match=reason):
        store.export(name, tmp_path / "dest")
    with pytest.raises(error, match=reason):
        store.commit(
            Skill(name=name, files=(SkillFile(path="SKILL.md", data=b"x"),)), parent=None, author="a", changelog=[]
        )
    _nothing_escaped(tmp_path)
    assert not (tmp_path / "dest").exists()


def test_publish_refuses_to_follow_a_symlink_planted_in_the_published_folder(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    store.import_dir(make_skill("pdf"))
    (tmp_path / "outside.txt").write_text("private")
    (store.skills_dir / "pdf/references").mkdir()
    (store.skills_dir / "pdf/references/x.md").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(UnsafePath, match=r"references/x.md is a symbolic link .*outside the skill folder"):
        store.sync_published("pdf")
    with pytest.raises(Conflict, match=r"cannot be recorded .*symbolic link"):
        store.publish("pdf")
    assert (tmp_path / "outside.txt").read_text() == "private"


def test_export_refuses_to_replace_a_folder_holding_a_symlink_unless_forced(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    store.import_dir(make_skill("pdf"))
    dest = tmp_path / "dest"
    store.export("pdf", dest)
    (tmp_path / "outside.txt").write_text("private")
    (dest / "pdf/x.md").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(Conflict, match=r"not a readable skill folder .*symbolic link"):
        store.export("pdf", dest)
    store.export("pdf", dest, force=True)
    assert not (dest / "pdf/x.md").exists()
    assert (tmp_path / "outside.txt").read_text() == "private"
