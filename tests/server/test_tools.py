"""The MCP tools over a real home folder, through the real SDK client, in both protocol eras."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult

from trace2skill.home import Home
from trace2skill.models import LIMITS
from trace2skill.server import INSTRUCTIONS, ServerConfig, Trace2SkillServer, create_server, tools
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def _data(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, _text(result)
    return result.structured_content


def _run(messages: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "task": "Fill in the totals of report.xlsx",
        "skill": "sheets",
        "messages": [{"role": "user", "content": f"step {i}"} for i in range(messages)],
        **extra,
    }


async def test_record_trajectory_stores_the_run_with_secrets_redacted(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    run = _run(outcome={"status": "failure", "feedback": "B20 stayed empty"})
    run["messages"].append({"role": "assistant", "content": "key sk-ant-api03-Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE"})
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": run})
    assert not result.is_error, _text(result)
    data = result.structured_content
    assert data is not None and data["outcome"] == "failure" and data["messages"] == 2
    assert data["redactions"] == 1 and data["redacted_kinds"] == {"anthropic_key": 1}
    assert data["uri"] == f"trajectory://{data['id']}" and data["stored_trajectories_for_skill"] == 3
    stored = inspect_store.traces.get(data["id"])
    assert stored.outcome.feedback == "B20 stayed empty"
    assert "sk-ant-api03" not in stored.model_dump_json() and "[REDACTED:anthropic_key]" in stored.messages[1].text


async def test_record_trajectory_accepts_the_run_as_json_text(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": json.dumps(_run())})
    assert not result.is_error and result.structured_content is not None
    assert _data(result)["skill"] == "sheets"


async def test_concurrent_records_are_stored_one_at_a_time_and_none_is_lost(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, most = 0, 0
    guard = threading.Lock()
    store_run = tools._store_run

    def counting_store_run(*args: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.005)  # long enough for a second worker thread to enter if one were let in
            return store_run(*args)
        finally:
            with guard:
                inside -= 1

    monkeypatch.setattr(tools, "_store_run", counting_store_run)
    before = inspect_store.traces.count()
    ids: list[str] = []
    async with connect(server) as client:

        async def record(i: int) -> None:
            result = await client.call_tool("record_trajectory", {"trajectory": _run(task=f"task {i}")})
            ids.append(_data(result)["id"])

        async with anyio.create_task_group() as tg:
            for i in range(16):
                tg.start_soon(record, i)
    assert most == 1
    assert len(set(ids)) == 16 and inspect_store.traces.count() == before + 16


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (_run(messages=0) | {"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role: Input should be"),
        ({"messages": []}, "task: Field required"),
        (_run() | {"skill": "Bad Name"}, "skill: Value error, skill name 'Bad Name' is not a valid Agent Skills name"),
        (_run() | {"outcome": {"status": "success", "score": "high"}}, "outcome.score: Input should be a valid number"),
        (_run() | {"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ("[1, 2]", "a trajectory is a JSON object, got list"),
        ("{not json", "not valid JSON"),
    ],
    ids=["bad-role", "no-task", "bad-skill-name", "bad-score", "unknown-field", "json-list", "broken-json"],
)
async def test_a_malformed_trajectory_is_refused_with_the_exact_field_and_nothing_is_stored(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace, payload: Any, expected: str
) -> None:
    before = inspect_store.traces.count()
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": payload})
    assert result.is_error
    assert "invalid trajectory: " in _text(result) and expected in _text(result)
    assert "\n" not in _text(result)
    assert inspect_store.traces.count() == before


async def test_a_part_over_its_limit_is_refused_rather_than_truncated(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    run = _run(messages=0) | {"messages": [{"role": "tool", "content": "x" * (LIMITS.text_chars + 1)}]}
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": run})
    assert result.is_error
    assert f"messages.0.content.0.text.text: String should have at most {LIMITS.text_chars} characters" in _text(result)
    assert inspect_store.traces.count() == 3


async def test_a_trajectory_over_the_total_size_limit_is_refused_and_nothing_is_stored(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    chunk = "y" * (LIMITS.text_chars - 10)
    n = LIMITS.trajectory_bytes // len(chunk) + 2
    run = _run(messages=0) | {"messages": [{"role": "tool", "content": chunk} for _ in range(n)]}
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": run})
    assert result.is_error
    assert f"the limit is {LIMITS.trajectory_bytes:,}" in _text(result)
    assert inspect_store.traces.count() == 3


async def test_recording_an_id_that_exists_is_a_conflict_that_keeps_the_original(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": _run() | {"id": "t-ok-1"}})
    assert result.is_error and "trajectory id 't-ok-1' already exists" in _text(result)
    assert inspect_store.traces.get("t-ok-1").task == "Sort the rows of contacts.csv by date"


async def test_search_trajectories_filters_by_text_skill_and_outcome_and_counts_all_matches(
    server: Trace2SkillServer, connect: Connect
) -> None:
    async with connect(server) as client:
        by_text = await client.call_tool("search_trajectories", {"query": "revenue"})
        by_skill = await client.call_tool("search_trajectories", {"skill": "sheets", "limit": 1})
        by_outcome = await client.call_tool("search_trajectories", {"outcome": ["success", "unknown"]})
    assert [t["id"] for t in _data(by_text)["trajectories"]] == ["t-fail-1"]
    assert _data(by_skill)["total"] == 2 and len(_data(by_skill)["trajectories"]) == 1
    assert {t["id"] for t in _data(by_outcome)["trajectories"]} == {"t-ok-1", "t-other"}
    assert "t-fail-1 [failure] sheets: Sum the revenue column of q3.xlsx" in _text(by_text)


async def test_label_trajectory_replaces_the_outcome_and_an_unknown_id_is_a_clear_error(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    args = {"id": "t-other", "status": "failure", "score": 0.2, "feedback": "wrong folder", "judged_by": "human"}
    async with connect(server) as client:
        labelled = await client.call_tool("label_trajectory", args)
        missing = await client.call_tool("label_trajectory", {"id": "t-nope", "status": "success"})
        bad = await client.call_tool("label_trajectory", {"id": "t-other", "status": "great"})
    assert not labelled.is_error and _data(labelled)["outcome"]["status"] == "failure"
    outcome = inspect_store.traces.get("t-other").outcome
    assert (outcome.status, outcome.score, outcome.feedback) == ("failure", 0.2, "wrong folder")
    assert outcome.judged_by == "human"
    assert missing.is_error and "no trajectory with id 't-nope'" in _text(missing)
    assert bad.is_error and "status" in _text(bad)


async def test_get_skill_returns_the_current_version_with_a_complete_file_manifest(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        result = await client.call_tool("get_skill", {"name": "sheets"})
    view = result.structured_content
    assert view is not None and view["version"] == 2 and view["head_version"] == 2
    assert view["frontmatter"]["name"] == "sheets" and view["description"].startswith("Answer questions")
    skill_md = inspect_store.skills.load("sheets").skill_md
    assert view["skill_md"] is None and getattr(result.content[0], "text", None) == skill_md  # sent once, verbatim
    skill = inspect_store.skills.load("sheets")
    manifest = {f["path"]: f for f in view["files"]}
    assert set(manifest) == {f.path for f in skill.files}
    for f in skill.files:
        entry = manifest[f.path]
        assert entry["digest"] == "sha256:" + hashlib.sha256(f.data).hexdigest() and entry["size"] == len(f.data)
    assert manifest["references/two words.md"]["uri"] == "skill://sheets/references/two%20words.md"
    assert view["digest"] == skill.digest and "skill://sheets/assets/logo.png" in _text(result)


async def test_get_skill_can_return_an_older_version(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        result = await client.call_tool("get_skill", {"name": "sheets", "version": 1})
        missing = await client.call_tool("get_skill", {"name": "sheets", "version": 9})
    assert _data(result)["version"] == 1
    assert "assets/logo.png" not in {f["path"] for f in _data(result)["files"]}
    assert missing.is_error and "skill 'sheets' has no version 9 (versions are 1 to 2)" in _text(missing)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("nope", "no skill named 'nope'"),
        ("../etc", "would leave the skills folder"),
        ("Bad_Name", "is not a valid Agent Skills name"),
    ],
)
async def test_get_skill_of_an_unknown_or_unsafe_name_says_why(
    server: Trace2SkillServer, connect: Connect, name: str, expected: str
) -> None:
    async with connect(server) as client:
        result = await client.call_tool("get_skill", {"name": name})
    assert result.is_error and expected in _text(result)


async def test_list_skills_names_every_skill_with_its_versions(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        result = await client.call_tool("list_skills", {})
    (entry,) = _data(result)["skills"]
    assert (entry["name"], entry["head_version"], entry["versions"], entry["published_version"]) == ("sheets", 2, 2, 2)
    assert entry["uri"] == "skill://sheets/SKILL.md"


async def test_rollback_makes_an_old_version_current_as_a_new_version_and_history_and_diff_show_it(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        rolled = await client.call_tool("rollback_skill", {"name": "sheets", "version": 1})
        again = await client.call_tool("rollback_skill", {"name": "sheets", "version": 1})
        history = await client.call_tool("skill_history", {"name": "sheets"})
        diff = await client.call_tool("diff_skill", {"name": "sheets", "v1": 2})
        same = await client.call_tool("diff_skill", {"name": "sheets", "v1": 1, "v2": 3})
        current = await client.call_tool("get_skill", {"name": "sheets"})
    assert rolled.structured_content == {
        "name": "sheets",
        "rolled_back_to": 1,
        "new_version": 3,
        "digest": inspect_store.skills.get_version("sheets", 1).digest,
        "uri": "skill://sheets/SKILL.md",
        "changed": True,
    }
    assert _data(again)["new_version"] == 3 and _data(again)["changed"] is False
    versions = _data(history)["versions"]
    assert [v["author"] for v in versions] == ["human", "human", "rollback"] and versions[2]["parent"] == 2
    assert _data(history)["published_version"] == 3
    assert _data(diff)["v2"] == 3 and "assets/logo.png" in _data(diff)["diff"]
    assert _data(same)["changed"] is False and not _data(same)["diff"]
    assert "assets/logo.png" not in {f["path"] for f in _data(current)["files"]}
    assert inspect_store.skills.published_version("sheets") == 3


async def test_rollback_to_a_version_that_does_not_exist_changes_nothing(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        result = await client.call_tool("rollback_skill", {"name": "sheets", "version": 7})
    assert result.is_error and "has no version 7" in _text(result)
    assert inspect_store.skills.head("sheets").version == 2


async def test_runs_tools_report_an_empty_store_and_an_unknown_run(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        runs = await client.call_tool("list_runs", {})
        missing = await client.call_tool("get_run", {"run_id": "r_nope"})
    assert runs.structured_content == {"runs": []} and "No evolution runs yet." in _text(runs)
    assert missing.is_error and "no evolution run with id 'r_nope'" in _text(missing)


async def test_import_and_export_move_a_skill_between_folders_and_the_store(
    server: Trace2SkillServer, connect: Connect, tmp_path: Path, inspect_store: Workspace
) -> None:
    folder = tmp_path / "incoming" / "notes"
    (folder / "references").mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: notes\ndescription: Take notes. Use when asked to.\n---\n\n# Notes\n")
    (folder / "references" / "style.md").write_text("# Style\n")
    async with connect(server) as client:
        imported = await client.call_tool("import_skill", {"path": str(folder)})
        again = await client.call_tool("import_skill", {"path": str(folder)})
        exported = await client.call_tool("export_skill", {"name": "notes", "dest": str(tmp_path / "client")})
        missing = await client.call_tool("import_skill", {"path": str(tmp_path / "nowhere")})
    assert _data(imported)["created"] is True and _data(imported)["version"] == 1
    assert _data(again)["created"] is False
    assert (tmp_path / "client" / "notes" / "references" / "style.md").read_text() == "# Style\n"
    assert "Exported notes version 1" in _text(exported)
    assert missing.is_error
    assert inspect_store.skills.head("notes").version == 1


async def test_an_invalid_skill_folder_is_refused_over_mcp_naming_the_rule(
    server: Trace2SkillServer, connect: Connect, tmp_path: Path, inspect_store: Workspace
) -> None:
    folder = tmp_path / "incoming" / "notes"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: [unclosed\n---\n# Notes\n")
    async with connect(server) as client:
        refused = await client.call_tool("import_skill", {"path": str(folder)})
    assert refused.is_error and _text(refused).startswith(f"{folder} is not a valid skill (1 rule broken: SKILL.md ")
    assert "\n" not in _text(refused) and "notes" not in {s.name for s in inspect_store.skills.list()}


async def test_relative_paths_are_refused_because_the_client_cannot_see_the_servers_working_directory(
    server: Trace2SkillServer, connect: Connect, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    async with connect(server) as client:
        exported = await client.call_tool("export_skill", {"name": "sheets", "dest": "out"})
        imported = await client.call_tool("import_skill", {"path": "sheets"})
    assert exported.is_error and _text(exported) == (
        "dest must be an absolute path on the server's machine (or start with ~), got 'out'"
    )
    assert imported.is_error and "path must be an absolute path" in _text(imported)
    assert list((tmp_path / "cwd").iterdir()) == []


async def test_tools_that_touch_the_servers_folders_can_be_left_out(seeded: Home, connect: Connect) -> None:
    server = create_server(ServerConfig(home=seeded, allow_paths=False))
    async with connect(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("import_skill", {"path": "/tmp"})
    assert "import_skill" not in names and "export_skill" not in names and "get_skill" in names
    assert result.is_error and "Unknown tool" in _text(result)


async def test_tool_descriptions_and_instructions_fit_the_clients_2kb_limit_and_hints_are_set(
    server: Trace2SkillServer, connect: Connect
) -> None:
    async with connect(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert len(INSTRUCTIONS.encode()) <= 2048 and len(INSTRUCTIONS[:512].split(". ")) > 1
    assert set(tools) >= {
        "record_trajectory", "evolve_skill", "get_skill", "list_skills", "search_trajectories", "label_trajectory",
        "skill_history", "diff_skill", "rollback_skill", "list_runs", "get_run",
    }  # fmt: skip
    for tool in tools.values():
        assert tool.description and len(tool.description.encode()) <= 2048, tool.name
        assert tool.output_schema is not None and tool.annotations is not None, tool.name
    readers = {"get_skill", "list_skills", "search_trajectories", "skill_history", "diff_skill", "list_runs", "get_run",
               "evolution_status", "skill_usage"}  # fmt: skip
    assert {n for n, t in tools.items() if t.annotations.read_only_hint} == readers  # type: ignore[union-attr]
    assert tools["label_trajectory"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["evolve_skill"].annotations.open_world_hint is True  # type: ignore[union-attr]
    schema = tools["record_trajectory"].input_schema
    assert schema["properties"]["trajectory"]["$ref"] == "#/$defs/Trajectory"
    assert {"task", "messages"} <= set(schema["$defs"]["Trajectory"]["required"])
