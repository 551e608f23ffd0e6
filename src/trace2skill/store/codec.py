"""Turning trajectories and times into stored text and back, through pydantic's own JSON methods.

Writing: `trajectory_json` dumps a copy of the trajectory with the row's id and creation time
(`TypeAdapter.dump_json`, bytes). pydantic writes the values it converts in JSON mode as it
documents (a set as a list, bytes as text, non-finite floats as `null`, since standard JSON has no
NaN); a value it cannot serialise is a clear error and nothing is stored.

Reading: `Trajectory.model_validate_json`, every check the trajectory passed on its way in, so a
row edited by hand is held to the public contract too. `load_many` also pauses the cyclic collector.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from trace2skill.errors import InvalidInput
from trace2skill.models import Trajectory, describe_validation_error, utcnow

__all__ = ["dumps", "iso", "load_many", "load_trajectory", "parse_time", "trajectory_json"]

_TRAJECTORY = TypeAdapter(Trajectory)


def trajectory_json(trajectory: Trajectory, ident: str, created_at: str) -> bytes:
    """The stored JSON (UTF-8) of `trajectory` with its id and creation time (ISO 8601) set."""
    stored = trajectory.model_copy(update={"id": ident, "created_at": datetime.fromisoformat(created_at)})
    try:
        return _TRAJECTORY.dump_json(stored)
    except PydanticSerializationError as e:
        raise InvalidInput(f"trajectory {ident!r} holds a value that cannot be stored as JSON: {e}") from None


def load_trajectory(data: str | bytes) -> Trajectory:
    """A Trajectory from stored JSON, fully validated."""
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
_DAYS = {"s": 1 / 86_400, "m": 1 / 1_440, "h": 1 / 24, "d": 1, "w": 7}


MAX_AGE = timedelta(days=36_525)
"""The oldest relative age a filter takes (100 years); a larger one is a typo, said so, not an overflow."""


def parse_time(value: datetime | date | str | None) -> datetime | None:
    """A moment from a datetime, a date, ISO 8601 text, or a relative age such as `30m`, `24h`, `7d`.

    Every time a filter takes goes through here, so the bounds are checked once: an age is at most
    `MAX_AGE`, and a moment must be one that UTC can represent (year 1 to 9999)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _in_utc(value, repr(value))
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2).lower()
        days = amount * _DAYS[unit]
        if days > MAX_AGE.days:
            raise InvalidInput(
                f"the age {text[:40]!r} is more than {MAX_AGE.days:,} days (100 years); use a smaller one, "
                "such as 30d, or an ISO date"
            )
        return utcnow() - timedelta(days=days)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"cannot read {text[:60]!r} as a time: use ISO 8601 (2026-01-31 or 2026-01-31T12:00:00Z) "
            "or an age such as 30m, 24h, 7d"
        ) from None
    return _in_utc(moment, repr(text[:60]))


def _in_utc(moment: datetime, shown: str) -> datetime:
    """`moment` as given, once checked that UTC can hold it (`iso` converts it later; naive means UTC);
    InvalidInput for year 1 or 9999 with an offset that pushes it out."""
    try:
        (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(f"the time {shown} is out of range: use a date between the years 1 and 9999") from None
    return moment
