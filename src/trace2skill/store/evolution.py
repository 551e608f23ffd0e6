"""The evolution tables: runs, per-trajectory analyses, per-level patches, and the LLM call log.

An evolve that fails part-way must resume without paying twice, so analyses and patches are
saved one by one as they finish (upserts: redoing one replaces it). Writes come from many asyncio
tasks and threads at once; each method is one short transaction under the connection lock.
What is saved comes back unchanged: `analyses()` returns the result dicts, `patches()` the patch
dicts; `analysis_rows()` and `patch_rows()` add kind, level, index and time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from pydantic import BaseModel

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.models import CALL_LOG_FIELDS, utcnow
from trace2skill.store.codec import dumps, iso
from trace2skill.store.db import connection_lock, write_transaction

__all__ = ["CALL_FIELDS", "CALL_OUTCOMES", "RUN_FIELDS", "TERMINAL_STATUSES", "EvolutionLog"]

RUN_FIELDS = ("skill", "status", "config", "base_version", "new_version", "report", "error", "finished_at")
"""Columns of `runs` that `update_run` writes directly; other keyword fields are kept in `extra`."""

TERMINAL_STATUSES = frozenset(
    {"succeeded", "failed", "interrupted", "no_change", "dry_run", "cancelled", "rejected", "staged"}
)
"""Statuses that end a run: `update_run` stamps `finished_at` when one is set (and clears it for any other)."""

CALL_OUTCOMES = frozenset({"ok", "error", "cache_hit", "budget"})
CALL_FIELDS = CALL_LOG_FIELDS
_COUNTERS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")


def _plain(value: Any) -> Any:
    """Pydantic models become plain JSON-ready dicts; everything else passes through."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def _stamp(value: Any) -> str:
    if value is None:
        return iso(utcnow())
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, int | float):
        return iso(datetime.fromtimestamp(value, UTC))
    return str(value)


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class EvolutionLog:
    """Runs, analyses, patches and LLM calls; mixed into TraceStore, which provides `db`."""

    db: sqlite_utils.Database

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with connection_lock(self.db):
            cursor = self.db.conn.execute(sql, list(params))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    # --- runs -------------------------------------------------------------------------------

    def create_run(self, run_id: str, skill: str | None, config: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """Record the start of an evolution run (status 'running'); a reused run id is a Conflict."""
        if not run_id:
            raise InvalidInput("a run needs a non-empty id")
        now = iso(utcnow())
        try:
            with write_transaction(self.db) as conn:
                conn.execute(
                    "INSERT INTO runs (id, skill, status, config, created_at, updated_at) "
                    "VALUES (?, ?, 'running', ?, ?, ?)",
                    (run_id, skill, dumps(_plain(config)), now, now),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"run {run_id!r} already exists") from None
        return self.get_run(run_id)

    def update_run(self, run_id: str, **fields: Any) -> dict[str, Any]:
        """Change a run's status, versions, report, error...; returns the run.

        Keys outside `RUN_FIELDS` are merged into the run's `extra` dict (and come back as keys of
        `get_run`), so progress details need no schema change.
        """
        with write_transaction(self.db) as conn:
            row = conn.execute("SELECT extra, finished_at FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no evolution run with id {run_id!r}")
            extra = json.loads(row[0])
            sets: dict[str, Any] = {}
            for key, value in fields.items():
                value = _plain(value)
                if key in ("config", "report"):
                    sets[key] = None if value is None else dumps(value)
                elif key == "finished_at":
                    sets[key] = None if value is None else _stamp(value)
                elif key in RUN_FIELDS:
                    sets[key] = value
                else:
                    extra[key] = value
            status = fields.get("status")
            if status is not None and "finished_at" not in fields:
                if status not in TERMINAL_STATUSES:
                    sets["finished_at"] = None  # running again (a resumed run)
                elif row[1] is None:
                    sets["finished_at"] = iso(utcnow())
            sets["extra"] = dumps(extra)
            sets["updated_at"] = iso(utcnow())
            assignments = ", ".join(f"{key} = ?" for key in sets)
            conn.execute(f"UPDATE runs SET {assignments} WHERE id = ?", [*sets.values(), run_id])
        return self.get_run(run_id)

    @staticmethod
    def _run(row: dict[str, Any]) -> dict[str, Any]:
        extra = json.loads(row.pop("extra"))
        run = {key: value for key, value in extra.items() if key not in row}
        run.update(row)
        run["run_id"] = row["id"]
        run["config"] = json.loads(row["config"])
        run["report"] = _json_or_none(row["report"])
        return run

    def get_run(self, run_id: str) -> dict[str, Any]:
        rows = self._rows("SELECT * FROM runs WHERE id = ?", [run_id])
        if not rows:
            raise NotFound(f"no evolution run with id {run_id!r}")
        return self._run(rows[0])

    def list_runs(self, skill: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Runs, newest first."""
        where, params = ("WHERE skill = ?", [skill]) if skill is not None else ("", [])
        rows = self._rows(f"SELECT * FROM runs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?", [*params, limit])
        return [self._run(row) for row in rows]

    # --- analyses ---------------------------------------------------------------------------

    def save_analysis(self, run_id: str, trajectory_id: str, kind: str, result: Mapping[str, Any] | BaseModel) -> None:
        """Keep one analyst's result; saving again for the same (run, trajectory) replaces it."""
        with write_transaction(self.db) as conn:
            conn.execute(
                "INSERT INTO analyses (run_id, trajectory_id, kind, result, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, trajectory_id) DO UPDATE SET kind = excluded.kind, result = excluded.result, "
                "created_at = excluded.created_at",
                (run_id, trajectory_id, kind, dumps(_plain(result)), iso(utcnow())),
            )

    def analyses(self, run_id: str) -> dict[str, dict[str, Any]]:
        """{trajectory_id: result} for a run, in the order first saved."""
        return {row["trajectory_id"]: row["result"] for row in self.analysis_rows(run_id)}

    def analysis_rows(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT run_id, trajectory_id, kind, result, created_at FROM analyses WHERE run_id = ? ORDER BY rowid",
            [run_id],
        )
        for row in rows:
            row["result"] = json.loads(row["result"])
        return rows

    # --- patches ----------------------------------------------------------------------------

    def save_patch(self, run_id: str, level: int, index: int, patch: Mapping[str, Any] | BaseModel) -> None:
        """Keep one patch of a merge level (level 0: one per analysed trajectory); saving again replaces it."""
        with write_transaction(self.db) as conn:
            conn.execute(
                "INSERT INTO patches (run_id, level, idx, patch, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (run_id, level, idx) DO UPDATE SET patch = excluded.patch, "
                "created_at = excluded.created_at",
                (run_id, level, index, dumps(_plain(patch)), iso(utcnow())),
            )

    def patches(self, run_id: str, level: int | None = None) -> list[dict[str, Any]]:
        """The saved patch dicts of a run (or of one level), ordered by level, then index."""
        return [row["patch"] for row in self.patch_rows(run_id, level)]

    def patch_rows(self, run_id: str, level: int | None = None) -> list[dict[str, Any]]:
        where, params = ("AND level = ?", [level]) if level is not None else ("", [])
        rows = self._rows(
            f'SELECT run_id, level, idx AS "index", patch, created_at FROM patches WHERE run_id = ? {where} '
            "ORDER BY level, idx",
            [run_id, *params],
        )
        for row in rows:
            row["patch"] = json.loads(row["patch"])
        return rows

    # --- LLM calls --------------------------------------------------------------------------

    def log_calls(self, records: Iterable[Mapping[str, Any] | BaseModel]) -> int:
        """Append LLM call records in one transaction; returns how many.

        Missing counters count as 0; keys beyond `CALL_FIELDS` are kept in an `extra` column and
        come back from `calls()`. An unknown outcome is refused before anything is written.
        """
        rows = []
        for record in records:
            data = dict(_plain(record))
            outcome = data.get("outcome", "ok")
            if outcome not in CALL_OUTCOMES:
                raise InvalidInput(f"LLM call outcome {outcome!r} is not one of {', '.join(sorted(CALL_OUTCOMES))}")
            extra = {key: value for key, value in data.items() if key not in CALL_FIELDS}
            rows.append(
                (
                    data.get("run_id"),
                    data.get("purpose"),
                    data.get("provider"),
                    data.get("model"),
                    *(int(data.get(key) or 0) for key in _COUNTERS),
                    float(data.get("cost_usd") or 0.0),
                    data.get("latency_s"),
                    outcome,
                    data.get("error"),
                    data.get("request_hash"),
                    dumps(extra) if extra else None,
                    _stamp(data.get("created_at")),
                )
            )
        if rows:
            with write_transaction(self.db) as conn:
                conn.executemany(
                    "INSERT INTO llm_calls (run_id, purpose, provider, model, input_tokens, output_tokens, "
                    "cached_tokens, cache_write_tokens, cost_usd, latency_s, outcome, error, request_hash, extra, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def calls(self, run_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Logged calls (of one run, or all), oldest first; with `limit`, only the most recent ones."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        rows = self._rows(
            f"SELECT * FROM (SELECT * FROM llm_calls {where} ORDER BY id DESC LIMIT ?) ORDER BY id",
            [*params, -1 if limit is None else limit],
        )
        for row in rows:
            extra = row.pop("extra")
            if extra:
                row.update({key: value for key, value in json.loads(extra).items() if key not in row})
        return rows

    def call_totals(self, run_id: str | None = None) -> dict[str, Any]:
        """Calls, tokens and dollars spent (of one run, or all)."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        (row,) = self._rows(
            "SELECT count(*) AS calls, coalesce(sum(input_tokens), 0) AS input_tokens, "
            "coalesce(sum(output_tokens), 0) AS output_tokens, coalesce(sum(cached_tokens), 0) AS cached_tokens, "
            "coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens, coalesce(sum(cost_usd), 0.0) AS cost_usd, "
            "coalesce(sum(outcome = 'error'), 0) AS errors, coalesce(sum(outcome = 'cache_hit'), 0) AS cache_hits "
            f"FROM llm_calls {where}",
            params,
        )
        row["cost_usd"] = float(row["cost_usd"])
        return row
