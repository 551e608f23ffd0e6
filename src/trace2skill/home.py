"""Where trace2skill keeps its state: one folder, `~/.trace2skill` unless told otherwise.

Everything works on this embedded default with no server to start: the SQLite trace store,
the published skills, the LLM response cache and installed local models all live below it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV_VAR", "Home"]

ENV_VAR = "TRACE2SKILL_HOME"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        """`explicit`, else `$TRACE2SKILL_HOME` (an empty value counts as unset), else `~/.trace2skill`."""
        chosen = explicit or os.environ.get(ENV_VAR) or Path.home() / ".trace2skill"
        return cls(Path(chosen).expanduser().resolve())

    def ensure(self) -> Home:
        for folder in (self.root, self.skills_dir, self.cache_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def db_path(self) -> Path:
        return self.root / "trace2skill.db"

    @property
    def skills_dir(self) -> Path:
        """Published skills: one folder per skill, replaced atomically on publish."""
        return self.root / "skills"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def redaction_path(self) -> Path:
        """Optional `redaction.yaml`: extra secret patterns, an allow-list, kinds to turn off."""
        return self.root / "redaction.yaml"
