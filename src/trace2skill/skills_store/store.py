"""The versioned skill store: immutable, content-addressed versions in SQLite, published to disk.

Each version is numbered 1, 2, 3... per skill (what users type) and carries the content digest
(what clients cache on), its parent, its author ('human', 'evolve:<run id>', 'rollback',
'hand-edit'), a changelog and per-edit provenance. File contents live once in `skill_blobs`, keyed
by sha256, however many versions share them.

Publishing rule: the published folder is never overwritten silently. Before anything is
published, the folder is read back; if its digest differs from what was last published (edited by
hand), it is recorded as a new version (author 'hand-edit') first. A version is then published
only when it descends from the published one (its parent chain reaches it), as every import,
rollback and evolve started from the head does; otherwise `Conflict` says which version holds the
hand edit and how to proceed, unless the caller passes `force`. Nothing is lost either way: the
hand edit is a version.

Secrets rule: a skill is shared, so a version holding a secrets file (`.env`, a private key, a key
store) or a text file in which `trace2skill.secrets` finds a credential is refused, with the files
named, wherever content enters the store or leaves it: import, commit, a hand edit found in the
published folder, publish, rollback and export. `allow_secrets=True` (`--allow-secrets`) lets it
through on purpose.

Review rule: a version can be recorded *held* (staged) with the reasons it needs a person (an
evolution's risky changes, `skills_store.review`). A held version is never published, rolled back
to or exported until a person releases it with `publish(..., reviewed=True)` (`trace2skill skills
publish NAME --version V`), which records it as approved.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trace2skill.errors import Conflict, InvalidInput, NotFound, Trace2SkillError
from trace2skill.models import Skill, SkillFile, describe_validation_error, utcnow
from trace2skill.secrets import describe_secret_files, find_secret_files
from trace2skill.skills_store.diff import diff_skills
from trace2skill.skills_store.frontmatter import read_frontmatter
from trace2skill.skills_store.paths import check_skill_files, check_skill_name, safe_relpath
from trace2skill.skills_store.publish import VERSIONS_DIR, file_lock, install_dir, publish_symlinked, remove_path
from trace2skill.skills_store.reader import read_skill_dir
from trace2skill.skills_store.schema import MIGRATIONS
from trace2skill.skills_store.validation import validate_skill
from trace2skill.store import apply_migrations, connection_lock, write_transaction

__all__ = [
    "ProvenanceEntry",
    "SkillFileInfo",
    "SkillReview",
    "SkillScore",
    "SkillStore",
    "SkillSummary",
    "SkillVersion",
]

_log = logging.getLogger(__name__)

MAX_AUTHOR_CHARS = 200
MAX_CHANGELOG_ENTRIES = 500
MAX_CHANGELOG_CHARS = 4000
MAX_PROVENANCE_BYTES = 4 * 1024 * 1024
MAX_DESCRIPTION_STORED = 2000
MAX_REASONS = 2000
MAX_REASON_CHARS = 1000


class ProvenanceEntry(BaseModel):
    """Why one edit of a version exists: which edit, where, and the trajectories that support it."""

    model_config = ConfigDict(extra="allow")

    edit_id: str | None = Field(default=None, max_length=200)
    file: str | None = Field(default=None, max_length=300)
    op: str | None = Field(default=None, max_length=64)
    summary: str = Field(default="", max_length=4000)
    support: list[str] = Field(default_factory=list)


class SkillVersion(BaseModel):
    """One immutable version of a skill (its metadata; `SkillStore.load` gives the files)."""

    name: str
    version: int
    digest: str
    parent: int | None = None
    author: str
    run_id: str | None = None
    changelog: list[str] = Field(default_factory=list)
    provenance: list[dict[str, Any]] = Field(default_factory=list)
    description: str | None = None
    file_count: int
    total_bytes: int
    created_at: datetime


class SkillScore(BaseModel):
    """A version's measured pass rate on one split of a suite with one model (from the gate or the bench)."""

    name: str
    version: int
    suite: str
    split: str
    model: str
    passed: int
    total: int
    run_id: str | None = None
    verdict: str | None = Field(default=None, description="'published', 'rejected', 'baseline' or None")
    detail: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


class SkillSummary(BaseModel):
    """One line of `skills list`: a skill's head version and what is published."""

    name: str
    head: int
    digest: str
    versions: int
    description: str | None = None
    updated_at: datetime
    published_version: int | None = None


class SkillReview(BaseModel):
    """Why a version is held for a person's review, and whether a person has released it."""

    name: str
    version: int
    reasons: list[str] = Field(default_factory=list)
    state: Literal["staged", "approved"]
    created_at: datetime
    decided_at: datetime | None = None

    @property
    def held(self) -> bool:
        return self.state == "staged"

    def summary(self) -> str:
        """`staged: held for review (2 reasons)` or `approved: published by a person over 2 reasons`."""
        n = len(self.reasons)
        count = f"{n} reason{'s' if n != 1 else ''}"
        return f"staged: held for review ({count})" if self.held else f"approved: published by a person over {count}"


