"""One handle on everything in a home folder: the trace store and the skill store.

The CLI and the MCP server both open a Workspace and call the same library functions through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from trace2skill.home import Home
from trace2skill.skills_store import SkillStore
from trace2skill.store import TraceStore, open_database

__all__ = ["Workspace"]


@dataclass
class Workspace:
    home: Home
    db: sqlite_utils.Database
    traces: TraceStore
    skills: SkillStore

    @classmethod
    def open(cls, home: Home | None = None) -> Workspace:
        home = (home or Home.resolve()).ensure()
        db = open_database(home.db_path)
        return cls(home=home, db=db, traces=TraceStore(db), skills=SkillStore(db, home.skills_dir))

    def close(self) -> None:
        self.db.close()
