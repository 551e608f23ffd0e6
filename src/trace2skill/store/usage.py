"""Skill usage: which files of which skill version an agent read, in which session, and which run it was for.

The paper's stated limitation is that nobody knows which parts of a skill an agent actually reads,
so a reference no run ever opens cannot be found. The MCP server records every read of a skill
file (a `skill://NAME/PATH` resource, or SKILL.md through `get_skill`) as one row here, and when a
trajectory is recorded in the same session, the session's reads not yet tied to a run are tied to
it (`tie`). A client that loads skills from its own folder (Claude Code) reads no resource; the files
of the folder its imported transcript shows it used come in tied to that run (`record_run_reads`).
Recording is one INSERT; reading the usage back is a few grouped queries.

    usage = UsageLog(db)
    usage.record_read("sheets", 2, "references/dates.md", session="s_01…", via="resource")
    usage.tie("s_01…", trajectory_id)           # the reads that run made
    usage.files("sheets", 2)                    # reads, sessions, last read, per path
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

import sqlite_utils
from pydantic import BaseModel, Field

from trace2skill.models import utcnow
from trace2skill.store.db import apply_migrations, connection_lock, is_read_only, write_transaction

__all__ = ["MIGRATIONS", "READS_TABLE", "FileUsage", "ReadVia", "SkillRead", "UsageLog", "UsageSummary"]

READS_TABLE = "skill_reads"
ReadVia = Literal["resource", "get_skill", "transcript"]

MIGRATIONS = sqlite_utils.Migrations("trace2skill.usage")


@MIGRATIONS(name="0001_skill_reads")
def _skill_reads(db: sqlite_utils.Database) -> None:
    db.execute(
        f"""CREATE TABLE {READS_TABLE} (
            id INTEGER PRIMARY KEY,
            session TEXT,
            skill TEXT NOT NULL,
            version INTEGER,
            path TEXT NOT NULL,
            via TEXT NOT NULL,
            trajectory_id TEXT,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(f"CREATE INDEX {READS_TABLE}_skill ON {READS_TABLE} (skill, version, path)")
    db.execute(f"CREATE INDEX {READS_TABLE}_untied ON {READS_TABLE} (session) WHERE trajectory_id IS NULL")
    db.execute(f"CREATE INDEX {READS_TABLE}_trajectory ON {READS_TABLE} (trajectory_id)")


class SkillRead(BaseModel):
    """One read of one skill file."""

    session: str | None = Field(
        description="The MCP session it was read in (the client's session id for a transcript); None when unknown"
    )
    skill: str
    version: int | None
    path: str
    via: str = Field(description="'resource' (skill://…), 'get_skill', or 'transcript' (an imported client session)")
    trajectory_id: str | None = Field(description="The run recorded later in the same session, once there is one")
    created_at: datetime


class FileUsage(BaseModel):
    """How often one file of a skill version was read."""

    path: str
    reads: int
    sessions: int
    last_read: datetime | None


class UsageSummary(BaseModel):
    """A skill version's usage: every file (read or not), and how many recorded runs read the skill."""

    skill: str
    version: int
    files: list[FileUsage]
    never_read: list[str] = Field(description="Files of the version no session ever read")
    reads: int
    sessions: int
    trajectories: int = Field(description="Recorded trajectories tied to at least one read of this version")


_READ_COLUMNS = "session, skill, version, path, via, trajectory_id, created_at"


def _read(row: tuple[Any, ...]) -> SkillRead:
    session, skill, version, path, via, trajectory_id, created_at = row
    return SkillRead(
        session=session,
        skill=skill,
        version=version,
        path=path,
        via=via,
        trajectory_id=trajectory_id,
        created_at=datetime.fromisoformat(created_at),
    )


class UsageLog:
    """The `skill_reads` table on the shared database (its own migrations, like the skill store's)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.available = True
        """False in a read-only home whose database predates this table: nothing to report, nothing recorded."""
        if is_read_only(db) and MIGRATIONS.pending(db):
            self.available = False
        else:
            apply_migrations(db, MIGRATIONS)

    # --- writing ----------------------------------------------------------------------------------

    def record_read(self, skill: str, version: int | None, path: str, *, session: str | None, via: ReadVia) -> None:
        """One read of `path` of `skill` version `version`: one INSERT."""
        with write_transaction(self.db) as conn:
            conn.execute(
                f"INSERT INTO {READS_TABLE} (session, skill, version, path, via, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (session, skill, version, path, via, utcnow().isoformat()),
            )

    def record_run_reads(
        self,
        trajectory_id: str,
        skill: str,
        version: int | None,
        paths: Iterable[str],
        *,
        session: str | None,
        at: datetime | None = None,
    ) -> int:
        """The files of `skill` one imported run used (its transcript shows them), tied to it; returns how many.

        They replace the run's earlier transcript reads of that skill, so importing a session again
        (it went on, or it gained its version) records each file once. `at`: when the run happened."""
        rows = [
            (session, skill, version, path, "transcript", trajectory_id, (at or utcnow()).isoformat())
            for path in dict.fromkeys(paths)
        ]
        with write_transaction(self.db) as conn:
            conn.execute(
                f"DELETE FROM {READS_TABLE} WHERE trajectory_id = ? AND skill = ? AND via = 'transcript'",
                (trajectory_id, skill),
            )
            conn.executemany(
                f"INSERT INTO {READS_TABLE} ({_READ_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def tie(self, session: str | None, trajectory_id: str) -> int:
        """Tie the session's reads that no run claimed yet to `trajectory_id`; returns how many were tied.

        A session that records several runs ties each run to the reads made since the previous one."""
        if session is None:
            return 0
        with write_transaction(self.db) as conn:
            cursor = conn.execute(
                f"UPDATE {READS_TABLE} SET trajectory_id = ? WHERE session = ? AND trajectory_id IS NULL",
                (trajectory_id, session),
            )
            return cursor.rowcount

    # --- reading ----------------------------------------------------------------------------------

    def untied_versions(self, session: str | None, skill: str) -> set[int | None]:
        """The versions of `skill` the session read that no run has claimed yet (what `tie` would tie)."""
        if session is None:
            return set()
        rows = self._fetch(
            f"SELECT DISTINCT version FROM {READS_TABLE} WHERE session = ? AND trajectory_id IS NULL AND skill = ?",
            [session, skill],
        )
        return {r[0] for r in rows}

    def _fetch(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        if not self.available:
            return []
        with connection_lock(self.db):
            return self.db.conn.execute(sql, list(params)).fetchall()

    def reads_for(self, skill: str, version: int | None = None, *, limit: int | None = None) -> list[SkillRead]:
        """The reads of a skill (of one version, or all), newest first."""
        sql = f"SELECT {_READ_COLUMNS} FROM {READS_TABLE} WHERE skill = ?"
        params: list[object] = [skill]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_read(r) for r in self._fetch(sql, params)]

    def reads_of_trajectory(self, trajectory_id: str) -> list[SkillRead]:
        """What one recorded run read, oldest first."""
        rows = self._fetch(
            f"SELECT {_READ_COLUMNS} FROM {READS_TABLE} WHERE trajectory_id = ? ORDER BY id",
            [trajectory_id],
        )
        return [_read(r) for r in rows]

    def has_reads(self, skill: str, version: int | None = None) -> bool:
        """Whether any read of the skill (of that version) was ever recorded."""
        sql = f"SELECT 1 FROM {READS_TABLE} WHERE skill = ?" + (" AND version = ?" if version is not None else "")
        return bool(self._fetch(sql + " LIMIT 1", [skill, *([version] if version is not None else [])]))

    def summary(self, skill: str, version: int, paths: Iterable[str]) -> UsageSummary:
        """Usage of every file in `paths` (the version's files), plus any other path that was read of it."""
        grouped = self._fetch(
            f"SELECT path, count(*), count(DISTINCT session), max(created_at) FROM {READS_TABLE} "
            "WHERE skill = ? AND version = ? GROUP BY path",
            [skill, version],
        )
        by_path = {
            str(r[0]): FileUsage(
                path=str(r[0]),
                reads=r[1],
                sessions=r[2],
                last_read=datetime.fromisoformat(str(r[3])) if r[3] else None,
            )
            for r in grouped
        }
        files = [by_path.pop(p, FileUsage(path=p, reads=0, sessions=0, last_read=None)) for p in paths]
        files += sorted(by_path.values(), key=lambda f: f.path)
        totals = self._fetch(
            f"SELECT count(*), count(DISTINCT session), count(DISTINCT trajectory_id) FROM {READS_TABLE} "
            "WHERE skill = ? AND version = ?",
            [skill, version],
        )
        reads, sessions, trajectories = totals[0] if totals else (0, 0, 0)
        return UsageSummary(
            skill=skill,
            version=version,
            files=files,
            never_read=[f.path for f in files if f.reads == 0],
            reads=reads,
            sessions=sessions,
            trajectories=trajectories,
        )

    def read_paths(self, skill: str, versions: Iterable[int] | None = None) -> set[str]:
        """Every path of the skill that was read at least once (in these versions, or any)."""
        sql = f"SELECT DISTINCT path FROM {READS_TABLE} WHERE skill = ?"
        params: list[object] = [skill]
        chosen = sorted(set(versions)) if versions is not None else None
        if chosen is not None:
            if not chosen:
                return set()
            sql += f" AND version IN ({', '.join('?' for _ in chosen)})"
            params += chosen
        return {str(r[0]) for r in self._fetch(sql, params)}