class SkillFileInfo(BaseModel):
    """A file of a version without its content (SEP-2640 lists these with `sha256:` digests)."""

    path: str
    sha256: str
    size: int
    executable: bool


def _description(skill: Skill) -> str | None:
    f = skill.file("SKILL.md")
    if f is None:
        return None
    try:
        value = read_frontmatter(f.data.decode("utf-8")).data.get("description")
    except (UnicodeDecodeError, InvalidInput):
        return None
    return value.strip()[:MAX_DESCRIPTION_STORED] if isinstance(value, str) else None


def _check_author(author: str) -> str:
    if not isinstance(author, str) or not author.strip() or len(author) > MAX_AUTHOR_CHARS:
        raise InvalidInput(f"author must be 1-{MAX_AUTHOR_CHARS} characters, e.g. 'human' or 'evolve:<run id>'")
    if any(ord(c) < 32 for c in author):
        raise InvalidInput("author contains a control character")
    return author


def _check_changelog(changelog: Sequence[str] | None) -> list[str]:
    entries = list(changelog or [])
    if len(entries) > MAX_CHANGELOG_ENTRIES:
        raise InvalidInput(f"changelog has {len(entries)} entries; the limit is {MAX_CHANGELOG_ENTRIES}")
    for entry in entries:
        if not isinstance(entry, str):
            raise InvalidInput(f"changelog entries must be strings, got {type(entry).__name__}")
        if len(entry) > MAX_CHANGELOG_CHARS:
            raise InvalidInput(f"a changelog entry is {len(entry):,} characters; the limit is {MAX_CHANGELOG_CHARS:,}")
    return entries


def _check_provenance(provenance: Sequence[dict[str, Any] | ProvenanceEntry] | None) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(provenance or []):
        try:
            entry = item if isinstance(item, ProvenanceEntry) else ProvenanceEntry.model_validate(item)
        except ValidationError as e:
            raise InvalidInput(f"provenance[{i}]: {describe_validation_error(e)}") from None
        out.append(entry.model_dump(mode="json"))
    size = len(json.dumps(out))
    if size > MAX_PROVENANCE_BYTES:
        raise InvalidInput(f"provenance is {size:,} bytes as JSON; the limit is {MAX_PROVENANCE_BYTES:,}")
    return out


def _check_reasons(reasons: Sequence[str]) -> list[str]:
    out = [r for r in dict.fromkeys(reasons) if isinstance(r, str) and r.strip()]
    if len(out) > MAX_REASONS:
        out = [*out[: MAX_REASONS - 1], f"… and {len(out) - MAX_REASONS + 1} more reasons"]
    return [r if len(r) <= MAX_REASON_CHARS else r[: MAX_REASON_CHARS - 1] + "…" for r in out]


def _held_message(review: SkillReview, action: str) -> str:
    first = review.reasons[0] if review.reasons else "no reason recorded"
    n = len(review.reasons)
    return (
        f"version {review.version} of {review.name!r} is held for review ({n} reason{'s' if n != 1 else ''}, "
        f"first: {first}), so it cannot be {action}: read it with `trace2skill skills review {review.name}`, "
        f"then publish it with `trace2skill skills publish {review.name} --version {review.version}`"
    )


def _files_summary(old: Skill | None, new: Skill) -> str:
    before = {f.path: f.sha256 for f in old.files} if old else {}
    after = {f.path: f.sha256 for f in new.files}
    parts = []
    for label, paths in (
        ("changed", [p for p in after if p in before and before[p] != after[p]]),
        ("added", [p for p in after if p not in before]),
        ("removed", [p for p in before if p not in after]),
    ):
        if paths:
            shown = ", ".join(sorted(paths)[:8]) + (" ..." if len(paths) > 8 else "")
            parts.append(f"{label}: {shown}")
    return "; ".join(parts) or "no file changed (modes only)"


def _refuse_invalid(skill: Skill, where: str, override: str) -> None:
    """Refuse a skill that breaks the Agent Skills specification, naming every rule it breaks: a client may
    not load it at all. `override` says how to go ahead anyway."""
    report = validate_skill(skill)
    if report.errors:
        rules = "; ".join(report.errors)
        n = len(report.errors)
        raise InvalidInput(
            f"{where} is not a valid skill ({n} rule{'s' if n != 1 else ''} broken: {rules}); fix it "
            f"(`trace2skill skills validate` lists the rules) or {override}"
        )


