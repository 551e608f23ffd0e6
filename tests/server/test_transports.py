"""The two real transports, once each: `trace2skill serve` as a stdio subprocess, and streamable HTTP
behind uvicorn on an ephemeral loopback port with bearer-token auth."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp.client.streamable_http import streamable_http_client

from trace2skill.home import Home
from trace2skill.server import ServerConfig
from trace2skill.server.http import build_http, uvicorn_server
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

TOKEN = "test-token-0123456789abcdef"
TRACE2SKILL = Path(sys.executable).parent / "trace2skill"


async def test_trace2skill_serve_over_stdio_records_lists_and_serves_a_skill(
    seeded: Home, connect: Callable[..., Client]
) -> None:
    env = {**get_default_environment(), "TRACE2SKILL_HOME": str(seeded.root)}
    params = StdioServerParameters(command=str(TRACE2SKILL), args=["serve"], env=env)
    run = {"task": "Count the rows of big.csv", "skill": "sheets", "messages": [{"role": "user", "content": "go"}]}
    async with connect(params) as client:
        recorded = await client.call_tool("record_trajectory", {"trajectory": run})
        found = await client.call_tool("search_trajectories", {"query": "big.csv"})
        skill = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
    assert recorded.structured_content is not None and not recorded.is_error
    assert found.structured_content is not None
    assert [t["id"] for t in found.structured_content["trajectories"]] == [recorded.structured_content["id"]]
    assert isinstance(skill, types.TextResourceContents) and skill.text.startswith("---\nname: sheets\n")
    ws = Workspace.open(seeded)
    try:
        assert ws.traces.get(recorded.structured_content["id"]).task == "Count the rows of big.csv"
    finally:
        ws.close()


async def test_streamable_http_refuses_requests_without_the_token_and_serves_those_with_it(
    seeded: Home, mode: str
) -> None:
    endpoint = build_http(ServerConfig(home=seeded, allow_paths=False), host="127.0.0.1", port=0, token=TOKEN)
    server = uvicorn_server(endpoint)
    hello = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [endpoint.sock])
        try:
            async with httpx2.AsyncClient(timeout=10) as http:
                anonymous = await http.post(endpoint.url, content=json.dumps(hello), headers=headers)
                wrong = await http.post(
                    endpoint.url, content=json.dumps(hello), headers={**headers, "Authorization": "Bearer nope"}
                )
            authorised = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            async with authorised, Client(streamable_http_client(endpoint.url, http_client=authorised), mode=mode) as c:
                protocol = c.session.protocol_version
                skills = await c.call_tool("list_skills", {})
                tools = {t.name for t in (await c.list_tools()).tools}
                skill = (await c.read_resource("skill://sheets/references/api.md")).contents[0]
        finally:
            server.should_exit = True
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert protocol == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert skills.structured_content is not None and skills.structured_content["skills"][0]["name"] == "sheets"
    assert "import_skill" not in tools and "record_trajectory" in tools
    assert isinstance(skill, types.TextResourceContents) and skill.text.startswith("# API")
