"""The skill store's tables, applied with sqlite-utils migrations on the shared database.

Versions are immutable: triggers refuse UPDATE and DELETE on versions, their files and blobs, so
a bug elsewhere cannot rewrite history. Only the `skill_published` row (which version the
published folder holds) changes.
"""

from __future__ import annotations

import sqlite_utils

__all__ = ["MIGRATIONS"]

MIGRATIONS = sqlite_utils.Migrations("trace2skill.skills")


@MIGRATIONS()
def m001_skill_versions(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE skill_blobs (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            data BLOB NOT NULL
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE skill_versions (
            skill TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            digest TEXT NOT NULL,
            parent INTEGER,
            author TEXT NOT NULL,
            run_id TEXT,
            changelog TEXT NOT NULL DEFAULT '[]',
            provenance TEXT NOT NULL DEFAULT '[]',
            description TEXT,
            file_count INTEGER NOT NULL,
            total_bytes INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (skill, version)
        )"""
    )
    db.execute("CREATE INDEX skill_versions_digest ON skill_versions (skill, digest)")
    db.execute("CREATE INDEX skill_versions_run ON skill_versions (run_id)")
    db.execute(
        """CREATE TABLE skill_files (
            skill TEXT NOT NULL,
            version INTEGER NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL REFERENCES skill_blobs (sha256),
            size INTEGER NOT NULL,
            executable INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (skill, version, path),
            FOREIGN KEY (skill, version) REFERENCES skill_versions (skill, version)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX skill_files_blob ON skill_files (sha256)")
    db.execute(
        """CREATE TABLE skill_published (
            skill TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            digest TEXT NOT NULL,
            target TEXT,
            published_at TEXT NOT NULL
        )"""
    )
    for table in ("skill_versions", "skill_files", "skill_blobs"):
        for event in ("UPDATE", "DELETE"):
            db.execute(
                f"""CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, 'skill versions are immutable'); END"""
            )


@MIGRATIONS()
def m002_skill_scores(db: sqlite_utils.Database) -> None:
    """Measured pass rates of versions (the gate's and the bench's), so history shows why one was not published."""
    db.execute(
        """CREATE TABLE skill_scores (
            id INTEGER PRIMARY KEY,
            skill TEXT NOT NULL,
            version INTEGER NOT NULL,
            suite TEXT NOT NULL,
            split TEXT NOT NULL,
            model TEXT NOT NULL,
            passed INTEGER NOT NULL,
            total INTEGER NOT NULL,
            run_id TEXT,
            verdict TEXT,
            detail TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            FOREIGN KEY (skill, version) REFERENCES skill_versions (skill, version)
        )"""
    )
    db.execute("CREATE INDEX skill_scores_version ON skill_scores (skill, version, created_at)")


@MIGRATIONS()
def m003_skill_reviews(db: sqlite_utils.Database) -> None:
    """Versions held for a person's review (risky changes, or `--publish review`) and when one was released.

    A table of its own, since versions are immutable: the hold is decided after the version exists."""
    db.execute(
        """CREATE TABLE skill_reviews (
            skill TEXT NOT NULL,
            version INTEGER NOT NULL,
            reasons TEXT NOT NULL DEFAULT '[]',
            state TEXT NOT NULL CHECK (state IN ('staged', 'approved')),
            created_at TEXT NOT NULL,
            decided_at TEXT,
            PRIMARY KEY (skill, version),
            FOREIGN KEY (skill, version) REFERENCES skill_versions (skill, version)
        )"""
    )
