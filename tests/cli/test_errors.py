"""Bad input at the command line: one clear line (what went wrong, what to do next), exit 1, never a
traceback, and nothing lost; `--debug` adds the traceback. (Click's own usage errors, such as an
unknown option, keep click's form and exit 2.)

The disk cases run the real `trace2skill` under bubblewrap, which gives a read-only mount (EROFS) or
a tiny tmpfs (ENOSPC) without privileges; they skip where bwrap cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.doubles.simulated import make_skill

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.store import TraceStore
from trace2skill.workspace import Workspace

TRACE2SKILL = Path(sys.executable).parent / "trace2skill"
RUN = {"task": "Sum column B", "messages": [{"role": "user", "content": "Sum column B"}], "skill": "sheets"}


def run(home: Path, *args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin, catch_exceptions=False)


def error_line(result: Result, code: int = 1) -> str:
    """The one `Error:` line of a failed command (click's usage lines come before it for exit 2)."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    if code == 1:
        assert len(lines) == 1, result.stderr
    assert lines[-1].startswith("Error: "), result.stderr
    return lines[-1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    ws = Workspace.open(Home(folder))
    ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    ws.traces.add({**RUN, "id": "t-1", "outcome": {"status": "success", "score": 1.0}})
    ws.close()
    return folder


def stored(home: Path) -> list[str]:
    ws = Workspace.open(Home(home))
    try:
        return sorted(t.id or "" for t in ws.traces.filter(limit=None))
    finally:
        ws.close()


# --- times and numbers ------------------------------------------------------------------------------


def test_an_age_of_a_hundred_billion_days_is_one_line_not_an_overflow(home: Path) -> None:
    line = error_line(run(home, "traces", "list", "--since", "99999999999d"))
    assert line == (
        "Error: the age '99999999999d' is more than 36,525 days (100 years); use a smaller one, such as 30d, "
        "or an ISO date"
    )
    assert "t-1" in run(home, "traces", "list", "--since", "36525d").stdout


def test_a_moment_utc_cannot_hold_is_one_line(home: Path) -> None:
    line = error_line(run(home, "traces", "search", "sum", "--until", "0001-01-01T00:00:00+05:00"))
    assert "out of range: use a date between the years 1 and 9999" in line


@pytest.mark.parametrize("score", ["nan", "inf", "-inf", "1e999"])
def test_a_score_that_is_not_a_finite_number_is_refused_and_the_label_is_kept(home: Path, score: str) -> None:
    line = error_line(run(home, "traces", "label", "t-1", "failure", "--score", score))
    assert line == f"Error: --score '{score}' is not a finite number; give one such as 0.5"
    shown = json.loads(run(home, "traces", "show", "t-1", "--json").stdout)
    assert shown["outcome"]["status"] == "success" and shown["outcome"]["score"] == 1.0


def test_a_budget_or_temperature_out_of_range_is_refused_at_the_option(home: Path) -> None:
    assert error_line(run(home, "evolve", "sheets", "--budget-usd", "nan")) == (
        "Error: --budget-usd 'nan' is not a finite number; give one such as 0.5"
    )
    assert error_line(run(home, "evolve", "sheets", "--temperature", "7")) == "Error: --temperature 7 is outside 0 to 2"
    assert error_line(run(home, "evolve", "sheets", "--price", "3")) == (
        "Error: --price '3' is not IN/OUT: give USD per million tokens, e.g. 3/15"
    )
    assert error_line(run(home, "evolve", "sheets", "--price", "3/-1")) == (
        "Error: --price -1 is outside the allowed range (at least 0)"
    )


# --- nesting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_to_record_is_one_line_and_nothing_is_stored(home: Path, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    text = json.dumps({**RUN, "metadata": {"x": "DEEP"}}).replace('"DEEP"', deep)
    line = error_line(run(home, "record", "-", stdin=text))
    assert line == (
        "Error: the JSON nests deeper than 64 levels of lists and objects inside a value; flatten deeply nested "
        "tool arguments, outputs or metadata"
    )
    assert stored(home) == ["t-1"]


def test_a_value_a_little_too_deep_names_its_field(home: Path) -> None:
    deep = json.loads("[" * 66 + "]" * 66)
    line = error_line(run(home, "record", "-", stdin=json.dumps({**RUN, "reference": deep})))
    assert (
        line == "Error: reference: Value error, reference nests deeper than 64 levels of lists and objects; flatten it"
    )


def test_importing_a_deeply_nested_record_fails_that_record_alone(home: Path, tmp_path: Path) -> None:
    good = {"messages": [{"role": "user", "content": "Sum column B"}, {"role": "assistant", "content": "Done."}]}
    deep = '{"messages": ' + "[" * 50_000 + "]" * 50_000 + "}"
    source = tmp_path / "chats.jsonl"
    source.write_text("\n".join([json.dumps(good), deep, json.dumps({**good, "tags": ["second"]})]) + "\n")
    result = run(home, "import", "openai-chat", str(source), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2
    assert summary["errors"] == [
        {"source": f"{source}:2", "error": "invalid JSON: nested deeper than 128 levels (column 1)"}
    ]


# --- the home folder ------------------------------------------------------------------------------------


def test_a_home_that_is_a_file_is_one_line_naming_it() -> None:
    result = CliRunner().invoke(cli, ["--home", "/dev/null", "traces", "list"], catch_exceptions=False)
    assert error_line(result) == (
        "Error: not a folder: /dev/null exists and is not a folder; use another folder (the home folder: choose "
        "another with --home or $TRACE2SKILL_HOME)"
    )
    below = CliRunner().invoke(cli, ["--home", "/dev/null/home", "skills", "list"], catch_exceptions=False)
    assert error_line(below).startswith("Error: not a folder: /dev/null/home (or a folder above it) is a file")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("patterns: [a, b]", "patterns is a mapping of kind: regex, e.g. patterns: {ticket: 'TKT-[0-9]+'}"),
        ("patterns:\n  ticket: '(unclosed'", "patterns.ticket is not a valid regex (missing ), unterminated"),
        ("allow: 5", "allow is a list of regexes"),
        ("disable: {a: 1}", "disable is a list of kinds"),
        ("patterns: [\n", "not valid YAML at line 2 (ParserError); fix it or remove it"),
        ("patterns:\n  Bad Kind: x", "pattern kind 'Bad Kind' must be 1-40 characters of a-z, 0-9 and '_'"),
        ("default_allow: maybe", "default_allow is true or false"),
        ("colour: red", "unknown keys ['colour'] (expected patterns, allow, disable)"),
    ],
)
def test_a_malformed_redaction_yaml_is_one_line_naming_the_file_and_nothing_is_stored(
    home: Path, tmp_path: Path, text: str, expected: str
) -> None:
    (home / "redaction.yaml").write_text(text)
    line = error_line(run(home, "record", "-", stdin=json.dumps(RUN)))
    assert line.startswith(f"Error: {home / 'redaction.yaml'}: {expected}")
    source = tmp_path / "chat.jsonl"
    source.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert error_line(run(home, "import", "openai-chat", str(source))) == line
    assert stored(home) == ["t-1"]


# --- what the user did not cause ---------------------------------------------------------------------------


def test_a_bug_is_one_line_that_says_so_and_debug_shows_the_traceback(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(TraceStore, "summaries", broken)
    line = error_line(run(home, "traces", "list"))
    assert line == (
        "Error: internal error (RuntimeError: boom second line); this is a bug in trace2skill: run it again with "
        "--debug and report the traceback"
    )
    debug = CliRunner().invoke(cli, ["--debug", "--home", str(home), "traces", "list"], catch_exceptions=False)
    assert debug.exit_code == 1 and "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1] == line


def test_debug_shows_the_traceback_of_an_expected_error_too(home: Path) -> None:
    result = CliRunner().invoke(cli, ["--debug", "--home", str(home), "traces", "show", "t-nope"])
    assert result.exit_code == 1 and "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: no trajectory with id 't-nope'")


def test_an_os_error_names_its_path_and_what_to_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from trace2skill.skills_store import SkillStore

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(home / "skills" / "sheets"))

    monkeypatch.setattr(SkillStore, "list", full)
    assert error_line(run(home, "skills", "list")) == (
        f"Error: disk full: cannot write {home / 'skills' / 'sheets'}; free some space, or use another disk"
    )


