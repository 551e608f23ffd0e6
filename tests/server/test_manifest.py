"""manifest.json (the MCP bundle) declares exactly the tools and prompts the server offers, and maps its
user settings to the environment variables the server reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from trace2skill.server import Trace2SkillServer
from trace2skill.server.config import MODEL_ENV

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


async def test_the_bundle_manifest_matches_the_server(
    server: Trace2SkillServer, connect: Callable[..., Client]
) -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text())
    async with connect(server) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert manifest["manifest_version"] == "0.4" and manifest["server"]["type"] == "uv"
    assert {t["name"] for t in manifest["tools"]} == tools
    assert {p["name"]: p["arguments"] for p in manifest["prompts"]} == {
        name: [a.name for a in p.arguments or []] for name, p in prompts.items()
    }
    config = manifest["server"]["mcp_config"]
    assert config["args"][-2:] == ["trace2skill", "serve"]
    assert set(config["env"]) == {"TRACE2SKILL_HOME", MODEL_ENV, "ANTHROPIC_API_KEY", "OPENAI_API_KEY"}
    assert (ROOT / manifest["server"]["entry_point"]).is_file()
    ignored = (ROOT / ".mcpbignore").read_text().splitlines()
    assert ".venv/" in ignored and "server/lib/" in ignored
