"""evolve_skill over MCP: the real pipeline, a real SDK client against the local LLM wire server, progress
notifications, dry runs, MCP sampling in the era that allows it, and the errors that say how to set up a model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from tests.doubles.llmserver import FakeLLMServer, Fault
from tests.doubles.simulated import chat_handler, make_trajectories, server_handler

from trace2skill.home import Home
from trace2skill.llm import ChatMessage, ChatRequest
from trace2skill.server import ServerConfig, create_server
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]


def _text(result: types.CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def _data(result: types.CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, _text(result)
    return result.structured_content


@pytest.fixture
def llm_url() -> Iterator[str]:
    """The local Anthropic/OpenAI wire-protocol server, answering as the simulated fleet."""
    with FakeLLMServer(server_handler) as server:
        yield server.url


async def test_evolve_skill_reports_progress_and_serves_the_new_version_afterwards(
    fleet_home: Home, llm_url: str, connect: Connect
) -> None:
    server = create_server(ServerConfig(home=fleet_home, model=f"anthropic:fleet@{llm_url}"))
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with connect(server) as client:
        before = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
        arguments = {"name": "sheets", "workers": 4, "budget_usd": 100}
        result = await client.call_tool("evolve_skill", arguments, progress_callback=on_progress)
        after = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
        runs = await client.call_tool("list_runs", {"skill": "sheets"})
        run = await client.call_tool("get_run", {"run_id": _data(result)["run_id"]})
        report_md = (await client.read_resource(_data(result)["report_uri"])).contents[0]
    data = _data(result)
    assert not result.is_error and data["status"] == "succeeded", _text(result)
    assert (data["base_version"], data["new_version"]) == (1, 2) and data["llm_source"] == "server --model"
    assert data["report"]["provenance"] and data["report"]["trajectories"] == 4
    assert _text(result).startswith(f"# Evolution run {data['run_id']}: sheets")
    # progress: strictly increasing, out of a fixed total, ending at it, naming the stages
    values = [p[0] for p in progress]
    assert values == sorted(set(values)) and len(values) >= 6
    assert {p[1] for p in progress} == {progress[-1][0]} and progress[-1][2] == "done: succeeded"
    stages = {(p[2] or "").split(" ")[0].rstrip(":") for p in progress}
    assert {"analyse", "propose", "merge", "apply", "commit", "done"} <= stages
    # the new version is what the resources serve now
    ws = Workspace.open(fleet_home)
    try:
        head = ws.skills.head("sheets")
        assert head.version == 2 and head.run_id == data["run_id"]
        assert isinstance(after, types.TextResourceContents) and after.text == ws.skills.load("sheets").skill_md
    finally:
        ws.close()
    assert isinstance(before, types.TextResourceContents) and before.text != after.text
    assert listed["skill://sheets/SKILL.md"].meta == {"trace2skill/version": 2, "trace2skill/digest": head.digest}
    assert f"run://{data['run_id']}/report" in listed
    assert [r["run_id"] for r in _data(runs)["runs"]] == [data["run_id"]]
    assert _data(run)["report"]["new_version"] == 2 and _data(run)["run"]["status"] == "succeeded"
    assert isinstance(report_md, types.TextResourceContents) and "## What changed and why" in report_md.text


async def test_a_dry_run_estimates_the_cost_and_changes_nothing(
    fleet_home: Home, llm_url: str, connect: Connect
) -> None:
    server = create_server(ServerConfig(home=fleet_home, model="anthropic:claude-sonnet-4-5"))
    async with connect(server) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets", "dry_run": True})
        runs = await client.call_tool("list_runs", {})
    data = _data(result)
    assert data["status"] == "dry_run" and data["model"] == "anthropic:claude-sonnet-4-5"
    estimate = data["estimate"]
    assert estimate["trajectories"] == 4 and estimate["calls"]["analyse"] >= 4 and data["cost_usd"] > 0
    assert "Nothing was spent" in _text(result) and _data(runs)["runs"] == []


async def test_the_analyst_and_any_version_reach_the_run_as_on_the_command_line(
    fleet_home: Home, connect: Connect
) -> None:
    ws = Workspace.open(fleet_home)
    try:  # a second version, and three runs made with it: by default only those are learned from
        more = ws.skills.load("sheets").with_files({"references/more.md": b"# More\n"})
        ws.skills.commit(more, parent=1, author="human", changelog=["+"])
        ws.traces.add_many(t.model_copy(update={"skill_version": 2}) for t in make_trajectories(3, seed=8))
    finally:
        ws.close()
    async with connect(create_server(ServerConfig(home=fleet_home))) as client:
        own = await client.call_tool("evolve_skill", {"name": "sheets", "dry_run": True})
        every = await client.call_tool("evolve_skill", {"name": "sheets", "dry_run": True, "any_version": True})
        single = await client.call_tool("evolve_skill", {"name": "sheets", "dry_run": True, "analyst": "single"})
    assert _data(own)["estimate"]["trajectories"] == 3 and _data(every)["estimate"]["trajectories"] == 7
    failures = _data(own)["estimate"]["failures"]
    assert _data(own)["estimate"]["agentic"] == failures and _data(single)["estimate"]["agentic"] == 0


async def test_a_dry_run_works_without_any_model_and_says_the_cost_is_unknown(
    fleet_home: Home, connect: Connect
) -> None:
    async with connect(create_server(ServerConfig(home=fleet_home))) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets", "dry_run": True, "limit": 2})
    data = _data(result)
    assert data["llm_source"] == "none configured" and data["cost_usd"] is None
    assert data["estimate"]["trajectories"] == 2 and "unknown (no price for this model)" in _text(result)


async def test_without_a_model_or_sampling_the_error_says_how_to_configure_one(
    fleet_home: Home, connect: Connect
) -> None:
    async with connect(create_server(ServerConfig(home=fleet_home))) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets"})
        runs = await client.call_tool("list_runs", {})
    assert result.is_error
    for hint in ("$ANTHROPIC_API_KEY", "$OPENAI_API_KEY", "$TRACE2SKILL_MODEL", "trace2skill serve --model"):
        assert hint in _text(result)
    assert "the client did not offer sampling" in _text(result) and _data(runs)["runs"] == []


async def _client_model(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
    """The MCP client's own model: the simulated fleet, answering the text the server sent."""
    messages = [ChatMessage(role=m.role, content=getattr(m.content, "text", "")) for m in params.messages]
    reply = chat_handler(ChatRequest(system=params.system_prompt or "", messages=messages))
    text = json.dumps(reply) if isinstance(reply, dict) else reply.text
    return types.CreateMessageResult(role="assistant", model="client-fleet", content=types.TextContent(text=text))


