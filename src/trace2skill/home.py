"""Where trace2skill keeps its state: one folder, `~/.trace2skill` unless told otherwise.

Everything works on this embedded default with no server to start: the SQLite trace store,
the published skills, the LLM response cache and installed local models all live below it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from trace2skill.errors import storage_error

__all__ = ["ENV_VAR", "Home"]

ENV_VAR = "TRACE2SKILL_HOME"
_HOME_HINT = " (the home folder: choose another with --home or $TRACE2SKILL_HOME)"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        """`explicit`, else `$TRACE2SKILL_HOME` (an empty value counts as unset), else `~/.trace2skill`."""
        chosen = explicit or os.environ.get(ENV_VAR) or Path.home() / ".trace2skill"
        return cls(Path(chosen).expanduser().resolve())

    def ensure(self) -> Home:
        """Create the missing folders; a StorageError naming the folder when the disk refuses."""
        for folder in (self.root, self.skills_dir, self.cache_dir):
            if folder.is_dir():
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise storage_error(e, folder, _HOME_HINT) from None
        return self

    @property
    def writable(self) -> bool:
        """Whether this process may write here: the folder, and the database when there is one.

        `os.access` also answers for a read-only mount (EROFS), not only for permissions."""
        if not os.access(self.root, os.W_OK):
            return False
        return not self.db_path.exists() or os.access(self.db_path, os.W_OK)

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
