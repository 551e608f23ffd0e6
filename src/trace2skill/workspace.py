"""One handle on everything in a home folder: the trace store and the skill store.

The CLI and the MCP server both open a Workspace and call the same library functions through it.
A home that cannot be written (a read-only mount, no write permission) opens read-only: listing,
showing and searching work, and a command that writes says the home is read-only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import NamedTuple

import sqlite_utils

from trace2skill.home import Home
from trace2skill.importers.redact import RedactionConfig, redact_trajectory
from trace2skill.models import Trajectory
from trace2skill.skills_store import SkillStore
from trace2skill.skills_store.served import served_version
from trace2skill.store import TraceStore, open_database
from trace2skill.store.usage import UsageLog, UsageSummary

__all__ = ["Recorded", "Workspace"]


class Recorded(NamedTuple):
    """One stored run: its id, how many values were redacted, and the run as stored (redacted, its id set)."""

    id: str
    redactions: int
    trajectory: Trajectory


log = logging.getLogger(__name__)


@dataclass
class Workspace:
    home: Home
    db: sqlite_utils.Database
    traces: TraceStore
    skills: SkillStore
    read_only: bool = False
    _redaction: RedactionConfig | None = field(default=None, repr=False)
    _usage: UsageLog | None = field(default=None, repr=False)

    @classmethod
    def open(cls, home: Home | None = None) -> Workspace:
        home = home or Home.resolve()
        read_only = home.root.is_dir() and not home.writable
        if not read_only:
            home.ensure()
        db = open_database(home.db_path, read_only=read_only)
        try:
            skills = SkillStore(db, home.skills_dir, export_dirs=home.export_dirs())
        except BaseException:
            db.close()
            raise
        return cls(home=home, db=db, traces=TraceStore(db), skills=skills, read_only=read_only)

    @property
    def redaction(self) -> RedactionConfig:
        """The home folder's redaction settings (defaults when there is no `redaction.yaml`)."""
        if self._redaction is None:
            self._redaction = RedactionConfig.load(self.home.redaction_path)
        return self._redaction

    @property
    def usage(self) -> UsageLog:
        """Which skill files were read, in which session, for which run (`trace2skill.store.usage`)."""
        if self._usage is None:
            self._usage = UsageLog(self.db)
        return self._usage

    def record(self, trajectory: Trajectory, *, redact: bool = True) -> Recorded:
        """Store one run with secrets redacted first; returns its id, how many values were redacted and the run
        as stored (so a caller need not read it back).

        Redaction happens before anything is stored, so the original secret never reaches the database.
        """
        redactions = 0
        if redact:
            trajectory, redactions = redact_trajectory(trajectory, self.redaction)
        ident = self.traces.add(trajectory)
        stored = trajectory if trajectory.id == ident else trajectory.model_copy(update={"id": ident})
        return Recorded(ident, redactions, stored)

    def skill_usage(self, name: str, version: int | None = None) -> UsageSummary:
        """Which files of a skill version (default: the one served) were read, how often, in how many sessions,
        and which never were (`store.usage`); what `skills usage` and the MCP tool `skill_usage` show."""
        v = served_version(self.skills, name, version).version
        return self.usage.summary(name, v.version, [f.path for f in self.skills.list_files(name, v.version)])

    def with_version_read(self, run: Trajectory, session: str | None) -> Trajectory:
        """`run`, with the version of its skill that its MCP session read (get_skill, skill://) when it names none.

        Only when the session read exactly one version of that skill since its last recorded run
        (`store.usage`); a failure to look is logged and never a reason to lose the run."""
        if run.skill is None or run.skill_version is not None or session is None:
            return run
        try:
            versions = self.usage.untied_versions(session, run.skill)
        except Exception as e:
            log.warning("could not look up the skill reads of session %s: %s", session, e)
            return run
        if len(versions) != 1 or None in versions:
            return run
        (version,) = versions
        metadata = {**run.metadata, "skill_version_from": f"v{version}: read over MCP in the session that recorded it"}
        return run.model_copy(update={"skill_version": version, "metadata": metadata})

    def close(self) -> None:
        self.db.close()