async def test_a_2025_client_offering_sampling_lends_its_model_to_the_evolution(fleet_home: Home) -> None:
    calls: list[str] = []

    async def sampling(context: ClientRequestContext, params: types.CreateMessageRequestParams) -> Any:
        calls.append(params.system_prompt or "")
        return await _client_model(context, params)

    server = create_server(ServerConfig(home=fleet_home))
    async with Client(server, mode="legacy", sampling_callback=sampling) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets", "workers": 2})
    data = _data(result)
    assert data["status"] == "succeeded" and data["llm_source"] == "sampling" and data["model"] == "sampling"
    assert data["new_version"] == 2 and len(calls) == data["report"]["calls"] >= 4


async def test_a_2026_client_offering_sampling_is_told_why_it_cannot_be_used_mid_call(fleet_home: Home) -> None:
    server = create_server(ServerConfig(home=fleet_home))
    async with Client(server, mode="auto", raise_exceptions=True, sampling_callback=_client_model) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets"})
        explicit = await client.call_tool("evolve_skill", {"name": "sheets", "model": "sampling"})
    for answer in (result, explicit):
        assert answer.is_error and "2026-07-28" in _text(answer)
        assert "cannot send requests to the client in the middle of a tool call" in _text(answer)


async def test_a_model_argument_may_not_point_the_servers_credentials_at_another_url(
    fleet_home: Home, connect: Connect
) -> None:
    server = create_server(ServerConfig(home=fleet_home, model="anthropic:claude-sonnet-4-5"))
    async with connect(server) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets", "model": "anthropic:x@http://10.0.0.9:1"})
        typo = await client.call_tool("evolve_skill", {"name": "sheets", "model": "claude"})
    assert result.is_error and "only whoever starts the server may do that" in _text(result)
    assert typo.is_error and "is not of the form provider:model" in _text(typo)


async def test_evolving_a_skill_that_does_not_exist_is_a_clear_error_that_records_nothing(
    fleet_home: Home, llm_url: str, connect: Connect
) -> None:
    server = create_server(ServerConfig(home=fleet_home, model=f"anthropic:fleet@{llm_url}"))
    async with connect(server) as client:
        result = await client.call_tool("evolve_skill", {"name": "nope", "budget_usd": 100})
        bad = await client.call_tool("evolve_skill", {"name": "sheets", "fan_in": 1, "budget_usd": 100})
        runs = await client.call_tool("list_runs", {})
    assert result.is_error and "no skill named 'nope' to deepen" in _text(result)
    assert bad.is_error and "fan_in" in _text(bad)
    assert _data(runs)["runs"] == []


async def test_a_failed_run_is_a_tool_error_that_still_carries_its_report(fleet_home: Home, connect: Connect) -> None:
    with FakeLLMServer(lambda request: Fault.error(400, "model refused the request")) as broken:
        server = create_server(ServerConfig(home=fleet_home, model=f"anthropic:fleet@{broken.url}"))
        async with connect(server) as client:
            result = await client.call_tool("evolve_skill", {"name": "sheets", "workers": 2, "budget_usd": 100})
            current = await client.call_tool("get_skill", {"name": "sheets"})
    data = _data(result)
    assert result.is_error and data["status"] == "failed" and data["new_version"] is None
    assert "every analysis failed" in data["error"] and "**Status:** failed" in _text(result)
    assert data["report"]["run_id"] == data["run_id"]
    assert _data(current)["version"] == 1
