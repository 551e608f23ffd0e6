from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlite_utils

from trace2skill.skills_store import SkillStore
from trace2skill.store import open_database

SkillFiles = dict[str, str | bytes]


DESCRIPTION = "Fills PDF forms. Use when the user asks to fill a PDF."


def skill_md(name: str, description: str = DESCRIPTION, body: str = "") -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n\n# {name}\n\n{body or 'Follow the steps.'}\n"


def write_tree(root: Path, files: SkillFiles) -> Path:
    """Write `files` (path -> text or bytes) under `root`; a path ending in '*' is made executable."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        executable = rel.endswith("*")
        path = root / rel.rstrip("*")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        path.chmod(0o755 if executable else 0o644)
    return root


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(tmp_path / "trace2skill.db")
    yield database
    database.close()


@pytest.fixture
def skills_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "skills"


@pytest.fixture
def store(db: sqlite_utils.Database, skills_dir: Path) -> SkillStore:
    return SkillStore(db, skills_dir, fsync=False)


@pytest.fixture
def make_skill(tmp_path: Path) -> Callable[..., Path]:
    """make_skill('pdf', {'references/a.md': '...'}) writes src/pdf/ with a valid SKILL.md unless given."""

    def make(name: str, files: SkillFiles | None = None, *, folder: str | None = None) -> Path:
        content: SkillFiles = {"SKILL.md": skill_md(name)}
        content.update(files or {})
        return write_tree(tmp_path / "src" / (folder or name), content)

    return make
