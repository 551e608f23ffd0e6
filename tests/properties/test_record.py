"""The trajectory JSON contract under generated input: `parse_trajectory` and `trace2skill record`.

Whatever an agent or a user hands over, the answer is a stored trajectory or one line from
trace2skill's own errors; nothing else escapes, and what is accepted can be stored and read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import event, given

from trace2skill.cli import cli
from trace2skill.errors import Trace2SkillError
from trace2skill.models import Trajectory, parse_trajectory
from trace2skill.store import TraceStore, open_database

from .conftest import FAST, SLOW, TRAJECTORY_INPUTS, json_texts, slow

TEXT_INPUTS = json_texts(TRAJECTORY_INPUTS)


@pytest.fixture(scope="module")
def store() -> Iterator[TraceStore]:
    db = open_database(":memory:")
    yield TraceStore(db)
    db.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("record") / "home"


def accepted_or_refused(raw: Any, store: TraceStore) -> None:
    """A Trajectory that the store takes and gives back, or a Trace2SkillError; nothing else."""
    try:
        trajectory = parse_trajectory(raw)
    except Trace2SkillError as e:
        assert str(e) and "\n" not in str(e)
        event("refused")
        return
    event("accepted")
    assert isinstance(trajectory, Trajectory)
    stored = store.get(store.add(trajectory.model_copy(update={"id": None})))
    assert stored.task == trajectory.task and len(stored.messages) == len(trajectory.messages)


def record_answers_in_one_line(raw: str, home: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(home), "record", "-"], input=raw.encode("utf-8", "surrogatepass"))
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    if result.exit_code == 0:
        assert result.stdout.strip().startswith("t_")
        return
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "internal error" not in lines[0] and "Traceback" not in result.output


@FAST
@given(TRAJECTORY_INPUTS)
def test_any_decoded_value_parses_to_a_trajectory_or_one_line(store: TraceStore, value: Any) -> None:
    accepted_or_refused(value, store)


@FAST
@given(TEXT_INPUTS)
def test_any_text_parses_to_a_trajectory_or_one_line(store: TraceStore, text: str) -> None:
    accepted_or_refused(text, store)
    accepted_or_refused(text.encode("utf-8", "surrogatepass"), store)


@FAST
@given(TEXT_INPUTS)
def test_trace2skill_record_answers_any_input_with_an_id_or_one_error_line(home: Path, text: str) -> None:
    record_answers_in_one_line(text, home)


@slow
@SLOW
@given(TRAJECTORY_INPUTS)
def test_ten_thousand_decoded_values(store: TraceStore, value: Any) -> None:
    accepted_or_refused(value, store)


@slow
@SLOW
@given(TEXT_INPUTS)
def test_ten_thousand_texts(store: TraceStore, text: str) -> None:
    accepted_or_refused(text, store)


@slow
@SLOW
@given(TEXT_INPUTS)
def test_ten_thousand_inputs_to_trace2skill_record(home: Path, text: str) -> None:
    record_answers_in_one_line(text, home)
