"""The real transports: `trace2skill serve` as a stdio subprocess, and streamable HTTP behind uvicorn on
an ephemeral loopback port with bearer-token auth, its body limit and its session limits."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from trace2skill.home import Home
from trace2skill.models import LIMITS
from trace2skill.server import ServerConfig, create_server
from trace2skill.server.body_limit import MAX_BODY_BYTES
from trace2skill.server.http_app import HttpEndpoint, build_http, uvicorn_server
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

TOKEN = "test-token-0123456789abcdef"
TRACE2SKILL = Path(sys.executable).parent / "trace2skill"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@asynccontextmanager
async def serving(endpoint: HttpEndpoint) -> AsyncIterator[HttpEndpoint]:
    server = uvicorn_server(endpoint)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [endpoint.sock])
        try:
            yield endpoint
        finally:
            server.should_exit = True


@asynccontextmanager
async def http_client(endpoint: HttpEndpoint, mode: str) -> AsyncIterator[Client]:
    authorised = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    async with authorised, Client(streamable_http_client(endpoint.url, http_client=authorised), mode=mode) as client:
        yield client


def run_of_size(size: int) -> dict[str, Any]:
    """A trajectory whose compact JSON is `size` bytes or a little more: tool outputs of 150,000 characters."""
    run: dict[str, Any] = {
        "task": "Read the big log",
        "skill": "sheets",
        "messages": [{"role": "user", "content": "go"}],
    }
    line = "line {:06d}: the quick brown fox jumps over the lazy dog\n"
    output = "".join(line.format(i) for i in range(2_500))[:150_000]
    while len(json.dumps(run, separators=(",", ":"))) < size:
        n = len(run["messages"])
        run["messages"] += [
            {"role": "assistant", "content": [{"type": "tool_call", "id": f"c{n}", "name": "cat", "arguments": {}}]},
            {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": f"c{n}", "output": output}]},
        ]
    return run


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
    hello = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}
    base = endpoint.url.removesuffix("/mcp")
    async with serving(endpoint):
        async with httpx2.AsyncClient(timeout=10) as http:
            anonymous = await http.post(endpoint.url, content=json.dumps(hello), headers=HEADERS)
            wrong = await http.post(
                endpoint.url, content=json.dumps(hello), headers={**HEADERS, "Authorization": "Bearer nope"}
            )
            metadata = [await http.get(base + p) for p in ("/.well-known/oauth-protected-resource/mcp",
                                                           "/.well-known/oauth-protected-resource",
                                                           "/.well-known/oauth-authorization-server")]  # fmt: skip
        async with http_client(endpoint, mode) as c:
            protocol = c.session.protocol_version
            skills = await c.call_tool("list_skills", {})
            tools = {t.name for t in (await c.list_tools()).tools}
            skill = (await c.read_resource("skill://sheets/references/api.md")).contents[0]
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer ")
    assert "resource_metadata" not in anonymous.headers["www-authenticate"]  # bearer token only, no OAuth
    assert [r.status_code for r in metadata] == [404, 404, 404]
    assert wrong.status_code == 401
    assert protocol == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert skills.structured_content is not None and skills.structured_content["skills"][0]["name"] == "sheets"
    assert "import_skill" not in tools and "record_trajectory" in tools
    assert isinstance(skill, types.TextResourceContents) and skill.text.startswith("# API")


async def test_streamable_http_stores_a_7_5_mib_trajectory_and_refuses_a_larger_body_naming_the_limit(
    seeded: Home, mode: str
) -> None:
    endpoint = build_http(ServerConfig(home=seeded, allow_paths=False), host="127.0.0.1", port=0, token=TOKEN)
    big = run_of_size(int(7.5 * 2**20))
    too_big = run_of_size(MAX_BODY_BYTES + 1)
    assert 7.5 * 2**20 <= len(json.dumps(big, separators=(",", ":"))) <= LIMITS.trajectory_bytes
    async with serving(endpoint), http_client(endpoint, mode) as client:
        stored = await client.call_tool("record_trajectory", {"trajectory": big})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("record_trajectory", {"trajectory": too_big})
        still_there = await client.call_tool("list_skills", {})  # the session survives a refused body
    assert not stored.is_error and stored.structured_content is not None
    assert not still_there.is_error
    ws = Workspace.open(seeded)
    try:
        assert len(ws.traces.get(stored.structured_content["id"]).messages) == len(big["messages"])
    finally:
        ws.close()
    assert refused.value.error.code == types.INVALID_REQUEST
    assert refused.value.error.message.startswith("request body is ")
    assert f"this server accepts at most {MAX_BODY_BYTES:,} bytes (9 MiB: a trajectory of up to 8 MiB" in (
        refused.value.error.message
    )


async def test_an_abandoned_2025_session_expires_after_the_idle_timeout(seeded: Home) -> None:
    endpoint = build_http(ServerConfig(home=seeded), port=0, token=TOKEN, session_idle_timeout=0.5)
    authorised = {**HEADERS, "Authorization": f"Bearer {TOKEN}"}
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "abandoner", "version": "0"},
        },
    }
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    async with serving(endpoint), httpx2.AsyncClient(timeout=10) as http:
        opened = await http.post(endpoint.url, json=hello, headers=authorised)
        session = {
            **authorised,
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "Mcp-Protocol-Version": "2025-11-25",
        }
        alive = await http.post(endpoint.url, json=ping, headers=session)
        await anyio.sleep(1.2)
        expired = await http.post(endpoint.url, json=ping, headers=session)
    assert opened.status_code == 200 and alive.status_code == 200
    assert expired.status_code == 404


def test_the_advertised_url_is_never_a_wildcard_address() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        port = sock.getsockname()[1]
        server = create_server(ServerConfig())
        assert HttpEndpoint(sock, server, "0.0.0.0", "/mcp").url == f"http://127.0.0.1:{port}/mcp"
        assert HttpEndpoint(sock, server, "::", "/mcp").url == f"http://[::1]:{port}/mcp"
        assert HttpEndpoint(sock, server, "localhost", "/x").url == f"http://localhost:{port}/x"
    finally:
        sock.close()
