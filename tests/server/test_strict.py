"""Strict inputs over MCP, in both protocol eras: every tool's schema is closed and an unknown argument is refused
in one line before the tool runs; list filters are capped in the schema; a paid evolution needs a budget; a
prompt that does not exist, or arguments it does not take, are -32602 (invalid params) in one line."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import server_handler

from trace2skill.home import Home
from trace2skill.models import LIMITS
from trace2skill.server import ServerConfig, Trace2SkillServer, create_server
from trace2skill.server.tools import FREE_PROVIDERS, _require_budget
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]


def _line(result: CallToolResult) -> str:
    assert result.is_error
    (block,) = result.content
    text = getattr(block, "text", "")
    assert "\n" not in text and not text.startswith("Error executing tool"), text
    return text


@pytest.fixture
def fleet() -> Iterator[FakeLLMServer]:
    """A paid-looking model (`anthropic:fleet` at a local wire server) that records every request it gets."""
    with FakeLLMServer(server_handler) as llm:
        yield llm


@pytest.fixture
def paid_server(seeded: Home, fleet: FakeLLMServer) -> Trace2SkillServer:
    return create_server(ServerConfig(home=seeded, model=f"anthropic:fleet@{fleet.url}"))


async def test_every_tool_advertises_a_closed_input_schema(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) >= 11
    assert all(tool.input_schema.get("additionalProperties") is False for tool in tools), [
        tool.name for tool in tools if tool.input_schema.get("additionalProperties") is not False
    ]


async def test_evolve_skill_with_camel_case_dry_run_is_refused_by_name_and_starts_nothing(
    paid_server: Trace2SkillServer, connect: Connect, fleet: FakeLLMServer, inspect_store: Workspace
) -> None:
    async with connect(paid_server) as client:
        result = await client.call_tool("evolve_skill", {"name": "sheets", "dryRun": True, "budget_usd": 5})
    line = _line(result)
    assert line.startswith("invalid arguments: unknown argument 'dryRun' (did you mean 'dry_run'?); evolve_skill takes")
    assert {"name", "budget_usd", "dry_run", "publish"} <= set(line.split(" takes ")[1].split(", "))
    assert fleet.requests == [] and inspect_store.traces.list_runs() == []


async def test_several_unknown_arguments_are_named_in_one_line_and_nothing_is_stored(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    run = {"task": "Count the rows", "messages": [{"role": "user", "content": "go"}]}
    async with connect(server) as client:
        typo = await client.call_tool("get_skill", {"name": "sheets", "verison": 1})
        several = await client.call_tool("record_trajectory", {"trajectory": run, "skill": "sheets", "x\ny": 1})
        none_taken = await client.call_tool("list_skills", {"all": True})
    assert _line(typo) == (
        "invalid arguments: unknown argument 'verison' (did you mean 'version'?); get_skill takes name, version"
    )
    assert _line(several) == (
        "invalid arguments: unknown arguments 'skill', 'x\\ny'; record_trajectory takes trajectory"
    )
    assert _line(none_taken) == "invalid arguments: unknown argument 'all'; list_skills takes no arguments"
    assert inspect_store.traces.count() == 3


async def test_list_filters_are_capped_in_the_schema_and_a_thousand_tags_are_one_line(
    server: Trace2SkillServer, connect: Connect
) -> None:
    many = [f"tag{i}" for i in range(1000)]
    async with connect(server) as client:
        schemas = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        refused = await client.call_tool("search_trajectories", {"tags": many})
        evolve = await client.call_tool("evolve_skill", {"name": "sheets", "tags": many, "dry_run": True})
        outcomes = await client.call_tool("search_trajectories", {"outcome": ["failure"] * 5})
        at_the_limit = await client.call_tool("search_trajectories", {"tags": many[: LIMITS.tags]})
    (tags,) = [s for s in schemas["search_trajectories"]["properties"]["tags"]["anyOf"] if s["type"] == "array"]
    assert tags["maxItems"] == LIMITS.tags and tags["items"]["maxLength"] == LIMITS.tag_chars
    too_many = f"invalid arguments: tags: List should have at most {LIMITS.tags} items after validation, not 1000"
    assert _line(refused) == too_many and _line(evolve) == too_many
    assert _line(outcomes) == "invalid arguments: outcome: List should have at most 4 items after validation, not 5"
    assert not at_the_limit.is_error and (at_the_limit.structured_content or {})["total"] == 0


# --- a budget for a paid run ---------------------------------------------------------------------------------------


async def test_a_paid_evolution_without_a_budget_is_refused_in_one_line_and_starts_nothing(
    paid_server: Trace2SkillServer, connect: Connect, fleet: FakeLLMServer, inspect_store: Workspace
) -> None:
    async with connect(paid_server) as client:
        refused = await client.call_tool("evolve_skill", {"name": "sheets"})
        dry = await client.call_tool("evolve_skill", {"name": "sheets", "dry_run": True})
    assert _line(refused) == (
        f"a run with anthropic:fleet@{fleet.url} costs money: pass budget_usd, the most it may spend in USD "
        "(dry_run=true estimates the cost first, and spends nothing)"
    )
    assert "budget_usd" not in getattr(dry.content[0], "text", "")  # a dry run spends nothing: it needs no budget
    assert fleet.requests == [] and inspect_store.traces.list_runs() == []


async def test_the_evolve_prompt_asks_for_a_budget_and_passes_it(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        prompt = await client.get_prompt("evolve_from_recent_runs", {"skill": "sheets"})
    text = getattr(prompt.messages[0].content, "text", "")
    assert "ask me to confirm and to name a budget in USD before spending anything" in text
    assert 'call `evolve_skill` with name="sheets" and budget_usd set to the budget I named' in text


@pytest.mark.parametrize("model", ["local:qwen2.5-coder-1.5b", "sampling"])
def test_a_free_model_needs_no_budget(model: str) -> None:
    _require_budget(model, None)  # no ToolError
    assert model.partition(":")[0] in FREE_PROVIDERS


@pytest.mark.parametrize("model", ["anthropic:claude-sonnet-4-5", "openai:gpt-5-mini", "openai:qwen@http://h:1/v1"])
def test_a_paid_model_needs_a_budget(model: str) -> None:
    with pytest.raises(Exception, match="costs money: pass budget_usd"):
        _require_budget(model, None)
    _require_budget(model, 0.5)


# --- JSON-RPC error codes ------------------------------------------------------------------------------------------


async def test_an_unknown_prompt_is_invalid_params_in_one_line(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        with pytest.raises(MCPError) as unknown:
            await client.get_prompt("record_that_run", {})
        with pytest.raises(MCPError) as extra:
            await client.get_prompt("use_skill", {"name": "sheets", "verbose": "yes"})
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("use_skill", {})
        with pytest.raises(MCPError) as no_skill:
            await client.get_prompt("use_skill", {"name": "nope"})
    assert (unknown.value.error.code, unknown.value.error.message) == (
        types.INVALID_PARAMS,
        "unknown prompt 'record_that_run'; the prompts are record_this_run, evolve_from_recent_runs, use_skill",
    )
    assert (extra.value.error.code, extra.value.error.message) == (
        types.INVALID_PARAMS,
        "unknown argument 'verbose'; the prompt use_skill takes name",
    )
    assert (missing.value.error.code, missing.value.error.message) == (
        types.INVALID_PARAMS,
        "the prompt use_skill needs the argument 'name'",
    )
    assert no_skill.value.error.code == types.INVALID_PARAMS and "no skill named 'nope'" in no_skill.value.error.message


async def test_an_unknown_resource_is_invalid_params_in_one_line(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("skill://nope/SKILL.md")
    assert caught.value.error.code == types.INVALID_PARAMS
    assert "\n" not in caught.value.error.message and "nope" in caught.value.error.message