def _refuse_secrets(
    skill: Skill, where: str, remedy: str = "remove them, or pass --allow-secrets to keep them"
) -> None:
    """InvalidInput naming the files of `skill` that are or hold secrets, if any."""
    found = find_secret_files((f.path, f.data) for f in skill.files)
    if found:
        raise InvalidInput(f"{where}: {describe_secret_files(found)}; skills must not carry secrets: {remedy}")


class SkillStore:
    """Skill versions in the shared SQLite database, published under `skills_dir`."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        skills_dir: str | os.PathLike[str],
        *,
        keep_previous: int = 2,
        fsync: bool = True,
        export_dirs: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        """`keep_previous` published folders stay next to the current one for readers still in them.

        `export_dirs`: client skills folders (e.g. ~/.claude/skills) every publish also exports to
        (`trace2skill setup`); a folder that refuses is logged and skipped, never failing the publish."""
        self.db = db
        self.skills_dir = Path(skills_dir)
        self.export_dirs = [Path(d).expanduser() for d in export_dirs]
        self.keep_previous = keep_previous
        self.fsync = fsync
        self._mutex = threading.RLock()
        self._lock_depth: dict[str, int] = {}
        self._lock_stack: dict[str, contextlib.ExitStack] = {}
        apply_migrations(db, MIGRATIONS)

    # --- plumbing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _skill_lock(self, name: str) -> Iterator[None]:
        """Serialise publishing of one skill across threads and processes (re-entrant in this store)."""
        with self._mutex:
            depth = self._lock_depth.get(name, 0)
            if depth == 0:
                stack = contextlib.ExitStack()
                stack.enter_context(file_lock(self.skills_dir / VERSIONS_DIR / f"{name}.lock"))
                self._lock_stack[name] = stack
            self._lock_depth[name] = depth + 1
            try:
                yield
            finally:
                self._lock_depth[name] -= 1
                if self._lock_depth[name] == 0:
                    del self._lock_depth[name]
                    self._lock_stack.pop(name).close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a query on the shared connection under its lock and return rows as dicts."""
        with connection_lock(self.db):
            cursor = self.db.execute(sql, list(params))
            columns = [c[0] for c in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    @staticmethod
    def _version(row: dict[str, Any]) -> SkillVersion:
        return SkillVersion(
            name=row["skill"],
            version=row["version"],
            digest=row["digest"],
            parent=row["parent"],
            author=row["author"],
            run_id=row["run_id"],
            changelog=json.loads(row["changelog"]),
            provenance=json.loads(row["provenance"]),
            description=row["description"],
            file_count=row["file_count"],
            total_bytes=row["total_bytes"],
            created_at=datetime.fromisoformat(row["created_at"]),
        )

    def _head_or_none(self, name: str) -> SkillVersion | None:
        rows = self._rows("SELECT * FROM skill_versions WHERE skill = ? ORDER BY version DESC LIMIT 1", [name])
        return self._version(rows[0]) if rows else None

    def _published_row(self, name: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM skill_published WHERE skill = ?", [name])
        return rows[0] if rows else None

    def _set_published(self, name: str, version: int, digest: str, target: str | None) -> None:
        with write_transaction(self.db):
            self.db.execute(
                """INSERT INTO skill_published (skill, version, digest, target, published_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (skill) DO UPDATE SET version = excluded.version, digest = excluded.digest,
                target = COALESCE(excluded.target, skill_published.target), published_at = excluded.published_at""",
                [name, version, digest, target, utcnow().isoformat()],
            )

    def _descends(self, name: str, version: int, ancestor: int) -> bool:
        parents = {
            r["version"]: r["parent"]
            for r in self._rows("SELECT version, parent FROM skill_versions WHERE skill = ?", [name])
        }
        current: int | None = version
        for _ in range(len(parents) + 1):
            if current is None:
                return False
            if current == ancestor:
                return True
            current = parents.get(current)
        return False

    def _record(
        self,
        skill: Skill,
        *,
        parent: int | None,
        author: str,
        changelog: list[str],
        provenance: list[dict[str, Any]],
        run_id: str | None,
        hold: list[str] | None = None,
    ) -> tuple[SkillVersion, bool]:
        """Store `skill` as the next version unless it equals the head or the parent it came from.

        With `hold`, a version this call creates is staged with those reasons in the same transaction."""
        digest = skill.digest
        with write_transaction(self.db):
            head = self._head_or_none(skill.name)
            if head is not None and head.digest == digest:
                return head, False
            if parent is not None:
                prow = self._rows("SELECT * FROM skill_versions WHERE skill = ? AND version = ?", [skill.name, parent])
                if not prow:
                    raise NotFound(f"skill {skill.name!r} has no version {parent} to build on")
                if prow[0]["digest"] == digest:
                    return self._version(prow[0]), False
            version = head.version + 1 if head else 1
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO skill_blobs (sha256, size, data) VALUES (?, ?, ?)",
                [(f.sha256, len(f.data), f.data) for f in skill.files],
            )
            row = {
                "skill": skill.name,
                "version": version,
                "digest": digest,
                "parent": parent,
                "author": author,
                "run_id": run_id,
                "changelog": json.dumps(changelog, ensure_ascii=False),
                "provenance": json.dumps(provenance, ensure_ascii=False),
                "description": _description(skill),
                "file_count": len(skill.files),
                "total_bytes": sum(len(f.data) for f in skill.files),
                "created_at": utcnow().isoformat(),
            }
            self.db.execute(
                f"INSERT INTO skill_versions ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
            self.db.conn.executemany(
                "INSERT INTO skill_files (skill, version, path, sha256, size, executable) VALUES (?, ?, ?, ?, ?, ?)",
                [(skill.name, version, f.path, f.sha256, len(f.data), int(f.executable)) for f in skill.files],
            )
            if hold:
                self._insert_review(skill.name, version, hold)
        return self._version(row), True

    def _insert_review(self, name: str, version: int, reasons: list[str]) -> None:
        self.db.execute(
            "INSERT INTO skill_reviews (skill, version, reasons, state, created_at) VALUES (?, ?, ?, 'staged', ?)",
            [name, version, json.dumps(reasons, ensure_ascii=False), utcnow().isoformat()],
        )

    @staticmethod
    def _review(row: dict[str, Any]) -> SkillReview:
        return SkillReview(
            name=row["skill"],
            version=row["version"],
            reasons=json.loads(row["reasons"]),
            state=row["state"],
            created_at=datetime.fromisoformat(row["created_at"]),
            decided_at=datetime.fromisoformat(row["decided_at"]) if row["decided_at"] else None,
        )

    # --- reading ----------------------------------------------------------------------------------

    def list(self) -> list[SkillSummary]:
        """Every skill with its head version, number of versions and published version."""
        rows = self._rows(
            """SELECT h.skill, h.version, h.digest, h.description, h.created_at, c.n, p.version AS published
            FROM skill_versions h
            JOIN (SELECT skill, MAX(version) AS head, COUNT(*) AS n FROM skill_versions GROUP BY skill) c
              ON c.skill = h.skill AND c.head = h.version
            LEFT JOIN skill_published p ON p.skill = h.skill
            ORDER BY h.skill"""
        )
        return [
            SkillSummary(
                name=r["skill"],
                head=r["version"],
                digest=r["digest"],
                versions=r["n"],
                description=r["description"],
                updated_at=datetime.fromisoformat(r["created_at"]),
                published_version=r["published"],
            )
            for r in rows
        ]

    def head(self, name: str) -> SkillVersion:
        """The newest version; NotFound when the skill does not exist."""
        check_skill_name(name)
        head = self._head_or_none(name)
        if head is None:
            raise NotFound(f"no skill named {name!r} (see `trace2skill skills list`)")
        return head

    def get_version(self, name: str, version: int | None = None) -> SkillVersion:
        """One version (the head when `version` is None); NotFound with the valid range otherwise."""
        head = self.head(name)
        if version is None or version == head.version:
            return head
        rows: list[dict[str, Any]] = []
        if 1 <= version <= head.version:  # checked first: SQLite takes no integer past 2**63
            rows = self._rows("SELECT * FROM skill_versions WHERE skill = ? AND version = ?", [name, version])
        if not rows:
            raise NotFound(f"skill {name!r} has no version {version} (versions are 1 to {head.version})")
        return self._version(rows[0])

    def history(self, name: str) -> builtins.list[SkillVersion]:
        """Every version of a skill, oldest first."""
        self.head(name)
        rows = self._rows("SELECT * FROM skill_versions WHERE skill = ? ORDER BY version", [name])
        return [self._version(r) for r in rows]

    def list_files(self, name: str, version: int | None = None) -> builtins.list[SkillFileInfo]:
        """The files of a version with their sha256 and size, without reading contents."""
        v = self.get_version(name, version)
        rows = self._rows(
            "SELECT path, sha256, size, executable FROM skill_files WHERE skill = ? AND version = ? ORDER BY path",
            [name, v.version],
        )
        return [
            SkillFileInfo(path=r["path"], sha256=r["sha256"], size=r["size"], executable=bool(r["executable"]))
            for r in rows
        ]

    def load(self, name: str, version: int | None = None) -> Skill:
        """A version's full content; its digest is checked against the recorded one."""
        v = self.get_version(name, version)
        rows = self._rows(
            """SELECT f.path, f.executable, b.data FROM skill_files f JOIN skill_blobs b ON b.sha256 = f.sha256
            WHERE f.skill = ? AND f.version = ? ORDER BY f.path""",
            [name, v.version],
        )
        files = tuple(SkillFile(path=r["path"], data=bytes(r["data"]), executable=bool(r["executable"])) for r in rows)
        skill = Skill(name=name, files=files)
        if skill.digest != v.digest:
            raise Trace2SkillError(f"skill {name!r} version {v.version} is damaged in the database (digest mismatch)")
        return skill

    def read_file(self, name: str, path: str, version: int | None = None) -> bytes:
        """One file of a version, by a path that must stay inside the skill (UnsafePath otherwise)."""
        check_skill_name(name)
        rel = safe_relpath(path)
        v = self.get_version(name, version)
        rows = self._rows(
            """SELECT b.data FROM skill_files f JOIN skill_blobs b ON b.sha256 = f.sha256
            WHERE f.skill = ? AND f.version = ? AND f.path = ?""",
            [name, v.version, rel],
        )
        if not rows:
            raise NotFound(f"skill {name!r} version {v.version} has no file {rel!r}")
        return bytes(rows[0]["data"])

    def diff(self, name: str, v1: int, v2: int) -> str:
        """Unified diff from version v1 to v2 (added, removed and binary files noted); '' if equal."""
        return diff_skills(self.load(name, v1), self.load(name, v2))

    def published_path(self, name: str) -> Path:
        """Where the skill is (or would be) published: `<skills_dir>/<name>`."""
        return self.skills_dir / check_skill_name(name)

    def published_version(self, name: str) -> int | None:
        """The version the published folder held when last published or synced."""
        row = self._published_row(check_skill_name(name))
        return row["version"] if row else None

    def review(self, name: str, version: int) -> SkillReview | None:
        """Why a version was held for review and whether a person released it; None when it never was."""
        rows = self._rows(
            "SELECT * FROM skill_reviews WHERE skill = ? AND version = ?", [check_skill_name(name), version]
        )
        return self._review(rows[0]) if rows else None

    def reviews(self, name: str) -> dict[int, SkillReview]:
        """Every version of a skill that was ever held, by version number."""
        rows = self._rows("SELECT * FROM skill_reviews WHERE skill = ? ORDER BY version", [check_skill_name(name)])
        return {r["version"]: self._review(r) for r in rows}

    def pending(self, name: str) -> builtins.list[SkillReview]:
        """The versions still held for review, oldest first."""
        return [r for r in self.reviews(name).values() if r.held]

    def scores(self, name: str, version: int | None = None) -> builtins.list[SkillScore]:
        """Measured pass rates of a skill's versions (all, or one version's), oldest first."""
        sql = "SELECT * FROM skill_scores WHERE skill = ?" + (" AND version = ?" if version is not None else "")
        rows = self._rows(sql + " ORDER BY id", [check_skill_name(name), *([version] if version is not None else [])])
        return [
            SkillScore(**{**row, "detail": json.loads(row["detail"] or "{}"), "name": row["skill"]}) for row in rows
        ]

    # --- writing ----------------------------------------------------------------------------------

    def record_score(self, score: SkillScore) -> None:
        """Keep a measured pass rate with the version it measures (the version must exist)."""
        self.get_version(score.name, score.version)
        row = score.model_dump(mode="json", exclude={"name", "created_at"})
        row.update(
            skill=score.name, detail=json.dumps(score.detail, ensure_ascii=False), created_at=utcnow().isoformat()
        )
        with write_transaction(self.db):
            self.db.execute(
                f"INSERT INTO skill_scores ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )

    def import_dir(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        author: str = "human",
        changelog: Sequence[str] | None = None,
        publish: bool = True,
        allow_secrets: bool = False,
        force: bool = False,
    ) -> tuple[SkillVersion, bool]:
        """Import a skill folder; a new version only when its content differs from the head.

        Returns (version, created). The name is `name`, else SKILL.md's `name`, else the folder's.
        A folder with secrets files or credentials is refused (InvalidInput) unless `allow_secrets`;
        one that breaks the Agent Skills specification (`validate_skill`) unless `force`.
        """
        skill = read_skill_dir(path, name=name)
        try:
            check_skill_name(skill.name)
        except InvalidInput as e:
            raise type(e)(f"{e}; pass --name to choose the skill's name") from None
        if skill.file("SKILL.md") is None:
            raise InvalidInput(f"{path}: no SKILL.md at the top of the folder; that is what makes it a skill")
        check_skill_files(skill)
        if not allow_secrets:
            _refuse_secrets(skill, str(path))
        if not force:
            _refuse_invalid(skill, str(path), "import it with --force")
        author = _check_author(author)
        entries = _check_changelog(changelog) or [f"imported from {Path(path).expanduser().resolve()}"]
        with self._skill_lock(skill.name):
            if publish:
                self._sync_tolerant(skill.name)
            head = self._head_or_none(skill.name)
            if head is not None and head.digest == skill.digest:
                if publish and not self.published_path(skill.name).exists():
                    self._publish_recorded(head, force=force, allow_secrets=allow_secrets)
                return head, False
            version, created = self._record(
                skill,
                parent=head.version if head else None,
                author=author,
                changelog=entries,
                provenance=[],
                run_id=None,
            )
            if publish:
                self._publish_recorded(version, force=force, allow_secrets=allow_secrets)
            return version, created

    def commit(
        self,
        skill: Skill,
        *,
        parent: int | None,
        author: str,
        changelog: Sequence[str] | None,
        provenance: Sequence[dict[str, Any] | ProvenanceEntry] | None = None,
        run_id: str | None = None,
        publish: bool = True,
        force: bool = False,
        allow_secrets: bool = False,
        hold: Sequence[str] | None = None,
    ) -> SkillVersion:
        """Record a skill built from version `parent` (e.g. by an evolve run) and publish it.

        Returns the head unchanged when the content equals it, or the parent when nothing changed
        relative to it (never a version that silently undoes newer ones). When publishing is
        refused because the published folder holds changes the new version lacks, the version is
        still recorded and Conflict says so. A skill holding secrets is refused before anything is
        recorded (InvalidInput), unless `allow_secrets`. With `hold` (reasons, one line each) the
        new version is recorded staged for a person's review and not published, whatever `publish`.
        """
        check_skill_files(skill)
        if not allow_secrets:
            _refuse_secrets(skill, f"skill {skill.name!r}", "remove them, or commit with allow_secrets=True")
        author = _check_author(author)
        entries = _check_changelog(changelog)
        prov = _check_provenance(provenance)
        if run_id is not None and (not isinstance(run_id, str) or not 0 < len(run_id) <= 200):
            raise InvalidInput("run_id must be a string of 1-200 characters")
        reasons = _check_reasons(hold or [])
        if not publish or reasons:
            version, _ = self._record(
                skill, parent=parent, author=author, changelog=entries, provenance=prov, run_id=run_id, hold=reasons
            )
            return version
        with self._skill_lock(skill.name):
            self._sync_tolerant(skill.name)
            version, created = self._record(
                skill, parent=parent, author=author, changelog=entries, provenance=prov, run_id=run_id
            )
            head = self._head_or_none(skill.name)
            if created or (head is not None and head.version == version.version):
                self._publish_recorded(version, force=force, allow_secrets=allow_secrets)
            return version

    def stage(self, name: str, version: int, reasons: Sequence[str]) -> SkillReview:
        """Hold a recorded version for a person's review (more reasons join those it has); a version a
        person already released stays released."""
        self.get_version(name, version)
        lines = _check_reasons(reasons)
        if not lines:
            raise InvalidInput("a version is held for review with at least one reason")
        with write_transaction(self.db):
            current = self.review(name, version)
            if current is None:
                self._insert_review(name, version, lines)
            elif current.held:
                merged = json.dumps(_check_reasons([*current.reasons, *lines]), ensure_ascii=False)
                self.db.execute(
                    "UPDATE skill_reviews SET reasons = ? WHERE skill = ? AND version = ?", [merged, name, version]
                )
        review = self.review(name, version)
        assert review is not None
        return review

    def _check_released(self, name: str, version: int, action: str, reviewed: bool = False) -> SkillReview | None:
        """The version's review when a person releases it now (`reviewed`); Conflict while it is held otherwise."""
        review = self.review(name, version)
        if review is None or not review.held:
            return None
        if not reviewed:
            raise Conflict(_held_message(review, action))
        return review

    def _approve(self, review: SkillReview | None) -> None:
        if review is None:
            return
        with write_transaction(self.db):
            self.db.execute(
                "UPDATE skill_reviews SET state = 'approved', decided_at = ? WHERE skill = ? AND version = ?",
                [utcnow().isoformat(), review.name, review.version],
            )

    def rollback(self, name: str, version: int, *, allow_secrets: bool = False) -> SkillVersion:
        """Publish the content of an older version as a NEW version (author 'rollback').

        A version held for review is refused (Conflict): a rollback must not release it without a person."""
        check_skill_name(name)
        with self._skill_lock(name):
            self._sync_tolerant(name)
            target = self.get_version(name, version)
            self._check_released(name, target.version, "rolled back to")
            head = self.head(name)
            if target.digest == head.digest:
                return head
            content = self.load(name, target.version)
            if not allow_secrets:
                _refuse_secrets(content, f"version {target.version} of {name!r}")
            new, _ = self._record(
                content,
                parent=head.version,
                author="rollback",
                changelog=[f"rollback to version {target.version}: its content replaces version {head.version}"],
                provenance=[],
                run_id=None,
            )
            self._publish_recorded(new, allow_secrets=allow_secrets)
            return new

    # --- publishing -------------------------------------------------------------------------------

    def _sync_tolerant(self, name: str) -> None:
        """Record a hand edit if there is one; a folder that cannot be read is left to publish to report."""
        with contextlib.suppress(InvalidInput):
            self._sync_locked(name)

    def _sync_locked(self, name: str) -> SkillVersion | None:
        path = self.published_path(name)
        if not path.exists():
            return None
        folder = read_skill_dir(path, name=name)
        published = self._published_row(name)
        if published is not None and folder.digest == published["digest"]:
            return None
        head = self._head_or_none(name)
        hand_edit = f"the published folder {path} was edited by hand"
        keep = f"remove them, or keep them on purpose with `trace2skill skills import {path} --allow-secrets`"
        if head is None:  # a folder this store never wrote (put there by hand, or left from another database)
            _refuse_secrets(folder, hand_edit, keep)
            version, _ = self._record(
                folder,
                parent=None,
                author="hand-edit",
                changelog=[f"found in the published folder {path}, not written by this store; kept as version 1"],
                provenance=[],
                run_id=None,
            )
            self._set_published(name, version.version, folder.digest, None)
            return version
        known = self._rows(
            "SELECT version FROM skill_versions WHERE skill = ? AND digest = ? ORDER BY version DESC LIMIT 1",
            [name, folder.digest],
        )
        if known:  # the folder holds a recorded version (e.g. a publish interrupted before it was noted)
            self._set_published(name, known[0]["version"], folder.digest, None)
            return None
        _refuse_secrets(folder, hand_edit, keep)
        base = published["version"] if published else head.version
        what = _files_summary(self.load(name, base), folder)
        version, _ = self._record(
            folder,
            parent=base,
            author="hand-edit",
            changelog=[f"hand edit of the published folder {path} (was version {base}): {what}"],
            provenance=[],
            run_id=None,
        )
        self._set_published(name, version.version, folder.digest, None)
        return version

    def sync_published(self, name: str) -> SkillVersion | None:
        """Record a hand-edited published folder as a new version (author 'hand-edit').

        Returns the new version, or None when the folder is absent, unchanged, or holds the content
        of a recorded version. A folder for a skill the store does not know yet becomes its version
        1. Raises InvalidInput/UnsafePath when the folder breaks the skill rules (e.g. holds a symlink).
        """
        check_skill_name(name)
        with self._skill_lock(name):
            return self._sync_locked(name)

    def _publish_recorded(self, version: SkillVersion, *, force: bool = False, allow_secrets: bool = False) -> None:
        """Publish a version just recorded, turning a refusal into 'recorded but not published'."""
        try:
            self._publish_locked(version.name, version.version, force=force, allow_secrets=allow_secrets)
        except Conflict as e:
            raise Conflict(
                f"version {version.version} of {version.name!r} was recorded but not published: {e}"
            ) from None

    def _publish_locked(
        self, name: str, version: int | None, *, force: bool, allow_secrets: bool = False, reviewed: bool = False
    ) -> Path:
        path = self.published_path(name)
        held = self._check_released(name, self.get_version(name, version).version, "published", reviewed)
        try:
            self._sync_locked(name)
        except InvalidInput as e:
            if not force:
                raise Conflict(
                    f"the published folder {path} was changed by hand and cannot be recorded ({e}); "
                    "fix or move it away, or publish with --force to replace it"
                ) from None
        target = self.get_version(name, version)
        published = self._published_row(name)
        present = path.exists()
        if published is not None and present and published["version"] == target.version:
            self._export_published(name, target.version)
            return path
        if (
            published is not None
            and present
            and not force
            and not self._descends(name, target.version, published["version"])
        ):
            pub = self.get_version(name, published["version"])
            if pub.author == "hand-edit":
                reason = (
                    f"the published folder {path} was edited by hand; that edit is now version {pub.version}, "
                    f"which version {target.version} does not include"
                )
            else:
                reason = (
                    f"version {target.version} does not descend from the published version {pub.version}, "
                    "so publishing it would drop changes"
                )
            raise Conflict(
                f"{reason}. Compare with `trace2skill skills diff {name} {pub.version} {target.version}`; "
                f"then publish with --force to replace it, or `trace2skill skills rollback {name} {target.version}`"
            )
        skill = self.load(name, target.version)
        if not allow_secrets:
            _refuse_secrets(skill, f"version {target.version} of {name!r}")
        if not force:
            _refuse_invalid(skill, f"version {target.version} of {name!r}", "publish it with --force")
        link_target = publish_symlinked(
            self.skills_dir,
            skill,
            target.version,
            keep_previous=self.keep_previous,
            fsync=self.fsync,
        )
        self._set_published(name, target.version, target.digest, link_target)
        self._approve(held)
        self._export_published(name, target.version)
        return path

    def _export_published(self, name: str, version: int) -> None:
        """Copy the published version into each of `export_dirs`; a refusal is logged, not raised."""
        for folder in self.export_dirs:
            try:
                self.export(name, folder, version)
            except (Trace2SkillError, OSError) as e:
                _log.warning("published %s version %s but did not export it to %s: %s", name, version, folder, e)

    def publish(
        self,
        name: str,
        version: int | None = None,
        *,
        force: bool = False,
        allow_secrets: bool = False,
        reviewed: bool = False,
    ) -> Path:
        """Publish a version (default: the head) atomically at `<skills_dir>/<name>`; returns that path.

        A hand edit found there is recorded first; Conflict when the version does not include it.
        InvalidInput when the version holds secrets, unless `allow_secrets`. A version held for review
        is refused (Conflict) unless `reviewed`: a person has read it and releases it (recorded as approved).
        """
        check_skill_name(name)
        with self._skill_lock(name):
            return self._publish_locked(name, version, force=force, allow_secrets=allow_secrets, reviewed=reviewed)

    def export(
        self,
        name: str,
        dest_folder: str | os.PathLike[str],
        version: int | None = None,
        *,
        force: bool = False,
        allow_secrets: bool = False,
    ) -> Path:
        """Write a version as a plain folder `dest_folder/<name>` (e.g. ~/.claude/skills), atomically.

        An existing folder there is replaced only when it holds a version of this skill (an earlier
        export); anything else raises Conflict unless `force`, so a hand edit is never lost. A version
        held for review is refused (Conflict): a client's skills folder is live too.
        """
        check_skill_name(name)
        v = self.get_version(name, version)
        self._check_released(name, v.version, "exported")
        skill = self.load(name, v.version)
        if not allow_secrets:
            _refuse_secrets(skill, f"version {v.version} of {name!r}")
        dest = Path(dest_folder).expanduser() / name
        if os.path.lexists(dest):
            try:
                existing: Skill | None = read_skill_dir(dest, name=name)
                problem = ""
            except InvalidInput as e:
                existing, problem = None, str(e)
            if existing is not None and existing.digest == skill.digest:
                return dest
            if not force:
                if existing is None:
                    raise Conflict(
                        f"{dest} exists and is not a readable skill folder ({problem}); move it away or use --force"
                    )
                known = {r["digest"] for r in self._rows("SELECT digest FROM skill_versions WHERE skill = ?", [name])}
                if existing.digest not in known:
                    raise Conflict(
                        f"{dest} holds content that is not a version of {name!r} (edited by hand?); keep it with "
                        f"`trace2skill skills import {dest}` first, or use --force to replace it"
                    )
        install_dir(dest, skill, fsync=self.fsync)
        return dest

    def delete(self, name: str) -> int:
        """Remove a skill for good: every version with its files (file contents no other skill shares), scores,
        reviews and publication record, and its folders in the skills folder (`<name>` and `.versions/<name>`).
        Returns how many versions were removed; NotFound when there is no such skill.

        Versions are immutable for everything else: the triggers that guard them are lifted for this one
        transaction only, and put back before it commits. Folders exported to client skills folders stay.
        """
        check_skill_name(name)
        with self._skill_lock(name):
            self.head(name)  # NotFound first
            guarded = ("skill_versions", "skill_files", "skill_blobs")
            with write_transaction(self.db) as conn:
                (count,) = conn.execute("SELECT count(*) FROM skill_versions WHERE skill = ?", [name]).fetchone()
                triggers = conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (?, ?, ?) "
                    "AND name LIKE '%_no_delete'",
                    guarded,
                ).fetchall()
                for trigger, _ in triggers:
                    conn.execute(f'DROP TRIGGER "{trigger}"')
                blobs = json.dumps(
                    [r[0] for r in conn.execute("SELECT DISTINCT sha256 FROM skill_files WHERE skill = ?", [name])]
                )
                for table in ("skill_reviews", "skill_scores", "skill_published", "skill_files", "skill_versions"):
                    conn.execute(f"DELETE FROM {table} WHERE skill = ?", [name])
                conn.execute(
                    "DELETE FROM skill_blobs WHERE sha256 IN (SELECT value FROM json_each(?)) "
                    "AND sha256 NOT IN (SELECT sha256 FROM skill_files)",
                    [blobs],
                )
                for _, sql in triggers:
                    conn.execute(sql)
            remove_path(self.published_path(name))
            remove_path(self.skills_dir / VERSIONS_DIR / name)
        return int(count)
