"""`traces set`, `traces delete` by filter, `traces export`, `import -` and re-importing with new options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.cli import traces as traces_cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

from .test_traces import EXAMPLE

FIXTURES = Path(__file__).resolve().parents[1] / "importers" / "fixtures"


def run(home: Path, *args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin, catch_exceptions=False)


def ok(home: Path, *args: str, stdin: str | bytes | None = None) -> Result:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def error_line(home: Path, *args: str, stdin: str | None = None) -> str:
    result = run(home, *args, stdin=stdin)
    assert result.exit_code != 0 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def runs(home: Path) -> dict[str, Any]:
    """Every stored run by id, as JSON."""
    workspace = Workspace.open(Home(home))
    try:
        return {t.id: t.model_dump(mode="json") for t in workspace.traces.filter(limit=None)}
    finally:
        workspace.close()


def add(home: Path, ident: str, **fields: Any) -> None:
    data = {**EXAMPLE, "id": ident, **fields}
    ok(home, "record", stdin=json.dumps(data))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Three runs of xlsx (one tagged 'old') and one with no skill."""
    root = tmp_path / "home"
    add(root, "r1", tags=["old"])
    add(root, "r2")
    add(root, "r3", outcome={"status": "success"})
    data = {key: value for key, value in EXAMPLE.items() if key != "skill"}
    ok(root, "record", stdin=json.dumps({**data, "id": "r4"}))
    return root


# --- traces set ---------------------------------------------------------------------------------


def test_set_by_ids_attaches_runs_to_a_skill_and_prints_the_count(home: Path) -> None:
    assert ok(home, "traces", "set", "r4", "--skill", "sheets").stdout == "Changed 1 trajectory.\n"
    assert runs(home)["r4"]["skill"] == "sheets"
    assert [r["id"] for r in json.loads(ok(home, "traces", "list", "-s", "sheets", "--json").stdout)] == ["r4"]


def test_set_by_filter_changes_every_matching_run_and_only_those(home: Path) -> None:
    result = ok(home, "traces", "set", "--where-skill", "xlsx", "--where-outcome", "failure", "--tag", "triage")
    assert result.stdout == "Changed 2 trajectories.\n"
    tagged = {ident for ident, run in runs(home).items() if "triage" in run["tags"]}
    assert tagged == {"r1", "r2"}


def test_set_tags_untags_and_labels_with_json_output(home: Path) -> None:
    out = json.loads(
        ok(
            home, "traces", "set", "r1", "r2", "--untag", "old", "--outcome", "partial", "--score", "0.5", "--json"
        ).stdout
    )
    assert out == {"changed": 2, "dry_run": False}
    stored = runs(home)
    assert stored["r1"]["tags"] == []
    assert stored["r2"]["outcome"] == {
        "status": "partial",
        "score": 0.5,
        "feedback": "B20 empty in output",
        "judged_by": "human",
    }


def test_set_dry_run_counts_and_changes_nothing(home: Path) -> None:
    before = runs(home)
    result = ok(home, "traces", "set", "--all", "--skill", "sheets", "--dry-run")
    assert result.stdout == "Would change 4 trajectories (dry run: nothing changed).\n"
    assert runs(home) == before


def test_set_refuses_without_ids_or_filters_in_one_line(home: Path) -> None:
    before = runs(home)
    line = error_line(home, "traces", "set", "--skill", "sheets")
    assert line.startswith("Error: say which runs: give their ids, a filter") and "--all" in line
    assert error_line(home, "traces", "set", "--all") == (
        "Error: nothing to change: give --skill, --tag, --untag or --outcome"
    )
    assert error_line(home, "traces", "set", "r1", "nope", "--skill", "sheets") == "Error: no trajectory with id 'nope'"
    assert runs(home) == before


def test_set_by_search_finds_runs_by_tool_name(home: Path) -> None:
    weather = {
        **EXAMPLE,
        "id": "w1",
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [{"type": "tool_call", "id": "c", "name": "get_weather"}]},
        ],
    }
    ok(home, "record", stdin=json.dumps(weather))
    assert [r["id"] for r in json.loads(ok(home, "traces", "search", "get_weather", "--json").stdout)] == ["w1"]
    assert ok(home, "traces", "set", "--search", "get_weather", "--tag", "weather").stdout == "Changed 1 trajectory.\n"
    assert runs(home)["w1"]["tags"] == ["spreadsheet", "weather"]


# --- traces delete ------------------------------------------------------------------------------


def test_delete_by_filter_with_yes_prints_the_count(home: Path) -> None:
    assert ok(home, "traces", "delete", "--outcome", "failure", "--yes").stdout == "Deleted 3 trajectories.\n"
    assert set(runs(home)) == {"r3"}