# --- the disk, for real ----------------------------------------------------------------------------------


def _bwrap(*mounts: str) -> list[str]:
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed")
    probe = subprocess.run(
        ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"bwrap cannot run here: {probe.stderr.decode()[:200]}")
    return ["bwrap", "--bind", "/", "/", *mounts, "--dev", "/dev", "--proc", "/proc"]


def _cli(prefix: list[str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACE2SKILL_")}
    return subprocess.run(
        [*prefix, str(TRACE2SKILL), *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def test_a_read_only_home_serves_every_listing_and_refuses_writes_in_one_line(home: Path) -> None:
    ro = _bwrap("--ro-bind", str(home), str(home))
    listed = _cli(ro, "--home", str(home), "traces", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [t["id"] for t in json.loads(listed.stdout)] == ["t-1"]
    skills = _cli(ro, "--home", str(home), "skills", "list")
    assert skills.returncode == 0 and "sheets" in skills.stdout, skills.stderr
    runs = _cli(ro, "--home", str(home), "runs", "list")
    assert runs.returncode == 0 and runs.stdout.startswith("id\tskill\tstatus\t"), runs.stderr  # piped: tsv
    shown = _cli(ro, "--home", str(home), "traces", "show", "t-1")
    assert shown.returncode == 0, shown.stderr
    record = _cli(ro, "--home", str(home), "record", "-", stdin=json.dumps(RUN))
    assert record.returncode == 1 and "Traceback" not in record.stderr
    assert record.stderr == (
        f"Error: read-only: the home {home} cannot be written, so this command cannot run (reading works: list, "
        "show, search); make it writable, or use another home (--home)\n"
    )
    label = _cli(ro, "--home", str(home), "traces", "label", "t-1", "failure")
    assert label.returncode == 1 and label.stderr == record.stderr
    assert stored(home) == ["t-1"]


def test_a_home_without_write_permission_opens_read_only(home: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes through file permissions (the read-only mount test covers this as root)")
    for path in (home, home / "trace2skill.db"):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        assert "t-1" in run(home, "traces", "list").stdout
        assert error_line(run(home, "record", "-", stdin=json.dumps(RUN))).startswith("Error: read-only: the home")
    finally:
        home.chmod(0o755)
        (home / "trace2skill.db").chmod(0o644)


def test_a_full_disk_is_one_line_naming_the_database_and_the_run_is_not_half_stored(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    tiny = _bwrap("--size", str(900_000), "--tmpfs", str(mount))
    big = {**RUN, "messages": [{"role": "tool", "content": "x" * 190_000} for _ in range(8)]}
    source = tmp_path / "big.json"
    source.write_text(json.dumps(big))
    script = (
        f"{TRACE2SKILL} --home {mount}/home traces list >/dev/null && "
        f'{TRACE2SKILL} --home {mount}/home record {source}; echo "exit=$?"; '
        f"{TRACE2SKILL} --home {mount}/home traces list --json"
    )
    done = subprocess.run([*tiny, "sh", "-c", script], capture_output=True, text=True, timeout=120)
    database = mount / "home" / "trace2skill.db"
    assert (
        done.stderr == f"Error: disk full: cannot write the database {database}; free some space, or use another home\n"
    )
    assert "exit=1" in done.stdout
    assert done.stdout.strip().endswith("[]")  # nothing half-written: the store still reads, and is empty
