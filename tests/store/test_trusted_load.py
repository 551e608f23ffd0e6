"""The trusted load path (`models.load_trusted_trajectory`) that the store reads its own rows through.

It must give exactly what full validation gives for rows the store wrote, really leave out the
Python validators (else it saves nothing), and be used by nothing that reads outside input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from pydantic import BaseModel, ValidationError

import trace2skill
from trace2skill import models
from trace2skill.errors import InvalidInput
from trace2skill.models import LIMITS, InvalidTrajectory, Trajectory, load_trusted_trajectory, parse_trajectory
from trace2skill.store import TraceStore, codec

from .conftest import MakeTrajectory, trajectory_data


def stored_json(db: sqlite_utils.Database, ident: str) -> str:
    row = db.execute(
        "SELECT d.data FROM trajectories t JOIN trajectory_data d ON d.seq = t.seq WHERE t.id = ?", [ident]
    ).fetchone()
    return row[0]


def models_in(value: Any) -> list[BaseModel]:
    """Every model inside `value`, depth first, so nested types and field sets can be compared."""
    if isinstance(value, BaseModel):
        return [value, *(m for field in value.__dict__.values() for m in models_in(field))]
    if isinstance(value, list):
        return [m for item in value for m in models_in(item)]
    return []


def test_a_stored_trajectory_loads_identically_through_the_trusted_path(
    store: TraceStore, db: sqlite_utils.Database, make_trajectory: MakeTrajectory
) -> None:
    originals = [
        make_trajectory(1, reference={"answer": [42, None]}, artifacts=[{"name": "o.csv", "content": "a,b"}]),
        make_trajectory(2, outcome="success", tags=["x", "y"], metadata={}),
        codec._probe().model_copy(update={"id": None}),
        Trajectory(task="bare", messages=[]),
    ]
    for original in originals:
        ident = store.add(original)
        data = stored_json(db, ident)
        trusted, full = load_trusted_trajectory(data), Trajectory.model_validate_json(data)
        assert trusted == full == store.get(ident)
        assert trusted.model_dump(exclude={"id", "created_at"}) == original.model_dump(exclude={"id", "created_at"})
        pairs = list(zip(models_in(trusted), models_in(full), strict=True))
        assert all(type(a) is type(b) and a.model_fields_set == b.model_fields_set for a, b in pairs)


def test_the_trusted_validator_really_leaves_out_the_python_validators() -> None:
    assert models._TRUSTED is not None  # else every read silently pays for full validation
    stored = json.loads(Trajectory(task="t", messages=[{"role": "tool", "content": []}]).model_dump_json())
    # Over the limits, which only Python validators check: one on the top model, one on a nested part.
    stored["metadata"] = {"blob": "x" * LIMITS.metadata_bytes}
    stored["messages"][0]["content"] = [{"type": "tool_result", "output": "y" * LIMITS.json_value_bytes}]
    text = json.dumps(stored)
    loaded = load_trusted_trajectory(text)
    assert len(loaded.metadata["blob"]) == LIMITS.metadata_bytes
    assert len(loaded.tool_results[0].output) == LIMITS.json_value_bytes
    with pytest.raises(ValidationError, match="metadata is"):
        Trajectory.model_validate_json(text)
    # Compiling it left the models as pydantic built them.
    classes = (Trajectory, models.Message, models.TextPart, models.ToolCallPart, models.ToolResultPart, models.Outcome)
    assert all(cls.__dict__["__pydantic_complete__"] is True for cls in classes)


def test_pydantic_cores_own_checks_still_apply_on_the_trusted_path() -> None:
    assert models._TRUSTED is not None
    stored = json.loads(Trajectory(task="t", messages=[{"role": "user", "content": "hi"}]).model_dump_json())
    for field, bad in (("role", "robot"), ("content", [{"type": "text", "text": "x" * (LIMITS.text_chars + 1)}])):
        broken = json.loads(json.dumps(stored))
        broken["messages"][0][field] = bad
        with pytest.raises(ValidationError):
            models._TRUSTED.validate_json(json.dumps(broken))
        with pytest.raises(InvalidInput, match="a stored trajectory no longer validates"):
            codec.load_trajectory(json.dumps(broken))


def test_a_hand_edited_row_in_a_shorthand_form_gets_full_validation() -> None:
    shorthand = json.dumps(trajectory_data(1, outcome="success"))  # string content, string outcome
    loaded = load_trusted_trajectory(shorthand)
    assert loaded == Trajectory.model_validate_json(shorthand)
    assert loaded.messages[0].text == "Sum column B of sales1.xlsx into B20" and loaded.outcome.status == "success"


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
def test_outside_input_still_gets_every_size_check(store: TraceStore, where: str, oversized: dict[str, Any]) -> None:
    data = trajectory_data(1, **oversized)
    for entry in (lambda: parse_trajectory(data), lambda: parse_trajectory(json.dumps(data))):
        with pytest.raises(InvalidTrajectory, match=where):
            entry()
    for raw in (data, json.dumps(data), json.dumps(data).encode()):
        with pytest.raises(InvalidTrajectory, match=where):
            store.add(raw)
    with pytest.raises(ValidationError, match=where):
        Trajectory.model_validate_json(json.dumps(data))
    with pytest.raises(ValidationError, match=where):
        Trajectory(**data)
    assert store.count() == 0


def test_only_the_store_reads_through_the_trusted_path() -> None:
    package = Path(trace2skill.__file__).parent
    users = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "load_trusted_trajectory" in path.read_text(encoding="utf-8")
    }
    assert users == {"models.py", "store/codec.py"}
