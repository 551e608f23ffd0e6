"""manifest.json (the MCP bundle) declares exactly the tools and prompts the server offers, starts its
entry point with the locked dependencies, and maps its user settings (empty by default) to the
environment variables the server reads. test_bundle.py runs it as a host would."""

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
    config, entry = manifest["server"]["mcp_config"], manifest["server"]["entry_point"]
    assert config["command"] == "uv" and config["args"] == ["run", "--frozen", "--directory", "${__dirname}", entry]
    assert set(config["env"]) == {"TRACE2SKILL_HOME", MODEL_ENV, "ANTHROPIC_API_KEY", "OPENAI_API_KEY"}
    assert (ROOT / entry).is_file()
    defaults = {key: option.get("default") for key, option in manifest["user_config"].items()}
    # hosts never expand a placeholder inside a default, and leave a key without one as `${user_config.KEY}`
    assert defaults == {"home": "", "model": "", "anthropic_api_key": "", "openai_api_key": ""}
    ignored = (ROOT / ".mcpbignore").read_text().splitlines()
    assert ".venv/" in ignored and "server/lib/" in ignored