def test_delete_dry_run_deletes_nothing(home: Path) -> None:
    result = ok(home, "traces", "delete", "--skill", "xlsx", "--dry-run", "--json")
    assert json.loads(result.stdout) == {"deleted": 3, "dry_run": True}
    assert len(runs(home)) == 4


def test_delete_refuses_without_yes_when_stdin_is_not_a_terminal(home: Path) -> None:
    line = error_line(home, "traces", "delete", "--tag", "old", stdin="y\n")
    assert line == "Error: Delete 1 trajectory: this needs confirmation and stdin is not a terminal; add --yes"
    assert len(runs(home)) == 4
    assert error_line(home, "traces", "delete", "--yes").startswith("Error: say which runs")


def test_delete_asks_on_a_terminal(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traces_cli, "stdin_is_terminal", lambda: True)
    refused = run(home, "traces", "delete", "--skill", "xlsx", stdin="n\n")
    assert refused.exit_code == 1 and "Delete 3 trajectories? [y/N]" in refused.stderr
    assert len(runs(home)) == 4
    assert ok(home, "traces", "delete", "r2", stdin="y\n").stdout == "Deleted 1 trajectory.\n"
    assert set(runs(home)) == {"r1", "r3", "r4"}


# --- traces export and import -------------------------------------------------------------------


def test_export_writes_one_trajectory_a_line_oldest_first(home: Path, tmp_path: Path) -> None:
    lines = ok(home, "traces", "export").stdout_bytes.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["r1", "r2", "r3", "r4"]
    target = tmp_path / "xlsx.jsonl"
    result = ok(home, "traces", "export", "--skill", "xlsx", "--outcome", "failure", "-o", str(target))
    assert result.stdout == "" and "Exported 2 trajectories" in result.stderr
    assert target.read_bytes() == b"".join(line + b"\n" for line in lines[:2])


def test_export_then_import_from_stdin_into_a_fresh_home_gives_the_same_bytes(home: Path, tmp_path: Path) -> None:
    exported = ok(home, "traces", "export").stdout_bytes
    fresh = tmp_path / "fresh"
    summary = json.loads(ok(fresh, "import", "-", "--json", stdin=exported).stdout)
    assert summary["formats"] == {"trace2skill": 4} and summary["stored"]["added"] == 4
    assert ok(fresh, "traces", "export").stdout_bytes == exported
    again = json.loads(ok(fresh, "import", "trace2skill", "-", "--json", stdin=exported).stdout)
    assert again["stored"] == {
        "added": 0,
        "replaced": 0,
        "unchanged": 4,
        "relabelled": 0,
        "versioned": {},
        "skill_reads": {},
    }


def test_import_from_stdin_names_stdin_in_errors(tmp_path: Path) -> None:
    result = run(tmp_path / "home", "import", "jsonl", "-", stdin='{"task": "x", "messages": []}\nnot json\n')
    assert result.exit_code == 0
    assert "stdin:2:" in result.stdout and "trace2skill-stdin" not in result.stdout


def test_record_reads_stdin_when_given_a_dash(tmp_path: Path) -> None:
    ident = ok(tmp_path / "home", "record", "-", stdin=json.dumps(EXAMPLE)).stdout.strip()
    assert runs(tmp_path / "home")[ident]["task"] == EXAMPLE["task"]


def test_reimporting_with_skill_and_tag_updates_the_runs_already_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    source = FIXTURES / "anthropic_exchange.json"
    ok(home, "import", "auto", str(source))
    (ident,) = runs(home)
    assert runs(home)[ident]["skill"] is None
    result = ok(home, "import", "auto", str(source), "--skill", "sheets", "--tag", "batch")
    assert "1 unchanged (1 already stored given the --skill/--tag/--outcome)" in result.stdout
    assert runs(home)[ident]["skill"] == "sheets" and "batch" in runs(home)[ident]["tags"]
    again = json.loads(ok(home, "import", "auto", str(source), "--skill", "sheets", "--json").stdout)
    assert again["stored"]["relabelled"] == 0  # already so: nothing to change


def test_our_json_without_ids_gets_the_same_id_each_time_it_is_imported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    lines = json.dumps(EXAMPLE) + "\n" + json.dumps({**EXAMPLE, "task": "another"}) + "\n"
    first = json.loads(ok(home, "import", "trace2skill", "-", "--json", stdin=lines).stdout)
    again = json.loads(ok(home, "import", "trace2skill", "-", "--json", stdin=lines).stdout)
    assert first["stored"]["added"] == 2 and again["stored"]["unchanged"] == 2
    assert again["ids"] == first["ids"] and all(i.startswith("trace2skill:") for i in first["ids"])
    assert len(runs(home)) == 2
