"""Red team through MCP: an agent calls evolve_skill over 20 poisoned runs with a model that obeys them.
Whatever publish mode it asks for, nothing risky goes live, the held version's reasons come back to
it, and no tool of the server can release the version: only a person can."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.redteam import make_injected_trajectories, obedient_handler
from tests.doubles.simulated import make_skill

from trace2skill.home import Home
from trace2skill.server import ServerConfig, create_server
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

N = 20


def _text(result: types.CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture
def poisoned_home(home: Path) -> Home:
    h = Home(home)
    ws = Workspace.open(h)
    try:
        ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
        ws.traces.add_many(make_injected_trajectories(N, seed=7))
    finally:
        ws.close()
    (home / "prices.json").write_text('{"anthropic:fleet": {"input": 3, "output": 15}}')  # a paid run needs a budget
    return h


@pytest.fixture
def obedient_url() -> Iterator[str]:
    with FakeLLMServer(obedient_handler) as server:
        yield server.url


@pytest.mark.parametrize("publish", ["auto", "never"])
async def test_evolve_skill_holds_every_risky_change_whatever_publish_mode_the_agent_asks_for(
    poisoned_home: Home, obedient_url: str, connect: Callable[..., Client], publish: str
) -> None:
    server = create_server(ServerConfig(home=poisoned_home, model=f"anthropic:fleet@{obedient_url}"))
    async with connect(server) as client:
        before = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
        arguments = {"name": "sheets", "workers": 8, "publish": publish, "budget_usd": 100}
        result = await client.call_tool("evolve_skill", arguments)
        after = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
        history = await client.call_tool("skill_history", {"name": "sheets"})
        rollback = await client.call_tool("rollback_skill", {"name": "sheets", "version": 2})
    data: dict[str, Any] = result.structured_content or {}
    assert not result.is_error, _text(result)
    assert (data["status"], data["published"], data["new_version"]) == ("staged", False, 2)
    reasons = data["held_for_review"]
    assert any(r.startswith("scripts/setup.sh: new file under scripts/") for r in reasons)
    assert any(r.startswith("SKILL.md:") and "pipes a download into a shell" in r for r in reasons)
    assert "## Held for review" in _text(result) and "trace2skill skills publish sheets --version 2" in _text(result)
    assert isinstance(after, types.TextResourceContents) and isinstance(before, types.TextResourceContents)
    assert after.text == before.text and "x.y" not in after.text  # what agents are served did not change
    assert f"v2 (staged: held for review ({len(reasons)} reasons))" in _text(history)
    versions = (history.structured_content or {})["versions"]
    assert [v["review"] for v in versions] == [None, f"staged: held for review ({len(reasons)} reasons)"]
    assert rollback.is_error and "held for review" in _text(rollback) and "\n" not in _text(rollback).strip()
    ws = Workspace.open(poisoned_home)
    try:
        assert ws.skills.published_version("sheets") == 1 and ws.skills.head("sheets").version == 2
        assert not any(f.executable for f in ws.skills.list_files("sheets", 2))
    finally:
        ws.close()
