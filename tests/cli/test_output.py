"""Output that knows where it goes: whole ids when piped, formats that parse back, NO_COLOR, progress on a terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.cli.traces import TRACE_COLUMNS
from trace2skill.evolve.runs import new_run_id
from trace2skill.home import Home
from trace2skill.workspace import Workspace

TRICKY = 'Sum "column B",\tthen\nwrite B20'
"""A task holding a quote, a comma, a tab and a newline: each format must carry it whole."""


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], env=env, catch_exceptions=False)


def ok(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(home, *args, env=env)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, list[str], str]:
    """A home with three runs (one with a tricky task), a skill and an evolution run record."""
    home = tmp_path / "home"
    ids = []
    for n, task in enumerate(["Count the March orders", TRICKY, "A long task " * 30]):
        data = {
            "task": task,
            "skill": "sheets",
            "tags": ["a", "b"],
            "messages": [{"role": "user", "content": task}, {"role": "assistant", "content": "ok"}],
            "created_at": f"2026-01-0{n + 1}T00:00:00Z",
        }
        source = tmp_path / f"run{n}.json"
        source.write_text(json.dumps(data))
        ids.append(ok(home, "record", str(source)).strip())
    skill = tmp_path / "sheets"
    skill.mkdir()
    (skill / "SKILL.md").write_text("---\nname: sheets\ndescription: Work with spreadsheets. Use for xlsx.\n---\n# S\n")
    ok(home, "skills", "import", str(skill))
    run_id = new_run_id()
    ws = Workspace.open(Home(home))
    ws.traces.create_run(run_id, "sheets", {"evolution": {"skill": "sheets"}, "trajectories": ids})
    ws.close()
    return home, ids[::-1], run_id  # newest first, as listed


def test_piped_listings_print_every_id_whole_in_the_same_columns(stored: tuple[Path, list[str], str]) -> None:
    home, ids, run_id = stored
    lines = ok(home, "traces", "list").splitlines()
    assert lines[0].split("\t") == [c.key for c in TRACE_COLUMNS]
    rows = list(csv.reader(io.StringIO(ok(home, "traces", "list")), delimiter="\t"))
    assert [row[0] for row in rows[1:]] == ids and all(len(row) == len(TRACE_COLUMNS) for row in rows)
    assert rows[1][-1] == "A long task " * 30  # no field is cut
    assert f"{run_id}\tsheets\trunning\t" in ok(home, "runs", "list")
    assert ok(home, "skills", "list").splitlines()[1].startswith("sheets\t1\t1\t1\t")
    assert ok(home, "traces", "list", "--no-headers").splitlines()[0].split("\t")[0] == ids[0]
    assert ok(home, "traces", "list", "--skill", "nobody") == "\t".join(c.key for c in TRACE_COLUMNS) + "\n"


def test_each_format_parses_back_to_the_same_rows(stored: tuple[Path, list[str], str]) -> None:
    home = stored[0]
    as_json: list[dict[str, Any]] = json.loads(ok(home, "traces", "list", "--json"))
    assert json.loads(ok(home, "traces", "list", "--format", "json")) == as_json
    ndjson = [json.loads(line) for line in ok(home, "traces", "list", "--format", "ndjson").splitlines()]
    assert ndjson == as_json
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        rows = list(csv.DictReader(io.StringIO(ok(home, "traces", "list", "--format", fmt)), delimiter=delimiter))
        assert [(r["id"], r["task"], r["tags"], r["created_at"]) for r in rows] == [
            (t["id"], t["task"], ",".join(t["tags"]), t["created_at"]) for t in as_json
        ]
    assert TRICKY in [t["task"] for t in as_json]


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_a_table_never_cuts_an_id_and_a_width_always_shows_the_same_columns(
    stored: tuple[Path, list[str], str], width: int
) -> None:
    home, ids, run_id = stored
    env = {"COLUMNS": str(width)}
    first = ok(home, "traces", "list", "--format", "table", env=env)
    assert all(i in first for i in ids) and "1-3 of 3" in first
    assert ok(home, "traces", "list", "--format", "table", env=env).splitlines()[0] == first.splitlines()[0]
    assert run_id in ok(home, "runs", "list", "--format", "table", env=env)
    header = first.splitlines()[0].split()
    assert header[0] == "id" and ("outcome" in header)  # the id and the outcome are always shown
    if width >= 120:
        assert "task" in header and "skill" in header
    if width <= 60:
        assert "tags" not in header  # left out whole, not squeezed


def test_no_color_turns_off_every_escape_code(stored: tuple[Path, list[str], str]) -> None:
    home, ids, _ = stored
    coloured = ok(home, "traces", "list", "--format", "table", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in coloured  # a terminal gets styles ...
    shown = {
        ("traces", "list", "--format", "table"): ids[0],
        ("traces", "show", ids[0]): ids[0],
        ("skills", "list", "--format", "table"): "sheets",
    }
    for args, expected in shown.items():
        plain = ok(home, *args, env={"FORCE_COLOR": "1", "NO_COLOR": "1", "COLUMNS": "100"})
        assert expected in plain and "\x1b" not in plain  # ... and none at all under NO_COLOR


def test_json_and_another_format_together_are_one_error_line(stored: tuple[Path, list[str], str]) -> None:
    result = run(stored[0], "traces", "list", "--json", "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr == "Error: --json and --format csv disagree: give one of them\n"


def _import(home: Path, folder: Path, stderr: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    command = [sys.executable, "-c", "from trace2skill.cli import cli; cli()", "--home", str(home)]
    return subprocess.Popen(
        [*command, "import", "openai-chat", str(folder)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env={**env, "COLUMNS": "120"},
    )


def test_import_draws_a_progress_bar_only_when_stderr_is_a_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for n in range(40):
        line = {"messages": [{"role": "user", "content": f"task {n}"}, {"role": "assistant", "content": "done"}]}
        (folder / f"s{n:02d}.jsonl").write_text(json.dumps(line) + "\n")
    primary, secondary = pty.openpty()
    proc = _import(tmp_path / "a", folder, secondary)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        drawn += chunk
    stdout, _ = proc.communicate(timeout=60)
    os.close(primary)
    assert proc.returncode == 0 and b"Imported 40 trajectories" in stdout
    assert b"files \xc2\xb7" in drawn and b"runs \xc2\xb7" in drawn  # the bar: "N/40 files · M runs · E errors"

    piped = _import(tmp_path / "b", folder, subprocess.PIPE)
    stdout, stderr = piped.communicate(timeout=60)
    assert piped.returncode == 0 and b"Imported 40 trajectories" in stdout and stderr == b""
