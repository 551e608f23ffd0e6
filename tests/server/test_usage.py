"""Skill usage over MCP: every read of a skill file is recorded with its session and version, a run
recorded in the same session is tied to those reads, and get_skill sends SKILL.md once."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from trace2skill.home import Home
from trace2skill.server import ServerConfig, Trace2SkillServer
from trace2skill.server.http_app import HttpEndpoint, build_http, uvicorn_server
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]
TOKEN = "test-token-0123456789abcdef"


def run(task: str) -> dict[str, Any]:
    return {"task": task, "skill": "sheets", "messages": [{"role": "user", "content": task}]}


async def test_resource_reads_and_get_skill_are_recorded_with_their_session_and_version(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as first:
        await first.read_resource("skill://sheets/SKILL.md")
        await first.read_resource("skill://sheets/references/two%20words.md")
    async with connect(server) as second:
        await second.call_tool("get_skill", {"name": "sheets"})
        await second.call_tool("get_skill", {"name": "sheets", "version": 1})
    reads = list(reversed(inspect_store.usage.reads_for("sheets")))
    assert [(r.path, r.version, r.via) for r in reads] == [
        ("SKILL.md", 2, "resource"),
        ("references/two words.md", 2, "resource"),
        ("SKILL.md", 2, "get_skill"),
        ("SKILL.md", 1, "get_skill"),
    ]
    sessions = [r.session for r in reads]
    assert all(sessions) and sessions[0] == sessions[1] and sessions[2] == sessions[3] and sessions[0] != sessions[2]
    assert all(r.trajectory_id is None for r in reads)


async def test_a_recorded_run_is_tied_to_the_reads_its_own_session_made_before_it(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as agent, connect(server) as bystander:
        await agent.read_resource("skill://sheets/SKILL.md")
        await agent.read_resource("skill://sheets/references/two%20words.md")
        await bystander.read_resource("skill://sheets/assets/logo.png")
        first = await agent.call_tool("record_trajectory", {"trajectory": run("Sum a column")})
        await agent.call_tool("get_skill", {"name": "sheets"})
        second = await agent.call_tool("record_trajectory", {"trajectory": run("Sort the rows")})
        nothing = await agent.call_tool("record_trajectory", {"trajectory": run("Rename files")})
    assert first.structured_content and second.structured_content and nothing.structured_content
    assert first.structured_content["skill_reads"] == 2 and "Tied to the 2 skill file read(s)" in str(first.content)
    assert second.structured_content["skill_reads"] == 1 and nothing.structured_content["skill_reads"] == 0
    usage = inspect_store.usage
    assert [r.path for r in usage.reads_of_trajectory(first.structured_content["id"])] == [
        "SKILL.md",
        "references/two words.md",
    ]
    assert [(r.path, r.via) for r in usage.reads_of_trajectory(second.structured_content["id"])] == [
        ("SKILL.md", "get_skill")
    ]
    (logo,) = [r for r in usage.reads_for("sheets") if r.path == "assets/logo.png"]
    assert logo.trajectory_id is None  # another session's read is nobody's run here


async def test_a_run_that_names_no_version_gets_the_one_its_session_read(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as agent, connect(server) as unsure:
        await agent.call_tool("get_skill", {"name": "sheets"})
        read_one = await agent.call_tool("record_trajectory", {"trajectory": run("Sum a column")})
        await agent.read_resource("skill://sheets/SKILL.md")
        named = await agent.call_tool("record_trajectory", {"trajectory": {**run("Sort"), "skill_version": 1}})
        read_none = await agent.call_tool("record_trajectory", {"trajectory": run("Rename files")})
        await unsure.call_tool("get_skill", {"name": "sheets", "version": 1})
        await unsure.call_tool("get_skill", {"name": "sheets"})
        read_two = await unsure.call_tool("record_trajectory", {"trajectory": run("Chart it")})
    stored = {
        key: inspect_store.traces.get(result.structured_content["id"])  # type: ignore[index]
        for key, result in {"one": read_one, "named": named, "none": read_none, "two": read_two}.items()
    }
    assert stored["one"].skill_version == 2 and read_one.structured_content["skill_version"] == 2  # type: ignore[index]
    assert stored["one"].metadata["skill_version_from"] == "v2: read over MCP in the session that recorded it"
    assert stored["named"].skill_version == 1 and "skill_version_from" not in stored["named"].metadata
    assert stored["none"].skill_version is None and stored["two"].skill_version is None


async def test_get_skill_sends_skill_md_once_as_its_first_text_block(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    skill_md = inspect_store.skills.load("sheets").skill_md
    async with connect(server) as client:
        result = await client.call_tool("get_skill", {"name": "sheets"})
    texts = [getattr(block, "text", "") for block in result.content]
    wire = json.dumps(texts) + json.dumps(result.structured_content)
    assert texts[0] == skill_md
    assert wire.count(json.dumps(skill_md)[1:-1]) == 1
    assert result.structured_content and result.structured_content["skill_md"] is None
    assert "sheets version 2" in texts[1] and "skill://sheets/assets/logo.png" in texts[1]


async def test_a_read_is_served_even_when_its_usage_cannot_be_recorded(
    server: Trace2SkillServer, connect: Connect, seeded: Home, caplog: pytest.LogCaptureFixture
) -> None:
    async with connect(server) as client:
        await client.read_resource("skill://sheets/SKILL.md")  # the usage table exists now
        with sqlite3.connect(seeded.db_path) as other:
            other.execute("DROP TABLE skill_reads")
        with caplog.at_level(logging.WARNING):
            md = await client.read_resource("skill://sheets/SKILL.md")
            got = await client.call_tool("get_skill", {"name": "sheets"})
            recorded = await client.call_tool("record_trajectory", {"trajectory": run("Sum a column")})
    assert md.contents and not got.is_error and not recorded.is_error
    assert "could not record a read of sheets/SKILL.md" in caplog.text
    assert "could not tie the skill reads" in caplog.text


async def test_a_read_only_home_serves_skills_and_records_no_usage_without_a_warning_per_read(
    server: Trace2SkillServer,
    connect: Connect,
    seeded: Home,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(Home, "writable", property(lambda self: False))  # what os.access says on a read-only mount
    with caplog.at_level(logging.WARNING):
        async with connect(server) as client:
            md = await client.read_resource("skill://sheets/SKILL.md")
            got = await client.call_tool("get_skill", {"name": "sheets"})
    assert md.contents and not got.is_error
    assert "could not record" not in caplog.text
    monkeypatch.undo()
    ws = Workspace.open(seeded)
    try:
        assert ws.usage.reads_for("sheets") == []
    finally:
        ws.close()


@asynccontextmanager
async def http_session(seeded: Home, mode: str) -> AsyncIterator[Client]:
    endpoint: HttpEndpoint = build_http(ServerConfig(home=seeded), host="127.0.0.1", port=0, token=TOKEN)
    server = uvicorn_server(endpoint)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [endpoint.sock])
        try:
            authorised = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            transport = streamable_http_client(endpoint.url, http_client=authorised)
            async with authorised, Client(transport, mode=mode) as client:
                yield client
        finally:
            server.should_exit = True


async def test_over_http_a_2025_session_is_the_transport_session_and_a_2026_request_has_none(
    seeded: Home, mode: str, inspect_store: Workspace
) -> None:
    async with http_session(seeded, mode) as client:
        await client.read_resource("skill://sheets/SKILL.md")
        recorded = await client.call_tool("record_trajectory", {"trajectory": run("Sum a column")})
    (read,) = inspect_store.usage.reads_for("sheets")
    assert recorded.structured_content
    if mode == "legacy":  # the Mcp-Session-Id the transport handed out
        assert read.session and read.trajectory_id == recorded.structured_content["id"]
    else:  # stateless: no session to tie a run to
        assert read.session is None and read.trajectory_id is None


async def test_skill_usage_names_each_files_reads_and_the_files_nobody_read(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as agent:
        await agent.read_resource("skill://sheets/SKILL.md")
        await agent.read_resource("skill://sheets/references/two%20words.md")
        await agent.call_tool("get_skill", {"name": "sheets"})
        usage = await agent.call_tool("skill_usage", {"name": "sheets"})
        older = await agent.call_tool("skill_usage", {"name": "sheets", "version": 1})
        missing = await agent.call_tool("skill_usage", {"name": "nope"})
    assert not usage.is_error and usage.structured_content is not None
    files = {f["path"]: f["reads"] for f in usage.structured_content["files"]}
    expected = {f.path for f in inspect_store.skills.load("sheets", 2).files}
    assert set(files) == expected and files["SKILL.md"] == 2 and files["references/two words.md"] == 1
    assert usage.structured_content["never_read"] == sorted(expected - {"SKILL.md", "references/two words.md"})
    assert (usage.structured_content["version"], usage.structured_content["sessions"]) == (2, 1)
    assert "Never read: " in str(usage.content)
    assert older.structured_content is not None and older.structured_content["reads"] == 0
    assert "No reads recorded yet" in str(older.content)
    assert missing.is_error and "no skill named 'nope'" in missing.content[0].text  # type: ignore[union-attr]
