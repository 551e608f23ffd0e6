"""Turning trajectories and times into stored text and back.

Writing: `trajectory_json` serialises a trajectory through plain dicts of the models' fields, which
skips pydantic's per-part union dispatch and takes about 70% of `model_dump_json`'s time. It is
checked against `model_dump_json` on a probe covering every part type when this module loads, and
falls back to it if they ever differ (a model that gains a custom serializer, for instance).

Reading: `load_many` parses with the collector paused (see there).
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from trace2skill.errors import InvalidInput
from trace2skill.models import Trajectory, describe_validation_error, utcnow

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
    return to_json(fields)


def _pydantic_json(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    update = {"id": ident, "created_at": datetime.fromisoformat(created_at)}
    return trajectory.model_copy(update=update).model_dump_json().encode()


def _fast_path_agrees() -> bool:
    probe = _probe()
    stamp = iso(probe.created_at or utcnow())
    try:
        fast, reference = json.loads(_plain_json(probe, "t_probe", stamp)), json.loads(probe.model_dump_json())
    except Exception:  # pragma: no cover - a model change the fast path cannot follow
        return False
    same_time = datetime.fromisoformat(fast.pop("created_at")) == probe.created_at
    return same_time and fast == {key: value for key, value in reference.items() if key != "created_at"}


def trajectory_json(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    """The stored JSON (UTF-8) of `trajectory` with its id and creation time set."""
    return _SERIALIZE(trajectory, ident, created_at)


def load_trajectory(data: str | bytes) -> Trajectory:
    """A Trajectory from JSON this store wrote."""
    try:
        return Trajectory.model_validate_json(data)
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


_PLAIN_OK = _fast_path_agrees()
_SERIALIZE = _plain_json if _PLAIN_OK else _pydantic_json
