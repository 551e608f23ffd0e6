"""Prompts: the instructions they give must match the tools' real contracts."""

from __future__ import annotations

import re
from collections.abc import Callable

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from trace2skill.models import parse_trajectory
from trace2skill.server import Trace2SkillServer
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]


def _text(message: types.PromptMessage) -> str:
    assert isinstance(message.content, types.TextContent)
    return message.content.text


async def test_the_prompts_are_listed_with_their_arguments(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(prompts) == {"record_this_run", "evolve_from_recent_runs", "use_skill"}
    assert [(a.name, a.required) for a in prompts["evolve_from_recent_runs"].arguments or []] == [
        ("skill", True),
        ("budget_usd", False),
    ]


async def test_record_this_run_shows_an_example_that_record_trajectory_accepts(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        prompt = await client.get_prompt("record_this_run", {"skill": "sheets"})
        text = _text(prompt.messages[0])
        example = re.search(r"```json\n(.*?)\n```", text, re.S)
        assert example is not None
        recorded = await client.call_tool("record_trajectory", {"trajectory": example.group(1)})
    assert 'Set "skill": "sheets".' in text and "`record_trajectory`" in text
    parsed = parse_trajectory(example.group(1))
    assert parsed.tool_calls and parsed.tool_results[0].is_error
    assert not recorded.is_error and recorded.structured_content is not None
    assert inspect_store.traces.get(recorded.structured_content["id"]).task == parsed.task


async def test_evolve_from_recent_runs_asks_for_a_dry_run_before_spending(
    server: Trace2SkillServer, connect: Connect
) -> None:
    async with connect(server) as client:
        prompt = await client.get_prompt("evolve_from_recent_runs", {"skill": "sheets", "budget_usd": "2"})
    text = _text(prompt.messages[0])
    assert 'name="sheets" and dry_run=true and budget_usd=2' in text
    assert text.index("dry_run=true") < text.index("Once I confirm") and "rollback_skill" in text


async def test_use_skill_embeds_the_current_skill_md(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        prompt = await client.get_prompt("use_skill", {"name": "sheets"})
        with pytest.raises(MCPError, match="no skill named 'nope'"):
            await client.get_prompt("use_skill", {"name": "nope"})
    embedded = prompt.messages[0].content
    assert isinstance(embedded, types.EmbeddedResource)
    assert isinstance(embedded.resource, types.TextResourceContents)
    assert embedded.resource.uri == "skill://sheets/SKILL.md"
    assert embedded.resource.text == inspect_store.skills.load("sheets").skill_md
    assert '"skill_version": 2' in _text(prompt.messages[1])
