"""trace2skill's own trajectory JSON: what `trace2skill traces export` writes and `record` reads.

One trajectory in its public JSON form (docs/ARCHITECTURE.md, Trajectory) a line (JSONL), or a JSON
document holding one trajectory or a list of them. Nothing is converted: each record is validated
as the contract says and keeps its id and creation time, so an export imported into another home
and exported again gives the same bytes. Import options and redaction are applied by the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trace2skill.importers.common import RecordError, load_json_line, read_lines
from trace2skill.importers.jsonstream import JsonStreamError, iter_json
from trace2skill.models import InvalidTrajectory, Trajectory, parse_trajectory

__all__ = ["FORMAT", "looks_native", "read"]

FORMAT = "trace2skill"
_FIELDS = frozenset(Trajectory.model_fields)
_ROLES = frozenset({"system", "user", "assistant", "tool"})
_PARTS = frozenset({"text", "reasoning", "tool_call", "tool_result"})


def looks_native(value: Any) -> bool:
    """Whether a decoded record is a stored trajectory in our public JSON form, as an export writes it (with
    its `id`; a bare `{"task", "messages"}` record is left to the chat formats), not another format's chat."""
    if not isinstance(value, dict) or not isinstance(value.get("task"), str) or not set(value) <= _FIELDS:
        return False
    if not isinstance(value.get("id"), str):
        return False
    messages = value.get("messages")
    if not isinstance(messages, list):
        return False
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return False
        if not set(message) <= {"role", "content", "timestamp"}:
            return False
        content = message.get("content")
        if isinstance(content, list) and not all(isinstance(p, dict) and p.get("type") in _PARTS for p in content):
            return False
    return True


def _first_line_is_json(path: Path) -> bool:
    for _, line in read_lines(path):
        try:
            load_json_line(line)
        except json.JSONDecodeError:
            return False
        return True
    return False


def read(path: Path) -> Iterator[tuple[str, Trajectory] | RecordError]:
    """(`path:line`, trajectory) for each record of the file (`path#index` in a JSON list), or a RecordError."""
    if _first_line_is_json(path):
        for number, line in read_lines(path):
            yield _parsed(f"{path}:{number}", line)
        return
    try:
        for index, value in iter_json(path):
            yield _parsed(str(path) if index is None else f"{path}#{index}", value)
    except JsonStreamError as e:
        yield RecordError(str(path), f"invalid JSON: {e}")


def _parsed(source: str, raw: Any) -> tuple[str, Trajectory] | RecordError:
    if not isinstance(raw, str | dict):
        return RecordError(source, f"expected a trajectory (a JSON object), got {type(raw).__name__}")
    try:
        return source, parse_trajectory(raw)
    except InvalidTrajectory as e:
        return RecordError(source, str(e))
