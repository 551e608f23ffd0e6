from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.cli import traces as traces_cli
from trace2skill.home import Home
from trace2skill.models import LIMITS
from trace2skill.workspace import Workspace

EXAMPLE: dict[str, Any] = {
    "task": "Sum column B of sales.xlsx into B20",
    "skill": "xlsx",
    "messages": [
        {"role": "user", "content": "Sum column B of sales.xlsx into B20"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll inspect the sheet first."},
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
    "metadata": {"model": "claude-sonnet-4-5", "agent": "claude-code"},
}


def run(home: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin, catch_exceptions=False)


def ok(home: Path, *args: str, stdin: str | None = None) -> Result:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def as_json(home: Path, *args: str, stdin: str | None = None) -> Any:
    return json.loads(ok(home, *args, "--json", stdin=stdin).stdout)


def fails(home: Path, *args: str, stdin: str | None = None) -> str:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def stored(home: Path) -> list[str]:
    workspace = Workspace.open(Home(home))
    try:
        return [t.id for t in workspace.traces.filter(limit=None)]  # type: ignore[misc]
    finally:
        workspace.close()


def record(home: Path, data: dict[str, Any] | None = None, *args: str) -> str:
    return as_json(home, "record", *args, stdin=json.dumps(data or EXAMPLE))["id"]


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(EXAMPLE))
    return path


def test_record_from_a_file_prints_the_id_and_show_gives_it_back(home: Path, example_file: Path) -> None:
    ident = ok(home, "record", str(example_file)).stdout.strip()
    assert stored(home) == [ident]
    shown = as_json(home, "traces", "show", ident)
    assert shown["id"] == ident and shown["task"] == EXAMPLE["task"] and shown["outcome"]["status"] == "failure"
    text = ok(home, "traces", "show", ident).stdout
    assert ident in text and "outcome  failure 0" in text and "→ bash" in text and "← error KeyError" in text


def test_record_from_stdin_with_overrides(home: Path) -> None:
    ident = record(home, EXAMPLE, "--skill", "pdf-tools", "--outcome", "success", "--tag", "batch-1")
    shown = as_json(home, "traces", "show", ident)
    assert shown["skill"] == "pdf-tools"
    assert shown["outcome"] == {"status": "success", "score": 0.0, "feedback": "B20 empty in output", "judged_by": None}
    assert shown["tags"] == ["spreadsheet", "batch-1"]
    assert ok(home, "record", "-", stdin=json.dumps(EXAMPLE)).stdout.startswith("t_")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "Error: not valid JSON"),
        ("[1, 2]", "Error: a trajectory is a JSON object, got list"),
        (json.dumps({"task": "x"}), "Error: messages: Field required"),
        (json.dumps({**EXAMPLE, "skill": "Bad Name"}), "Error: skill: Value error, skill name 'Bad Name'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_stores_nothing(home: Path, payload: str, message: str) -> None:
    assert fails(home, "record", stdin=payload).startswith(message)
    assert fails(home, "record", "--skill", "NOPE", stdin=json.dumps(EXAMPLE)).startswith("Error: skill:")
    assert stored(home) == []


def test_a_missing_file_or_an_oversized_trajectory_is_a_clear_error(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fails(home, "record", str(tmp_path / "nope.json")) == (
        f"Error: cannot read {str(tmp_path / 'nope.json')!r}: No such file or directory"
    )
    monkeypatch.setattr(traces_cli, "LIMITS", LIMITS.model_copy(update={"trajectory_bytes": 100}))
    assert fails(home, "record", stdin=json.dumps(EXAMPLE)) == (
        "Error: the trajectory is over 100 bytes, the limit (trim tool outputs)"
    )
    assert stored(home) == []


def test_list_filters_and_pages_newest_first(home: Path) -> None:
    first = record(home, {**EXAMPLE, "created_at": "2026-01-01T00:00:00Z"})
    second = record(home, {**EXAMPLE, "skill": "pdf", "outcome": "success", "created_at": "2026-01-02T00:00:00Z"})
    third = record(home, {**EXAMPLE, "tags": ["spreadsheet", "urgent"], "created_at": "2026-01-03T00:00:00Z"})
    assert [r["id"] for r in as_json(home, "traces", "list")] == [third, second, first]
    assert [r["id"] for r in as_json(home, "traces", "list", "--skill", "xlsx")] == [third, first]
    assert [r["id"] for r in as_json(home, "traces", "list", "--outcome", "success")] == [second]
    assert [r["id"] for r in as_json(home, "traces", "list", "--tag", "spreadsheet", "--tag", "urgent")] == [third]
    assert [r["id"] for r in as_json(home, "traces", "list", "--since", "2026-01-02", "--until", "2026-01-03")] == [
        second
    ]
    assert [r["id"] for r in as_json(home, "traces", "list", "--limit", "1", "--offset", "1")] == [second]
    row = as_json(home, "traces", "list", "--limit", "1")[0]
    assert row == {
        "id": third,
        "created_at": "2026-01-03T00:00:00Z",
        "skill": "xlsx",
        "skill_version": None,
        "outcome": "failure",
        "score": 0.0,
        "tags": ["spreadsheet", "urgent"],
        "task": EXAMPLE["task"],
    }
    table = ok(home, "traces", "list", "--format", "table").stdout
    assert all(i in table for i in (first, second, third)) and "1-3 of 3" in table  # whole ids, even at 80 columns
    assert "No trajectories match." in ok(home, "traces", "list", "--skill", "nobody", "--format", "table").stdout
    piped = ok(home, "traces", "list").stdout.splitlines()  # not a terminal: tsv, every id whole
    assert [line.split("\t")[0] for line in piped] == ["id", third, second, first]
    assert fails(home, "traces", "list", "--since", "someday").startswith("Error: cannot read 'someday' as a time")


def test_search_finds_task_answer_and_feedback_words(home: Path) -> None:
    ident = record(home)
    other = record(home, {**EXAMPLE, "task": "Reconcile the ledger", "outcome": {"status": "success"}})
    assert [r["id"] for r in as_json(home, "traces", "search", "B20 empty")] == [ident]
    assert [r["id"] for r in as_json(home, "traces", "search", "ledger")] == [other]
    assert [r["id"] for r in as_json(home, "traces", "search", "sum", "--outcome", "failure")] == [ident]
    assert as_json(home, "traces", "search", "nothing-like-this") == []
    assert other in ok(home, "traces", "search", "recon*").stdout


def test_label_changes_the_outcome(home: Path) -> None:
    ident = record(home)
    result = as_json(home, "traces", "label", ident, "success", "--score", "1", "--feedback", "fixed by hand")
    assert result == {
        "id": ident,
        "outcome": {"status": "success", "score": 1.0, "feedback": "fixed by hand", "judged_by": "human"},
    }
    assert [r["id"] for r in as_json(home, "traces", "search", "fixed")] == [ident]
    assert ok(home, "traces", "label", ident, "partial").stdout == f"Labelled {ident} as partial.\n"
    assert as_json(home, "traces", "list", "--outcome", "partial")[0]["score"] is None
    assert fails(home, "traces", "label", "t_missing", "success") == "Error: no trajectory with id 't_missing'"


def test_delete_asks_first_unless_told_yes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keep, gone = record(home), record(home)
    monkeypatch.setattr(traces_cli, "stdin_is_terminal", lambda: True)
    refused = run(home, "traces", "delete", gone, stdin="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.stderr and gone in refused.stderr
    assert sorted(stored(home)) == sorted([keep, gone])
    assert ok(home, "traces", "delete", gone, stdin="y\n").stdout == "Deleted 1 trajectory.\n"
    assert stored(home) == [keep]
    assert as_json(home, "traces", "delete", keep, "--yes") == {"deleted": 1, "dry_run": False}
    assert stored(home) == []
    assert fails(home, "traces", "delete", keep, "--yes") == f"Error: no trajectory with id {keep!r}"


def test_the_installed_command_records_from_stdin(home: Path) -> None:
    executable = Path(sys.executable).with_name("trace2skill")
    done = subprocess.run(
        [str(executable), "--home", str(home), "record", "--json", "-"],
        input=json.dumps(EXAMPLE),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ident = json.loads(done.stdout)["id"]
    assert stored(home) == [ident]
    broken = subprocess.run(
        [str(executable), "--home", str(home), "record"], input="{", capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1 and broken.stderr.startswith("Error: not valid JSON") and broken.stdout == ""
    assert stored(home) == [ident]


def test_record_redacts_secrets_before_anything_is_stored(home: Path) -> None:
    secret = "AKIA" + "ABCDEFGHIJKLMNOP"
    leaky = {**EXAMPLE, "final_answer": f"used key {secret} to upload"}
    ident = record(home, leaky)
    stored_answer = as_json(home, "traces", "show", ident)["final_answer"]
    assert secret not in stored_answer and stored_answer.startswith("used key ")
    workspace = Workspace.open(Home(home))
    try:
        dump = "\n".join(workspace.db.conn.iterdump())
    finally:
        workspace.close()
    assert secret not in dump
