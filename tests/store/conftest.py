from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from trace2skill.models import Trajectory, parse_trajectory
from trace2skill.store import TraceStore, open_database

MakeTrajectory = Callable[..., Trajectory]


def trajectory_data(i: int = 0, **fields: Any) -> dict[str, Any]:
    """A small but complete trajectory in its public JSON form; `fields` override the top level."""
    data: dict[str, Any] = {
        "task": f"Sum column B of sales{i}.xlsx into B20",
        "skill": "xlsx",
        "messages": [
            {"role": "user", "content": f"Sum column B of sales{i}.xlsx into B20"},
            {
                "role": "assistant",
                "content": [
                    {"type": "reasoning", "text": "Inspect first."},
                    {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "python inspect.py"}},
                ],
            },
            {
                "role": "tool",
                "content": [
                    {"type": "tool_result", "tool_call_id": "c1", "output": "KeyError: 'Sheet1'", "is_error": True}
                ],
            },
            {"role": "assistant", "content": "Done: B20 = SUM(B2:B19)."},
        ],
        "outcome": {"status": "failure", "score": 0.0, "feedback": "B20 empty in output"},
        "final_answer": "B20 = SUM(B2:B19)",
        "tags": ["spreadsheet"],
        "metadata": {"model": "claude-sonnet-4-5", "agent": "claude-code", "n": i},
    }
    data.update(fields)
    return data


@pytest.fixture
def make_trajectory() -> MakeTrajectory:
    def make(i: int = 0, **fields: Any) -> Trajectory:
        return parse_trajectory(trajectory_data(i, **fields))

    return make


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "trace2skill.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite_utils.Database]:
    database = open_database(db_path)
    yield database
    database.close()


@pytest.fixture
def store(db: sqlite_utils.Database) -> TraceStore:
    return TraceStore(db)
