"""SEP-2640 `skills/list` and `skills/get`: complete manifests on 2026-07-28, absent on older connections."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from trace2skill.server import Trace2SkillServer
from trace2skill.server.skills_extension import SKILLS_EXTENSION, GetSkillParams, GetSkillResult, ListSkillsResult
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio


async def _list(client: Client) -> ListSkillsResult:
    params = types.PaginatedRequestParams()
    request = types.Request[types.PaginatedRequestParams, str](method="skills/list", params=params)
    return await client.session.send_request(request, ListSkillsResult)


async def _get(client: Client, uri: str) -> GetSkillResult:
    request = types.Request[GetSkillParams, str](method="skills/get", params=GetSkillParams(uri=uri))
    return await client.session.send_request(request, GetSkillResult)


async def test_skills_list_and_get_give_a_complete_manifest_of_the_current_version(
    server: Trace2SkillServer, connect: Callable[..., Client], mode: str, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        if mode == "legacy":
            with pytest.raises(MCPError, match="Method not found"):
                await _list(client)
            return
        extensions: dict[str, Any] = client.session.server_capabilities.extensions or {}  # type: ignore[union-attr]
        listed = await _list(client)
        got = await _get(client, "skill://sheets/SKILL.md")
        with pytest.raises(MCPError, match="no skill named 'nope'") as unknown:
            await _get(client, "skill://nope/SKILL.md")
        with pytest.raises(MCPError, match=r"is not the skill://<name>/SKILL\.md URI") as not_a_skill:
            await _get(client, "skill://sheets/references/api.md")
    assert SKILLS_EXTENSION in extensions
    (entry,) = listed.skills
    assert entry == got.skill and entry.uri == "skill://sheets/SKILL.md"
    assert entry.frontmatter == {
        "name": "sheets",
        "description": "Answer questions about spreadsheets and edit them safely. Use for xlsx and csv tasks.",
    }
    skill = inspect_store.skills.load("sheets")
    expected = {
        f"skill://sheets/{f.path}".replace(" ", "%20"): ("sha256:" + hashlib.sha256(f.data).hexdigest(), len(f.data))
        for f in skill.files
    }
    assert {r.uri: (r.digest, r.size) for r in entry.resources} == expected
    assert unknown.value.error.code == not_a_skill.value.error.code == types.INVALID_PARAMS
