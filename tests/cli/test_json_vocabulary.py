"""One JSON vocabulary: docs/json.md names each command's fields, and each command prints exactly those.

Every command below runs for real against one home (the evolution against the local protocol
server), and its `--json` output is checked against the table in docs/json.md: the same field
names, no key that is a sentence, every timestamp ISO 8601 UTC ending in `Z`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import make_skill, make_trajectories, server_handler

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

DOC = Path(__file__).resolve().parents[2] / "docs" / "json.md"
ROW = re.compile(r"^\|\s*`trace2skill ([a-z -]+?)(?: --dry-run)?`\s*\|\s*(object|list|ndjson)\s*\|(.*)\|\s*$")
FIELD = re.compile(r"`([^`]+)`")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?")
KEY = re.compile(r"^[A-Za-z0-9_.:+@/-]+$")
"""A key is a name or a piece of data (a file path, a `provider:model`, `v2`); never a sentence."""

RUN = {
    "task": "Sum column B into B20",
    "skill": "sheets",
    "messages": [{"role": "user", "content": "Sum column B"}, {"role": "assistant", "content": "Done."}],
    "outcome": {"status": "failure", "score": 0.0, "feedback": "B20 empty"},
    "created_at": "2026-01-02T03:04:05+00:00",
}


def documented() -> dict[str, tuple[str, list[str]]]:
    """{command (with `--dry-run` kept apart): (shape, fields)} from the table in docs/json.md."""
    table: dict[str, tuple[str, list[str]]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            name = match.group(1) + (" --dry-run" if "--dry-run" in line.split("|")[1] else "")
            top_level = re.sub(r"\([^)]*\)", "", match.group(3))  # `files` (`path`, ...): nested keys aside
            table[name] = (match.group(2), FIELD.findall(top_level))
    return table


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Each documented command's parsed output, from real runs against one home."""
    root = tmp_path_factory.mktemp("vocabulary")
    home = root / "home"
    ws = Workspace.open(Home(home))
    ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    ws.traces.add_many(make_trajectories(12, seed=3))
    ws.close()
    skill_dir = root / "pdf"
    skill_dir.mkdir()
    (skill_dir / "SKILL.md").write_text("---\nname: pdf\ndescription: Fill PDF forms. Use for PDF forms.\n---\n# PDF\n")
    source = root / "run.json"
    source.write_text(json.dumps(RUN))
    chat = root / "chat.jsonl"
    chat.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n"
    )

    def cli_json(*args: str) -> Any:
        result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        if "ndjson" in args:
            return [json.loads(line) for line in result.stdout.splitlines()]
        return json.loads(result.stdout)

    out: dict[str, Any] = {}
    with FakeLLMServer(server_handler) as server:
        model = f"anthropic:claude-sonnet-4-5@{server.url}"
        out["record"] = cli_json("record", str(source), "--json")
        ident = out["record"]["id"]
        out["traces list"] = cli_json("traces", "list", "--json")
        out["traces search"] = cli_json("traces", "search", "column", "--format", "ndjson")
        out["traces show"] = cli_json("traces", "show", ident, "--json")
        out["traces label"] = cli_json("traces", "label", ident, "failure", "--json")
        out["import"] = cli_json("import", "openai-chat", str(chat), "--json")
        out["evolve --dry-run"] = cli_json("evolve", "sheets", "-m", model, "--dry-run", "--json")
        out["evolve"] = cli_json("evolve", "sheets", "-m", model, "--publish", "review", "--json")
        out["runs list"] = cli_json("runs", "list", "--json")
        out["runs show"] = cli_json("runs", "show", out["evolve"]["run_id"], "--json")
        out["skills review"] = cli_json("skills", "review", "sheets", "--json")
        out["skills publish"] = cli_json("skills", "publish", "sheets", "--json")
        out["skills import"] = cli_json("skills", "import", str(skill_dir), "--json")
        out["skills list"] = cli_json("skills", "list", "--json")
        out["skills show"] = cli_json("skills", "show", "sheets", "--json")
        out["skills history"] = cli_json("skills", "history", "sheets", "--json")
        out["skills diff"] = cli_json("skills", "diff", "sheets", "1", "2", "--json")
        out["skills rollback"] = cli_json("skills", "rollback", "sheets", "1", "--json")
        out["skills sync"] = cli_json("skills", "sync", "sheets", "--json")
        out["skills export"] = cli_json("skills", "export", "sheets", str(root / "out"), "--json")
        out["skills usage"] = cli_json("skills", "usage", "sheets", "--json")
        out["skills validate"] = cli_json("skills", "validate", str(skill_dir), "--json")
        out["traces set"] = cli_json("traces", "set", ident, "--tag", "checked", "--json")
        out["traces delete"] = cli_json("traces", "delete", ident, "--yes", "--json")
        out["skills delete"] = cli_json("skills", "delete", "pdf", "--yes", "--json")
        out["suites list"] = cli_json("suites", "list", "--json")
        out["models list"] = cli_json("models", "list", "--json")
        out["config list"] = cli_json("config", "list", "--json")
        out["hooks status"] = cli_json("hooks", "status", "claude-code", "--settings", str(root / "s.json"), "--json")
    yield out


