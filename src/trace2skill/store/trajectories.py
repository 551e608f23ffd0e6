"""TraceStore: recorded trajectories in SQLite, plus the evolution tables (see `evolution.py`).

Each trajectory is a row of the columns filters need (skill, version, outcome, score, creation
time, tags) and a row of its full JSON; its task, final answer, feedback, message text and tool
names go to an FTS5 table (`search.py`) and its tags to a tag table. All four are written in one
transaction, so they never disagree; so are the bulk changes (`update_where`, `delete_where`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import random
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.models import (
    LIMITS,
    SKILL_NAME_RE,
    Outcome,
    Trajectory,
    describe_validation_error,
    parse_trajectory,
)
from trace2skill.store.codec import iso, load_many, load_trajectory, trajectory_json
from trace2skill.store.db import background_checkpoints, connection_lock, write_transaction
from trace2skill.store.evolution import EvolutionLog
from trace2skill.store.ids import new_ids
from trace2skill.store.query import STATUSES, Filters, SetMode, VersionFilter
from trace2skill.store.sampling import sample_seqs
from trace2skill.store.schema import COUNTS_TABLE, DATA_TABLE, FTS_COLUMNS, FTS_TABLE, TABLE, TAGS_TABLE
from trace2skill.store.search import FtsRow, fts_row

__all__ = ["DEFAULT_BATCH", "FAILURE_SIDE", "SUCCESS_SIDE", "TraceChanges", "TraceStore", "TraceSummary"]

DEFAULT_BATCH = 500
FAILURE_SIDE = ("failure", "partial")
SUCCESS_SIDE = ("success",)
PREVIEW_CHARS = 160
SELECTIVE_TAG = 2_000
SELECTIVE_TEXT = 20_000
"""A tag (text) filter matching at most this many rows leads the query plan; a larger one is only checked."""
DENSE_TEXT = 0.1
WALK_ROWS = 100
"""A text alone, in at least this share of the rows, for at most WALK_ROWS newest rows: looked up row by row."""

TrajectoryInput = Trajectory | Mapping[str, Any] | str | bytes
TimeInput = datetime | date | str | None

_INSERT_ROW = (
    f"INSERT INTO {TABLE} (seq, id, created_at, skill, skill_version, outcome, score, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_DATA = f"INSERT INTO {DATA_TABLE} (seq, data) VALUES (?, CAST(? AS TEXT))"
_INSERT_FTS = f"INSERT INTO {FTS_TABLE} (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"
_JSON_LIST = "(SELECT value FROM json_each(?))"
"""One parameter holding a JSON list, instead of one `?` per item (no variable-count limit)."""
_INSERT_TAG = f"INSERT INTO {TAGS_TABLE} (tag, seq) VALUES (?, ?)"


class TraceSummary(BaseModel):
    """One line of a listing: enough to choose a trajectory without loading its messages."""

    id: str
    created_at: datetime
    skill: str | None
    skill_version: int | None
    outcome: str
    score: float | None
    tags: list[str]
    task: str


@dataclass(frozen=True)
class TraceChanges:
    """What `TraceStore.update_where` changes on every selected trajectory.

    `skill` attaches the runs to that skill (their recorded version is cleared when the skill changes:
    a version of another skill means nothing); `add_tags` and `remove_tags` add and remove tags;
    `outcome` replaces the status (judged_by becomes "human", the feedback stays) and `score` the score
    (without `score`, the score stays when the status does and is cleared when it changes).
    """

    skill: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    outcome: str | None = None
    score: float | None = None

    def check(self) -> None:
        """InvalidInput naming the first bad value, or that nothing would change."""
        if self.skill is None and not self.add_tags and not self.remove_tags and self.outcome is None:
            if self.score is not None:
                raise InvalidInput("a score needs an outcome: give --outcome with --score")
            raise InvalidInput("nothing to change: give --skill, --tag, --untag or --outcome")
        if self.skill is not None and not SKILL_NAME_RE.match(self.skill):
            raise InvalidInput(f"skill {self.skill[:80]!r} is not a valid Agent Skills name (a-z, 0-9 and single '-')")
        for tag in (*self.add_tags, *self.remove_tags):
            if not 1 <= len(tag) <= LIMITS.tag_chars:
                raise InvalidInput(f"tag {tag[:80]!r}: tags are 1-{LIMITS.tag_chars} characters")
        if self.outcome is not None and self.outcome not in STATUSES:
            raise InvalidInput(f"unknown outcome {self.outcome!r}: use one of {', '.join(STATUSES)}")
        if self.score is not None and self.outcome is None:
            raise InvalidInput("a score needs an outcome: give --outcome with --score")
        if self.score is not None and not math.isfinite(self.score):
            raise InvalidInput("score must be a finite number")

    def apply(self, trajectory: Trajectory) -> Trajectory:
        """`trajectory` with the changes made (the same object when none of them changes anything)."""
        update: dict[str, Any] = {}
        if self.skill is not None and trajectory.skill != self.skill:
            update["skill"] = self.skill
            update["skill_version"] = None
        removed = set(self.remove_tags)
        tags = [tag for tag in dict.fromkeys([*trajectory.tags, *self.add_tags]) if tag not in removed]
        if tags != trajectory.tags:
            if len(tags) > LIMITS.tags:
                raise InvalidInput(
                    f"trajectory {trajectory.id!r} would have {len(tags)} tags; the limit is {LIMITS.tags} "
                    "(remove some with --untag)"
                )
            update["tags"] = tags
        if self.outcome is not None:
            old = trajectory.outcome
            score = self.score if self.score is not None else (old.score if self.outcome == old.status else None)
            if (self.outcome, score) != (old.status, old.score):
                update["outcome"] = old.model_copy(
                    update={"status": self.outcome, "score": score, "judged_by": "human"}
                )
        return trajectory.model_copy(update=update) if update else trajectory


class _Batch:
    """One transaction's trajectories, serialised before the write lock is taken.

    `columns`, `data` and `fts` hold each row's values without its key (`seq`), which is chosen
    inside the transaction. Rows without a creation time get the batch's one.
    """

    __slots__ = ("columns", "data", "fts", "ids", "tags")

    def __init__(self, trajectories: list[Trajectory]) -> None:
        now: str | None = None
        self.ids: list[str] = []
        self.columns: list[tuple[Any, ...]] = []
        self.data: list[bytes] = []
        self.fts: list[FtsRow] = []
        self.tags: list[list[str]] = []
        fresh = iter(new_ids(sum(1 for trajectory in trajectories if trajectory.id is None)))
        for trajectory in trajectories:
            ident = trajectory.id or next(fresh)
            created = trajectory.created_at
            if created is not None:
                stamp = iso(created)
            else:
                stamp = now = now or datetime.now(UTC).isoformat(timespec="microseconds")
            outcome = trajectory.outcome
            tags = trajectory.tags
            self.ids.append(ident)
            self.columns.append(
                (
                    ident,
                    stamp,
                    trajectory.skill,
                    trajectory.skill_version,
                    outcome.status,
                    outcome.score,
                    to_json(tags).decode() if tags else "[]",
                )
            )
            self.data.append(trajectory_json(trajectory, ident, stamp))
            self.fts.append(fts_row(trajectory))
            self.tags.append(tags)

    def __len__(self) -> int:
        return len(self.ids)


def _as_trajectory(item: TrajectoryInput) -> Trajectory:
    if isinstance(item, Trajectory):
        return item
    if isinstance(item, str | bytes):
        return parse_trajectory(item)
    if isinstance(item, Mapping):
        return parse_trajectory(dict(item))
    raise InvalidInput(f"expected a Trajectory, a JSON object or JSON text, got {type(item).__name__}")


def _as_outcome(outcome: Outcome | Mapping[str, Any] | str) -> Outcome:
    if isinstance(outcome, Outcome):
        return outcome
    try:
        if isinstance(outcome, str):
            return Outcome.model_validate({"status": outcome})
        return Outcome.model_validate(dict(outcome))
    except ValidationError as e:
        raise InvalidInput(f"invalid outcome: {describe_validation_error(e)}") from None


def _chunks(items: Iterable[TrajectoryInput], size: int) -> Iterator[list[TrajectoryInput]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _prepare(chunk: list[TrajectoryInput]) -> _Batch:
    return _Batch([_as_trajectory(item) for item in chunk])


class TraceStore(EvolutionLog):
    """Recorded trajectories and the evolution tables, over one shared sqlite-utils Database.

    Every method is one short transaction under the database's connection lock, so a store can be
    shared by threads and asyncio tasks; other processes may write the same file at the same time.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._lock = connection_lock(db)

    # --- writing ----------------------------------------------------------------------------

    def add(self, trajectory: TrajectoryInput) -> str:
        """Store one trajectory; returns its id (the caller's own id if it set one)."""
        return self.add_many([trajectory], batch_size=1)[0]

    def add_many(self, trajectories: Iterable[TrajectoryInput], batch_size: int = DEFAULT_BATCH) -> list[str]:
        """Store many trajectories, one transaction per `batch_size` of them; returns their ids in order.

        A batch is all-or-nothing: if one of its trajectories is invalid or reuses an existing id,
        that batch is not written (batches before it stay) and the error says which one. Each batch
        is serialised before its transaction (`write_transaction`) begins, so the write lock is held
        only for the inserts; from the second batch on, checkpoints run on a background thread.
        """
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")
        ids: list[str] = []
        with contextlib.ExitStack() as bulk:
            checkpoint: Callable[[], None] | None = None
            for chunk in _chunks(trajectories, batch_size):
                if ids and checkpoint is None:  # a second batch: this is a bulk write
                    checkpoint = bulk.enter_context(background_checkpoints(self.db))
                batch = _prepare(chunk)
                self._insert(batch)
                ids.extend(batch.ids)
                if checkpoint is not None:
                    checkpoint()
        return ids

    def _insert(self, batch: _Batch) -> None:
        """Write one batch in one transaction."""
        if len(set(batch.ids)) < len(batch):
            seen: set[str] = set()
            for ident in batch.ids:
                if ident in seen:
                    raise Conflict(f"trajectory id {ident!r} appears twice in one batch")
                seen.add(ident)
        try:
            with write_transaction(self.db) as conn:
                (top,) = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {TABLE}").fetchone()
                seqs = range(top + 1, top + 1 + len(batch))
                conn.executemany(_INSERT_ROW, [(seq, *row) for seq, row in zip(seqs, batch.columns, strict=True)])
                conn.executemany(_INSERT_DATA, zip(seqs, batch.data, strict=True))
                conn.executemany(_INSERT_FTS, [(seq, *row) for seq, row in zip(seqs, batch.fts, strict=True)])
                tag_rows = [(tag, seq) for seq, tags in zip(seqs, batch.tags, strict=True) for tag in tags]
                if tag_rows:
                    conn.executemany(_INSERT_TAG, tag_rows)
        except sqlite3.IntegrityError as e:
            taken = self._existing_ids(batch.ids)
            if taken:
                raise Conflict(
                    f"trajectory id {taken[0]!r} already exists; leave `id` out to get a fresh one"
                ) from None
            raise InvalidInput(f"could not store the trajectories: {e}") from None

    def _existing_ids(self, ids: list[str]) -> list[str]:
        with self._lock:
            rows = self.db.conn.execute(
                f"SELECT id FROM {TABLE} WHERE id IN {_JSON_LIST}", [json.dumps(ids)]
            ).fetchall()
        found = {r[0] for r in rows}
        return [i for i in ids if i in found]

    def label(self, trajectory_id: str, outcome: Outcome | Mapping[str, Any] | str) -> Trajectory:
        """Replace a trajectory's outcome (status, score, feedback, judge); returns the updated trajectory."""
        new_outcome = _as_outcome(outcome)
        with write_transaction(self.db) as conn:
            seq, _ = self._locate(conn, trajectory_id, "seq")
            (data,) = conn.execute(f"SELECT data FROM {DATA_TABLE} WHERE seq = ?", (seq,)).fetchone()
            updated = load_trajectory(data).model_copy(update={"outcome": new_outcome})
            conn.execute(
                f"UPDATE {TABLE} SET outcome = ?, score = ? WHERE seq = ?", (new_outcome.status, new_outcome.score, seq)
            )
            conn.execute(f"UPDATE {DATA_TABLE} SET data = ? WHERE seq = ?", (updated.model_dump_json(), seq))
            conn.execute(f"UPDATE {FTS_TABLE} SET feedback = ? WHERE rowid = ?", (new_outcome.feedback, seq))
        return updated

    def delete(self, trajectory_id: str) -> None:
        """Remove a trajectory with its full-text row and tags."""
        with write_transaction(self.db) as conn:
            seq, tags = self._locate(conn, trajectory_id, "tags")
            conn.execute(f"DELETE FROM {TABLE} WHERE seq = ?", (seq,))
            conn.execute(f"DELETE FROM {DATA_TABLE} WHERE seq = ?", (seq,))
            conn.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = ?", (seq,))
            tag_keys = [(tag, seq) for tag in json.loads(tags)]
            conn.executemany(f"DELETE FROM {TAGS_TABLE} WHERE tag = ? AND seq = ?", tag_keys)

    # --- bulk changes -----------------------------------------------------------------------

    def update_where(
        self,
        changes: TraceChanges,
        ids: Iterable[str] | None = None,
        *,
        everything: bool = False,
        dry_run: bool = False,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> int:
        """Make `changes` to the selected trajectories in one transaction; returns how many changed.

        The selection is `ids` (every one must exist), narrowed by the filters of `filter`; without ids,
        the filters alone, and with neither, nothing unless `everything` (InvalidInput says so). A run the
        changes leave as it was is not counted. `dry_run` counts without writing.
        """
        changes.check()
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        with contextlib.ExitStack() as stack:
            if dry_run:
                stack.enter_context(self._lock)
                conn = self.db.conn
            else:
                conn = stack.enter_context(write_transaction(self.db))
            seqs = self._selected(conn, ids, filters, everything)
            changed = 0
            for start in range(0, len(seqs), DEFAULT_BATCH):
                chunk = seqs[start : start + DEFAULT_BATCH]
                rows = conn.execute(
                    f"SELECT t.seq, t.id, t.created_at, d.data FROM {TABLE} t JOIN {DATA_TABLE} d ON d.seq = t.seq "
                    f"WHERE t.seq IN {_JSON_LIST}",
                    [json.dumps(chunk)],
                ).fetchall()
                for seq, ident, created_at, data in rows:
                    old = load_trajectory(data)
                    new = changes.apply(old)
                    if new is old:
                        continue
                    changed += 1
                    if not dry_run:
                        self._rewrite(conn, seq, ident, created_at, old, new)
            return changed

    @staticmethod
    def _rewrite(
        conn: sqlite3.Connection, seq: int, ident: str, created_at: str, old: Trajectory, new: Trajectory
    ) -> None:
        """Store `new` in place of `old` under the same key: columns, JSON, tag rows (the text is unchanged)."""
        status = new.outcome
        conn.execute(
            f"UPDATE {TABLE} SET skill = ?, skill_version = ?, outcome = ?, score = ?, tags = ? WHERE seq = ?",
            (new.skill, new.skill_version, status.status, status.score, to_json(new.tags).decode(), seq),
        )
        conn.execute(
            f"UPDATE {DATA_TABLE} SET data = CAST(? AS TEXT) WHERE seq = ?",
            (trajectory_json(new, ident, created_at), seq),
        )
        gone = [(tag, seq) for tag in old.tags if tag not in new.tags]
        added = [(tag, seq) for tag in new.tags if tag not in old.tags]
        conn.executemany(f"DELETE FROM {TAGS_TABLE} WHERE tag = ? AND seq = ?", gone)
        conn.executemany(_INSERT_TAG, added)

    def delete_where(
        self,
        ids: Iterable[str] | None = None,
        *,
        everything: bool = False,
        dry_run: bool = False,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> int:
        """Delete the selected trajectories (as `update_where` selects them) with their search rows and tags,
        in one transaction; returns how many. `dry_run` counts without deleting."""
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        if dry_run:
            with self._lock:
                return len(self._selected(self.db.conn, ids, filters, everything))
        with write_transaction(self.db) as conn:
            seqs = self._selected(conn, ids, filters, everything)
            for start in range(0, len(seqs), 10_000):
                keys = [json.dumps(seqs[start : start + 10_000])]
                for table, key in ((TABLE, "seq"), (DATA_TABLE, "seq"), (FTS_TABLE, "rowid"), (TAGS_TABLE, "seq")):
                    conn.execute(f"DELETE FROM {table} WHERE {key} IN {_JSON_LIST}", keys)
            return len(seqs)

    def export_json(
        self,
        ids: Iterable[str] | None = None,
        *,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> Iterator[str]:
        """The stored JSON of the selected trajectories (all of them when nothing selects), oldest first, one
        compact JSON object each, read a batch at a time: `trace2skill import` reads it back as it was."""
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        with self._lock:
            seqs = self._selected(self.db.conn, ids, filters, everything=True)
        for start in range(0, len(seqs), DEFAULT_BATCH):
            chunk = seqs[start : start + DEFAULT_BATCH]
            by_seq = dict(
                self._fetch(f"SELECT seq, data FROM {DATA_TABLE} WHERE seq IN {_JSON_LIST}", [json.dumps(chunk)])
            )
            for seq in chunk:
                if seq in by_seq:  # deleted meanwhile: left out
                    yield by_seq[seq]

    def _selected(
        self, conn: sqlite3.Connection, ids: Iterable[str] | None, filters: Filters, everything: bool
    ) -> list[int]:
        """Keys of the selected rows, oldest first (see `update_where`)."""
        wanted = None if ids is None else list(dict.fromkeys(ids))
        if wanted is not None and wanted:
            found = dict(
                conn.execute(f"SELECT id, seq FROM {TABLE} WHERE id IN {_JSON_LIST}", [json.dumps(wanted)]).fetchall()
            )
            for ident in wanted:
                if ident not in found:
                    raise NotFound(f"no trajectory with id {ident!r}")
            where, params = filters.where("point", lead=False)
            sql = f"SELECT t.seq FROM {TABLE} t WHERE t.seq IN {_JSON_LIST} AND {where} ORDER BY t.created_at, t.seq"
            return [row[0] for row in conn.execute(sql, [json.dumps(list(found.values())), *params])]
        if filters == Filters() and not everything:
            raise InvalidInput(
                "say which runs: give their ids, a filter (--skill, --outcome, --tag, --since, --until) or --all"
            )
        where, params = filters.where(self._plan(conn, filters))
        sql = f"SELECT t.seq FROM {TABLE} t WHERE {where} ORDER BY t.created_at, t.seq"
        return [row[0] for row in conn.execute(sql, params)]

    @staticmethod
    def _locate(conn: sqlite3.Connection, trajectory_id: str, column: str) -> tuple[int, Any]:
        row = conn.execute(f"SELECT seq, {column} FROM {TABLE} WHERE id = ?", (trajectory_id,)).fetchone()
        if row is None:
            raise NotFound(f"no trajectory with id {trajectory_id!r}")
        return row[0], row[1]

    # --- reading ----------------------------------------------------------------------------

    def _fetch(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self.db.conn.execute(sql, list(params)).fetchall()

    def get(self, trajectory_id: str) -> Trajectory:
        rows = self._fetch(
            f"SELECT d.data FROM {TABLE} t JOIN {DATA_TABLE} d ON d.seq = t.seq WHERE t.id = ?", [trajectory_id]
        )
        if not rows:
            raise NotFound(f"no trajectory with id {trajectory_id!r}")
        return load_trajectory(rows[0][0])

    def get_many(self, trajectory_ids: Iterable[str]) -> list[Trajectory]:
        """Trajectories in the order asked; NotFound names the first id that does not exist."""
        ids = list(trajectory_ids)
        rows = self._fetch(
            f"SELECT t.id, d.data FROM {TABLE} t JOIN {DATA_TABLE} d ON d.seq = t.seq WHERE t.id IN {_JSON_LIST}",
            [json.dumps(ids)],
        )
        by_id = dict(rows)
        for ident in ids:
            if ident not in by_id:
                raise NotFound(f"no trajectory with id {ident!r}")
        return load_many(by_id[ident] for ident in ids)

    def _by_seqs(self, seqs: list[int]) -> list[Trajectory]:
        rows = self._fetch(f"SELECT seq, data FROM {DATA_TABLE} WHERE seq IN {_JSON_LIST}", [json.dumps(seqs)])
        by_seq = dict(rows)
        return load_many(by_seq[seq] for seq in seqs if seq in by_seq)

    def filter(
        self,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        skill_version: VersionFilter = None,
    ) -> list[Trajectory]:
        """Matching trajectories, newest first. Every tag must be present; `text` searches task, answer, feedback,
        message text and tool names (`search.py`); `skill_version` is one version or a list of them (None in it:
        runs with no recorded version)."""
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        return self._by_seqs(self._newest(filters, limit, offset))

    def count(
        self,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> int:
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        with self._lock:
            conn = self.db.conn
            if filters.skill is not None and filters == Filters(skill=filters.skill):  # kept by triggers (0005)
                row = conn.execute(f"SELECT runs FROM {COUNTS_TABLE} WHERE skill = ?", [filters.skill]).fetchone()
                return row[0] if row else 0
            if filters.only_sets:
                queries = filters.set_queries()
                sql = "SELECT count(*) FROM (" + " INTERSECT ".join(query for query, _ in queries) + ")"
                return conn.execute(sql, [value for _, values in queries for value in values]).fetchone()[0]
            where, params = filters.where(self._plan(conn, filters))
            return conn.execute(f"SELECT count(*) FROM {TABLE} t WHERE {where}", params).fetchone()[0]

    def count_by_version(
        self,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
    ) -> dict[int | None, int]:
        """How many matching trajectories each skill version has (None: no recorded version), in one query,
        so a caller that keeps one version can say how many runs of the others it left out."""
        filters = Filters.of(skill, outcome, since, until, tags, text)
        with self._lock:
            conn = self.db.conn
            where, params = filters.where(self._plan(conn, filters))
            sql = f"SELECT t.skill_version, count(*) FROM {TABLE} t WHERE {where} GROUP BY t.skill_version"
            return dict(conn.execute(sql, params).fetchall())

    def summaries(
        self,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        skill_version: VersionFilter = None,
        whole_task: bool = False,
    ) -> list[TraceSummary]:
        """Like `filter`, but one light summary per trajectory (no messages are read).

        The task is its first PREVIEW_CHARS characters, or all of it with `whole_task` (for output piped
        to a program, which must not get a cut field)."""
        seqs = self._newest(Filters.of(skill, outcome, since, until, tags, text, skill_version), limit, offset)
        task = "f.task" if whole_task else f"substr(f.task, 1, {PREVIEW_CHARS})"
        rows = self._fetch(
            "SELECT t.seq, t.id, t.created_at, t.skill, t.skill_version, t.outcome, t.score, t.tags, "
            f"{task} FROM {TABLE} t LEFT JOIN {FTS_TABLE} f ON f.rowid = t.seq "
            f"WHERE t.seq IN {_JSON_LIST}",
            [json.dumps(seqs)],
        )
        by_seq = {r[0]: r for r in rows}
        return [
            TraceSummary(
                id=r[1],
                created_at=datetime.fromisoformat(r[2]),
                skill=r[3],
                skill_version=r[4],
                outcome=r[5],
                score=r[6],
                tags=json.loads(r[7]),
                task=r[8] or "",
            )
            for r in (by_seq[seq] for seq in seqs if seq in by_seq)
        ]

    def _plan(self, conn: sqlite3.Connection, filters: Filters, wanted: int | None = None) -> list[SetMode]:
        """How each tag and text filter should enter the query, from the size of its key set.

        A small set leads the plan ("drive": look up its rows). A large one is only checked while
        SQLite walks the index that gives the wanted order: tags by a primary-key probe per row
        ("point"), text through its match set built once ("probe"; checking the full-text index per
        row costs more than building the set), unless the text is the only filter, most rows have it
        and only the `wanted` newest few are asked for ("walk": a look-up per row walked, no set at all).
        """
        plan: list[SetMode] = []
        for kind, (sql, values) in zip(filters.set_kinds(), filters.set_queries(), strict=True):
            cap = SELECTIVE_TAG if kind == "tag" else SELECTIVE_TEXT
            (size,) = conn.execute(f"SELECT count(*) FROM ({sql} LIMIT {cap + 1})", values).fetchone()
            if size <= cap:
                plan.append("drive")
            elif kind == "tag":
                plan.append("point")
            else:
                plan.append("walk" if self._dense(conn, filters, sql, values, wanted) else "probe")
        return plan

    @staticmethod
    def _dense(conn: sqlite3.Connection, filters: Filters, sql: str, values: list[Any], wanted: int | None) -> bool:
        """Whether a text alone is in at least DENSE_TEXT of the rows, so walking finds `wanted` rows in a few."""
        if wanted is None or wanted > WALK_ROWS or filters != Filters(text=filters.text):
            return False
        (rows,) = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {TABLE}").fetchone()  # at least the row count
        need = math.ceil(rows * DENSE_TEXT)
        (size,) = conn.execute(f"SELECT count(*) FROM ({sql} LIMIT {need})", values).fetchone()
        return size >= need

    def _newest(self, filters: Filters, limit: int | None, offset: int) -> list[int]:
        """Keys of matching rows, newest first: ordered on index columns, before any JSON is read."""
        page = _page(limit, offset)
        with self._lock:
            conn = self.db.conn
            wanted = None if page[0] < 0 else page[0] + page[1]
            where, params = filters.where(self._plan(conn, filters, wanted))
            sql = f"SELECT t.seq FROM {TABLE} t WHERE {where} ORDER BY t.created_at DESC, t.seq DESC LIMIT ? OFFSET ?"
            return [row[0] for row in conn.execute(sql, [*params, *page])]

    # --- sampling ---------------------------------------------------------------------------

    def sample_ids(
        self,
        n: int,
        seed: int = 0,
        balance: bool = False,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> list[str]:
        """The ids `sample` would return, without loading the trajectories."""
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        seqs = self._sample_seqs(n, seed, balance, filters)
        rows = dict(self._fetch(f"SELECT seq, id FROM {TABLE} WHERE seq IN {_JSON_LIST}", [json.dumps(seqs)]))
        return [rows[seq] for seq in seqs if seq in rows]

    def sample(
        self,
        n: int,
        seed: int = 0,
        balance: bool = False,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: TimeInput = None,
        until: TimeInput = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> list[Trajectory]:
        """Up to `n` matching trajectories drawn at random; the same seed gives the same sample.

        With `balance`, half come from failures (status failure or partial) and half from
        successes when both exist; a side that runs short is topped up from the other, then from
        trajectories with other outcomes. If either side has none, it samples the whole selection.
        The result lists failures first, then successes, then the rest.
        """
        filters = Filters.of(skill, outcome, since, until, tags, text, skill_version)
        return self._by_seqs(self._sample_seqs(n, seed, balance, filters))

    def _sample_seqs(self, n: int, seed: int, balance: bool, filters: Filters) -> list[int]:
        if n < 0:
            raise InvalidInput(f"sample size must be 0 or more, got {n}")
        with self._lock:
            conn = self.db.conn
            if balance:
                sides = _balanced(conn, filters, n, seed)
                if sides is not None:
                    return sides
            return sample_seqs(conn, filters, n, random.Random(seed))


def _balanced(conn: sqlite3.Connection, filters: Filters, n: int, seed: int) -> list[int] | None:
    failures, successes = filters.with_outcome(FAILURE_SIDE), filters.with_outcome(SUCCESS_SIDE)
    if not failures.outcome or not successes.outcome:
        return None
    half = math.ceil(n / 2)
    picked_failures = sample_seqs(conn, failures, half, random.Random(f"{seed}:failures"))
    if not picked_failures:
        return None
    picked_successes = sample_seqs(conn, successes, n - len(picked_failures), random.Random(f"{seed}:successes"))
    if not picked_successes:
        return None
    if len(picked_failures) + len(picked_successes) < n and len(picked_failures) == half:
        picked_failures = sample_seqs(conn, failures, n - len(picked_successes), random.Random(f"{seed}:failures"))
    picked = picked_failures + picked_successes
    if len(picked) < n:
        others = filters.with_outcome(s for s in STATUSES if s not in FAILURE_SIDE + SUCCESS_SIDE)
        if others.outcome:
            picked += sample_seqs(conn, others, n - len(picked), random.Random(f"{seed}:others"))
    return picked


def _page(limit: int | None, offset: int) -> tuple[int, int]:
    if limit is not None and limit < 0:
        raise InvalidInput(f"limit must be 0 or more, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more, got {offset}")
    most = 2**63 - 1  # SQLite's largest integer: past it, no row is left anyway
    return (-1 if limit is None else min(limit, most)), min(offset, most)
