"""A model URL with a typo, or a server that is down, ends `evolve`, `bench` and `traces judge` in seconds
with one message naming the URL; what finished is kept and the resume command is printed.

The model is the real OpenAI SDK client pointed at a loopback port nothing listens on.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.doubles.simulated import make_skill, make_trajectories

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    ws = Workspace.open(Home(folder))
    ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    ws.traces.add_many(make_trajectories(42, seed=11))
    ws.traces.add({"task": "Unjudged", "messages": [{"role": "user", "content": "hi"}]})
    ws.close()
    return folder


@pytest.fixture
def model() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"openai:gpt-test@http://127.0.0.1:{port}/v1"


def run(home: Path, *args: str) -> tuple[Result, float]:
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    return result, time.monotonic() - started


def last_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr.strip().splitlines()[-1]


def test_evolve_against_a_closed_port_stops_in_seconds_with_one_message_and_a_resume_command(
    home: Path, model: str
) -> None:
    result, seconds = run(home, "evolve", "sheets", "--model", model, "--json")
    assert seconds < 10
    url = model.split("@", 1)[1]
    (listed,) = json.loads(run(home, "runs", "list", "--json")[0].stdout)
    resume = f"trace2skill evolve sheets --resume {listed['id']}"
    assert last_error(result) == (
        f"Error: cannot reach openai:gpt-test at {url}: connection refused (tried 3 times); check the URL and that the "
        f"server is running (what finished is kept: resume with `{resume}` once it answers; for a wrong URL, fix "
        "--model)"
    )
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and listed["status"] == "failed"
    assert len(report["notes"]) == len(set(report["notes"]))  # no note repeated per trajectory
    assert not any("failed" in note for note in report["notes"])


def test_bench_against_a_closed_port_stops_with_one_message(home: Path, model: str, tmp_path: Path) -> None:
    suite = tmp_path / "suite.jsonl"
    rows = [
        {"id": f"q{i}", "task": f"What is {i} + 1?", "reference": str(i + 1), "evaluator": "exact"}
        | {"split": "evolve" if i < 4 else "test"}
        for i in range(8)
    ]
    suite.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result, seconds = run(
        home, "bench", "--suite", str(suite), "--model", model, "--skill", "sheets", "--train", "4", "--test", "4"
    )
    assert seconds < 20
    url = model.split("@", 1)[1]
    assert last_error(result) == (
        f"Error: cannot reach openai:gpt-test at {url}: connection refused (tried 3 times); check the URL and that the "
        "server is running (what finished is kept: run the same command again to resume once it answers)"
    )


def test_judge_against_a_closed_port_stops_with_one_message(home: Path, model: str) -> None:
    result, seconds = run(home, "traces", "judge", "--model", model)
    assert seconds < 10
    assert last_error(result).endswith(
        "connection refused (tried 3 times); check the URL and that the server is running (the runs labelled so far "
        "are kept; run the same command for the rest)"
    )
    unknown: list[Any] = json.loads(run(home, "traces", "list", "--outcome", "unknown", "--json")[0].stdout)
    assert [t["task"] for t in unknown] == ["Unjudged"]
