from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlite_utils
from pydantic import ValidationError

from trace2skill.errors import InvalidInput
from trace2skill.models import LIMITS, InvalidTrajectory, Trajectory, parse_trajectory
from trace2skill.store import TraceStore, codec, parse_time

from .conftest import MakeTrajectory, trajectory_data


def test_stored_json_is_pydantics_own_with_the_rows_id_and_time(make_trajectory: MakeTrajectory) -> None:
    original = make_trajectory(2, tags=["x", "y"], artifacts=[{"name": "o.csv", "content": "a,b"}])
    stamp = codec.iso(datetime(2026, 1, 2, 3, 4, 5, 6))
    stored = codec.trajectory_json(original, "t_x", stamp)
    expected = original.model_copy(update={"id": "t_x", "created_at": datetime.fromisoformat(stamp)})
    assert json.loads(stored) == json.loads(expected.model_dump_json())
    assert original.id is None and original.created_at is None  # the caller's trajectory is left as it was


def test_values_pydantic_converts_are_stored_in_its_json_forms(make_trajectory: MakeTrajectory) -> None:
    odd = make_trajectory(1, metadata={"big": 2**70, "set": {3}, "raw": b"xy"})
    stored = codec.trajectory_json(odd, "t_odd", codec.iso(datetime(2026, 1, 1)))
    assert codec.load_trajectory(stored).metadata == {"big": 2**70, "set": [3], "raw": "xy"}


def test_a_value_no_encoder_can_store_is_a_clear_error_and_writes_nothing(
    store: TraceStore, make_trajectory: MakeTrajectory
) -> None:
    unstorable = make_trajectory(1, metadata={"handle": object()})  # validation measures it with str()
    with pytest.raises(InvalidInput, match="holds a value that cannot be stored as JSON"):
        store.add(unstorable)
    assert store.count() == 0


def test_non_finite_floats_in_free_form_values_are_stored_as_null(make_trajectory: MakeTrajectory) -> None:
    odd = make_trajectory(1, metadata={"nan": math.nan, "inf": math.inf, "ok": 1.5})
    stored = codec.trajectory_json(odd, "t_nan", codec.iso(datetime(2026, 1, 1)))
    assert codec.load_trajectory(stored).metadata == {"nan": None, "inf": None, "ok": 1.5}


def test_stored_json_round_trips_every_field(make_trajectory: MakeTrajectory) -> None:
    original = make_trajectory(3, reference=[1, {"a": None}], metadata={"x": None, "y": [1.5, "z"]})
    stamp = codec.iso(datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC))
    loaded = codec.load_trajectory(codec.trajectory_json(original, "t_x", stamp).decode())
    assert loaded.model_dump(exclude={"id", "created_at"}) == original.model_dump(exclude={"id", "created_at"})
    assert loaded.id == "t_x" and loaded.created_at == datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_hand_edited_json_is_still_read_and_broken_json_is_a_clear_error() -> None:
    shorthand = json.dumps(trajectory_data(1))  # string `content`, which stored JSON never has
    assert codec.load_trajectory(shorthand).messages[0].text == "Sum column B of sales1.xlsx into B20"
    with pytest.raises(InvalidInput, match="a stored trajectory no longer validates"):
        codec.load_trajectory('{"task": "x"}')


def test_a_stored_row_edited_past_a_limit_is_a_clear_error_when_read(
    store: TraceStore, db: sqlite_utils.Database, make_trajectory: MakeTrajectory
) -> None:
    ident = store.add(make_trajectory(1))
    (data,) = db.execute("SELECT data FROM trajectory_data").fetchone()
    edited = {**json.loads(data), "metadata": {"blob": "x" * LIMITS.metadata_bytes}}
    db.execute("UPDATE trajectory_data SET data = ?", [json.dumps(edited)])
    with pytest.raises(InvalidInput, match=r"a stored trajectory no longer validates: metadata: .*the limit is"):
        store.get(ident)


@pytest.mark.parametrize(
    ("where", "oversized"),
    [
        ("metadata", {"metadata": {"blob": "x" * LIMITS.metadata_bytes}}),
        (
            "tool_result.output",
            {
                "messages": [
                    {"role": "tool", "content": [{"type": "tool_result", "output": "x" * LIMITS.json_value_bytes}]}
                ]
            },
        ),
        ("artifact", {"artifacts": [{"name": "big.txt", "content": "x" * (LIMITS.artifact_bytes + 1)}]}),
    ],
)
def test_outside_input_gets_every_size_check(store: TraceStore, where: str, oversized: dict[str, Any]) -> None:
    data = trajectory_data(1, **oversized)
    for entry in (lambda: parse_trajectory(data), lambda: parse_trajectory(json.dumps(data))):
        with pytest.raises(InvalidTrajectory, match=where):
            entry()
    for raw in (data, json.dumps(data), json.dumps(data).encode()):
        with pytest.raises(InvalidTrajectory, match=where):
            store.add(raw)
    with pytest.raises(ValidationError, match=where):
        Trajectory.model_validate_json(json.dumps(data))
    assert store.count() == 0


def test_load_many_keeps_order_and_restores_the_collector() -> None:
    import gc

    items = [Trajectory(task=f"t{i}", messages=[]).model_dump_json() for i in range(5)]
    assert [t.task for t in codec.load_many(items)] == ["t0", "t1", "t2", "t3", "t4"]
    assert gc.isenabled()


def test_iso_is_fixed_width_utc_and_sorts_like_time() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)
    assert codec.iso(naive) == "2026-01-02T03:04:05.000000+00:00"
    later = datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)
    east = datetime(2026, 1, 2, 5, 5, tzinfo=timezone(timedelta(hours=2)))  # 03:05 UTC
    assert codec.iso(east) == "2026-01-02T03:05:00.000000+00:00"
    assert codec.iso(naive) < codec.iso(later) < codec.iso(east)


def test_parse_time_reads_iso_dates_and_ages() -> None:
    assert parse_time("2026-01-31") == datetime(2026, 1, 31)
    assert parse_time("2026-01-31T12:00:00Z") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    age = datetime.now(UTC) - parse_time("24h")  # type: ignore[operator]
    assert timedelta(hours=23, minutes=59) < age < timedelta(hours=24, minutes=1)
    assert parse_time(None) is None
    with pytest.raises(InvalidInput, match="cannot read 'last week' as a time"):
        parse_time("last week")