def _items(shape: str, value: Any) -> list[Any]:
    if shape == "object":
        assert isinstance(value, dict)
        return [value]
    assert isinstance(value, list) and value, "a listing to check needs at least one row"
    return value


@pytest.mark.parametrize("command", sorted(documented()))
def test_each_documented_command_prints_exactly_the_documented_fields(command: str, outputs: dict[str, Any]) -> None:
    shape, fields = documented()[command]
    assert command in outputs, f"docs/json.md documents `trace2skill {command}`: add a run of it to this test"
    for item in _items(shape, outputs[command]):
        assert sorted(item) == sorted(fields), command


def test_every_command_with_a_json_option_is_documented() -> None:
    def walk(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from walk(command, (*path, name))
            else:
                yield " ".join((*path, name)), command

    with_json = {path for path, command in walk(cli) if any("--json" in p.opts for p in command.params)}
    mentioned = set(FIELD.findall(DOC.read_text()))  # the table's commands and the notes on the others
    names = {name.removesuffix(" --dry-run") for name in documented()} | mentioned
    assert sorted(with_json - names) == [], "add these commands' JSON to docs/json.md"


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str | None, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key, item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, f"{path}[]")
    else:
        yield path, None, value


def test_no_key_is_a_sentence_and_every_timestamp_is_utc_with_z(outputs: dict[str, Any]) -> None:
    stamps = 0
    for command, value in outputs.items():
        for path, key, item in _walk(value):
            if key is not None:
                assert KEY.match(key), f"{command}: key {key!r} at {path or '.'}"
            if isinstance(item, str) and TIMESTAMP.match(item) and len(item) <= 32:
                stamps += 1
                assert item.endswith("Z"), f"{command}: timestamp {item!r} at {path}.{key}"
    assert stamps > 20  # the check saw real timestamps


def test_an_object_names_its_own_id_id_and_others_by_their_kind(outputs: dict[str, Any]) -> None:
    (run,) = outputs["runs list"]
    assert run["id"] == outputs["evolve"]["run_id"] == outputs["runs show"]["id"]
    assert "run_id" not in run and "run_id" not in outputs["runs show"]
    assert outputs["traces list"][0]["id"] and outputs["record"]["id"] == outputs["traces label"]["id"]
    assert outputs["skills history"][1]["run_id"] == run["id"]  # a version refers to the run that made it
    rounds = outputs["evolve --dry-run"]["rounds"]
    assert set(rounds) <= {"analyse", "propose", "merge", "apply", "total"}
    assert outputs["evolve --dry-run"]["workers"] == 16
