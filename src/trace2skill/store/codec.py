"""Turning trajectories and times into stored text and back.

Writing: `trajectory_json` hands the trajectory's field dict to orjson, which reaches the nested
messages, parts, outcome and artifacts through a hook returning their field dicts: no dicts are
built in Python and no per-part union dispatch happens (about 35% of `model_dump_json`'s time). A
value orjson has no form for (a set, bytes, an integer beyond 64 bits, a model of another class)
sends that trajectory through pydantic-core's encoder instead. Non-finite floats inside free-form
JSON values (metadata, tool arguments and outputs, reference) are stored as `null`, as standard JSON
has no NaN. When this module loads, a probe covering every part type must round-trip to an equal
Trajectory through each path, or `model_dump_json` is used.

Reading: stored rows were validated on their way in, so they are read through the models'
trusted path (`load_trusted_trajectory`: pydantic-core's checks without the Python validators,
about 60% of the time of full validation); `load_many` also pauses the cyclic collector.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, to_json

from trace2skill.errors import InvalidInput
from trace2skill.models import (
    Artifact,
    Message,
    Outcome,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Trajectory,
    describe_validation_error,
    load_trusted_trajectory,
    utcnow,
)

__all__ = ["dumps", "iso", "load_many", "load_trajectory", "parse_time", "trajectory_json"]


def _probe() -> Trajectory:
    """A trajectory using every kind of field, for checking the fast paths against pydantic's own."""
    return Trajectory.model_validate(
        {
            "id": "t_probe",
            "task": "probe \u00e9\u4e2d",
            "skill": "probe-skill",
            "skill_version": 2,
            "messages": [
                {"role": "system", "content": "be brief", "timestamp": "2026-01-02T03:04:05Z"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "reasoning", "text": "think"},
                        {"type": "text", "text": "go"},
                        {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"cmd": ["ls", 1, None]}},
                        {"type": "tool_call", "name": "raw", "arguments": "{not json"},
                    ],
                },
                {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": "c1", "output": {"rows": [1.5]}}]},
                {"role": "tool", "content": [{"type": "tool_result", "output": "boom", "is_error": True}]},
            ],
            "outcome": {"status": "partial", "score": 0.5, "feedback": "close", "judged_by": "human"},
            "final_answer": "42",
            "reference": {"answer": [42]},
            "artifacts": [{"name": "out.txt", "content": "aGk=", "encoding": "base64", "media_type": "text/plain"}],
            "tags": ["a", "b"],
            "metadata": {"model": "m", "nested": {"x": None}},
            "created_at": "2026-01-02T03:04:05.123456+00:00",
        }
    )


_NESTED = frozenset({Message, TextPart, ReasoningPart, ToolCallPart, ToolResultPart, Outcome, Artifact})


def _fields(value: Any) -> dict[str, Any]:
    """orjson's hook for the models inside a trajectory: their own field dicts (no copies)."""
    if type(value) in _NESTED:
        return value.__dict__
    raise TypeError  # anything else goes through `_plain_json`


def _orjson(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    fields = trajectory.__dict__.copy()
    fields["id"] = ident
    fields["created_at"] = created_at
    try:
        return orjson.dumps(fields, default=_fields)
    except orjson.JSONEncodeError:
        return _plain_json(trajectory, ident, created_at)


def _plain_json(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    fields = trajectory.__dict__.copy()
    fields["id"] = ident
    fields["created_at"] = created_at
    fields["messages"] = [
        {**message.__dict__, "content": [part.__dict__ for part in message.content]} for message in trajectory.messages
    ]
    fields["outcome"] = trajectory.outcome.__dict__
    if trajectory.artifacts:
        fields["artifacts"] = [artifact.__dict__ for artifact in trajectory.artifacts]
    try:
        return to_json(fields)
    except PydanticSerializationError as e:
        raise InvalidInput(f"trajectory {ident!r} holds a value that cannot be stored as JSON: {e}") from None


def _pydantic_json(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    update = {"id": ident, "created_at": datetime.fromisoformat(created_at)}
    return trajectory.model_copy(update=update).model_dump_json().encode()


def _round_trips(serialize: Callable[[Trajectory, str, str], bytes]) -> bool:
    """Whether `serialize` stores the probe so that it reads back as an equal Trajectory."""
    probe = _probe()
    stamp = iso(probe.created_at or utcnow())
    try:
        return Trajectory.model_validate_json(serialize(probe, "t_probe", stamp)) == probe
    except Exception:  # pragma: no cover - a model change the fast path cannot follow
        return False


def trajectory_json(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    """The stored JSON (UTF-8) of `trajectory` with its id and creation time set."""
    return _SERIALIZE(trajectory, ident, created_at)


def load_trajectory(data: str | bytes) -> Trajectory:
    """A Trajectory from JSON this store wrote (the trusted path; anything else gets full validation)."""
    try:
        return load_trusted_trajectory(data)
    except ValidationError as e:
        raise InvalidInput(f"a stored trajectory no longer validates: {describe_validation_error(e)}") from None


def load_many(data: Iterable[str]) -> list[Trajectory]:
    """Many Trajectories from stored JSON, with the cyclic garbage collector paused meanwhile.

    Loading a thousand trajectories creates some fifty thousand objects and no reference cycles;
    with the collector running, its passes over the growing heap cost as much as the parsing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [load_trajectory(item) for item in data]
    finally:
        if was_enabled:
            gc.enable()


def dumps(value: Any) -> str:
    """Compact JSON for the metadata columns (runs, analyses, patches, calls)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def iso(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601 (microseconds, +00:00), so text order is time order. Naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: datetime | date | str | None) -> datetime | None:
    """A moment from a datetime, a date, ISO 8601 text, or a relative age such as `30m`, `24h`, `7d`."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        return utcnow() - timedelta(**{_UNITS[unit]: amount})
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"cannot read {text[:60]!r} as a time: use ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z) "
            "or an age such as 30m, 24h, 7d"
        ) from None


def _serializer() -> Callable[[Trajectory, str, str], bytes]:
    if not _round_trips(_plain_json):  # pragma: no cover - see the module docstring
        return _pydantic_json
    return _orjson if _round_trips(_orjson) else _plain_json


_SERIALIZE = _serializer()
