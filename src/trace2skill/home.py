"""Where trace2skill keeps its state: one folder, `~/.trace2skill` unless told otherwise.

Everything works on this embedded default with no server to start: the SQLite trace store,
the published skills, the LLM response cache and installed local models all live below it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput, storage_error

__all__ = ["ENV_VAR", "Home"]

ENV_VAR = "TRACE2SKILL_HOME"
EXPORT_KEY = "export-to"
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
    def config_path(self) -> Path:
        """`config.json`: defaults set with `trace2skill config set` (model, workers, budget, aliases)."""
        return self.root / "config.json"

    def read_config(self) -> dict[str, Any]:
        """The settings in `config.json`, {} when there is none; InvalidInput naming the file when it is broken."""
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise storage_error(e, self.config_path, _HOME_HINT) from None
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidInput(f"{self.config_path} is not valid JSON ({e}): fix or delete it") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{self.config_path} must hold a JSON object of settings: fix or delete it")
        return data

    def write_config(self, settings: dict[str, Any]) -> None:
        """Replace `config.json` atomically (a reader sees the old file or the new one)."""
        self.ensure()
        text = json.dumps(dict(sorted(settings.items())), indent=2, ensure_ascii=False) + "\n"
        temporary: str | None = None
        try:
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=self.root, prefix=".config-", suffix=".json", delete=False
            ) as f:
                temporary = f.name
                f.write(text)
            os.replace(temporary, self.config_path)
        except OSError as e:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise storage_error(e, self.config_path, _HOME_HINT) from None

    def export_dirs(self) -> list[Path]:
        """Client skills folders every publish also exports to: `export-to` in `config.json`, a list of
        folders that `trace2skill setup` adds to (e.g. ~/.claude/skills) and `setup --undo` removes from."""
        value = self.read_config().get(EXPORT_KEY, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise InvalidInput(f"{self.config_path}: {EXPORT_KEY!r} must be a list of folders; fix or remove it")
        return [Path(v).expanduser() for v in value]

    @property
    def redaction_path(self) -> Path:
        """Optional `redaction.yaml`: extra secret patterns, an allow-list, kinds to turn off."""
        return self.root / "redaction.yaml"
