"""What the full-text index holds for one trajectory: the row of `trajectories_fts`.

Five columns (`schema.FTS_COLUMNS`): the task, the final answer, the outcome's feedback, the run's
message text and the names of the tools it called. Message text is every text part and every tool
result's output, in order, joined by newlines and bounded to its first `MESSAGE_TEXT_CHARS`
characters per run: enough for the errors and tool output a person searches for, while a million
runs stay a small index and a bulk import stays fast (reasoning and tool-call arguments are not
indexed). Tool names are each name once, in first-call order.

The same row is computed from a Trajectory when storing (`fts_row`) and from its stored JSON when
an older database is migrated (`fts_row_from_json`); the two agree (tests/store/test_search.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from trace2skill.models import TextPart, ToolCallPart, ToolResultPart, Trajectory
from trace2skill.store.schema import DATA_TABLE, FTS_COLUMNS, FTS_TABLE

__all__ = ["MESSAGE_TEXT_CHARS", "FtsRow", "fts_row", "fts_row_from_json", "reindex_all"]

MESSAGE_TEXT_CHARS = 16_000
"""Characters of message text and tool output indexed per run (the first ones)."""

FtsRow = tuple[str, str | None, str | None, str, str]
_INSERT = f"INSERT INTO {FTS_TABLE} (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"
_REINDEX_BATCH = 1_000


def _bounded(pieces: Iterable[str]) -> str:
    kept: list[str] = []
    room = MESSAGE_TEXT_CHARS
    for piece in pieces:
        if not piece:
            continue
        if len(piece) >= room:
            kept.append(piece[:room])
            break
        kept.append(piece)
        room -= len(piece) + 1
        if room <= 0:
            break
    return "\n".join(kept)


def _output_text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)


def fts_row(trajectory: Trajectory) -> FtsRow:
    """The full-text row of `trajectory` (without its rowid)."""
    names: dict[str, None] = {}

    def texts() -> Iterator[str]:
        for message in trajectory.messages:
            for part in message.content:
                if isinstance(part, TextPart):
                    yield part.text
                elif isinstance(part, ToolResultPart):
                    yield part.output_text

    for message in trajectory.messages:
        for part in message.content:
            if isinstance(part, ToolCallPart):
                names.setdefault(part.name)
    return (
        trajectory.task,
        trajectory.final_answer,
        trajectory.outcome.feedback,
        _bounded(texts()),
        " ".join(names),
    )


def fts_row_from_json(data: str | bytes) -> FtsRow:
    """The same row as `fts_row`, from a trajectory's stored JSON (no model validation: a migration must not
    stop at one odd row)."""
    value = json.loads(data)
    messages = [m for m in value.get("messages") or [] if isinstance(m, dict)]
    parts: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):  # the public form's shorthand for one text part
            parts.append({"type": "text", "text": content})
        elif isinstance(content, list):
            parts.extend(p for p in content if isinstance(p, dict))

    def texts() -> Iterator[str]:
        for part in parts:
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                yield part["text"]
            elif part.get("type") == "tool_result":
                yield _output_text(part.get("output", ""))

    names = {str(p["name"]): None for p in parts if p.get("type") == "tool_call" and p.get("name")}
    outcome = value.get("outcome") if isinstance(value.get("outcome"), dict) else {}
    return (
        str(value.get("task") or ""),
        value.get("final_answer"),
        outcome.get("feedback"),
        _bounded(texts()),
        " ".join(names),
    )


def reindex_all(conn: sqlite3.Connection) -> int:
    """Fill the (empty) full-text table from every stored trajectory's JSON; returns the rows indexed.

    Runs inside the caller's transaction (a migration), reading the JSON table in key order a batch at a time.
    """
    last = 0
    done = 0
    while True:
        rows = conn.execute(
            f"SELECT seq, data FROM {DATA_TABLE} WHERE seq > ? ORDER BY seq LIMIT ?", (last, _REINDEX_BATCH)
        ).fetchall()
        if not rows:
            return done
        conn.executemany(_INSERT, [(seq, *fts_row_from_json(data)) for seq, data in rows])
        last = rows[-1][0]
        done += len(rows)
