"""One handle on everything in a home folder: the trace store and the skill store.

The CLI and the MCP server both open a Workspace and call the same library functions through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlite_utils

from trace2skill.home import Home
from trace2skill.importers.redact import RedactionConfig, redact_trajectory
from trace2skill.models import Trajectory
from trace2skill.skills_store import SkillStore
from trace2skill.store import TraceStore, open_database

__all__ = ["Workspace"]


@dataclass
class Workspace:
    home: Home
    db: sqlite_utils.Database
    traces: TraceStore
    skills: SkillStore
    _redaction: RedactionConfig | None = field(default=None, repr=False)

    @classmethod
    def open(cls, home: Home | None = None) -> Workspace:
        home = (home or Home.resolve()).ensure()
        db = open_database(home.db_path)
        return cls(home=home, db=db, traces=TraceStore(db), skills=SkillStore(db, home.skills_dir))

    @property
    def redaction(self) -> RedactionConfig:
        """The home folder's redaction settings (defaults when there is no `redaction.yaml`)."""
        if self._redaction is None:
            self._redaction = RedactionConfig.load(self.home.redaction_path)
        return self._redaction

    def record(self, trajectory: Trajectory, *, redact: bool = True) -> tuple[str, int]:
        """Store one run with secrets redacted first; returns its id and how many values were redacted.

        Redaction happens before anything is stored, so the original secret never reaches the database.
        """
        redactions = 0
        if redact:
            trajectory, redactions = redact_trajectory(trajectory, self.redaction)
        return self.traces.add(trajectory), redactions

    def close(self) -> None:
        self.db.close()
