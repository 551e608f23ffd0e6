"""Resources: SEP-2640 skill URIs served from the store, trajectories, reports, and change notifications."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated

from trace2skill.server import Trace2SkillServer
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]


async def test_every_skill_md_is_listed_with_name_description_and_version(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    async with connect(server) as client:
        listed = {str(r.uri): r for r in (await client.list_resources()).resources}
    skill = listed["skill://sheets/SKILL.md"]
    assert skill.name == "sheets" and skill.mime_type == "text/markdown"
    assert skill.description == inspect_store.skills.head("sheets").description
    assert skill.description and skill.description.startswith("Answer questions about spreadsheets")
    assert skill.meta == {"trace2skill/version": 2, "trace2skill/digest": inspect_store.skills.head("sheets").digest}
    assert {"trajectory://t-fail-1", "trajectory://t-ok-1", "trajectory://t-other"} <= set(listed)
    assert listed["trajectory://t-fail-1"].description == "Sum the revenue column of q3.xlsx"


async def test_templates_follow_the_sep_2640_uri_rules(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
    assert set(templates) == {
        "skill://{name}/SKILL.md",
        "skill://{name}/{+path}",
        "trajectory://{id}",
        "run://{run_id}/report",
    }
    assert templates["skill://{name}/SKILL.md"].mime_type == "text/markdown"


async def test_skill_files_are_read_from_the_store_with_their_own_mime_types(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    skill = inspect_store.skills.load("sheets")
    async with connect(server) as client:
        md = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
        spaced = (await client.read_resource("skill://sheets/references/two%20words.md")).contents[0]
        logo = (await client.read_resource("skill://sheets/assets/logo.png")).contents[0]
    assert isinstance(md, types.TextResourceContents) and md.text == skill.skill_md and md.mime_type == "text/markdown"
    assert isinstance(spaced, types.TextResourceContents) and spaced.text == "# Two words\n"
    assert isinstance(logo, types.BlobResourceContents) and logo.mime_type == "image/png"
    png = skill.file("assets/logo.png")
    assert png is not None and base64.b64decode(logo.blob) == png.data
    assert hashlib.sha256(base64.b64decode(logo.blob)).hexdigest() == png.sha256


async def test_a_hand_edit_on_disk_is_not_served_until_it_is_recorded(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    published = inspect_store.skills.published_path("sheets") / "SKILL.md"
    recorded = published.read_text()
    published.chmod(0o644)
    published.write_text(recorded + "\nInjected by hand.\n")
    async with connect(server) as client:
        served = (await client.read_resource("skill://sheets/SKILL.md")).contents[0]
    assert isinstance(served, types.TextResourceContents) and served.text == recorded


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("skill://sheets/../../etc/passwd", "Unknown resource"),
        ("skill://sheets/%2e%2e/%2e%2e/etc/passwd", "Unknown resource"),
        ("skill://sheets//etc/passwd", "Unknown resource"),
        ("skill://sheets/SKILL.md%00.png", "Unknown resource"),
        ("skill://sheets/references%5C..%5C..%5Csecret", "Unknown resource"),
        ("skill://sheets/refs\\x.md", "contains a backslash"),
        ("skill://sheets/nope.md", "skill 'sheets' version 2 has no file 'nope.md'"),
        ("skill://nope/SKILL.md", "no skill named 'nope'"),
        ("skill://Bad/SKILL.md", "is not a valid Agent Skills name"),
        ("trajectory://t-missing", "no trajectory with id 't-missing'"),
        ("run://r_missing/report", "no evolution run with id 'r_missing'"),
    ],
)
async def test_path_tricks_and_unknown_targets_are_invalid_params_with_a_reason(
    server: Trace2SkillServer, connect: Connect, uri: str, message: str
) -> None:
    async with connect(server) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(uri)
    assert caught.value.error.code == types.INVALID_PARAMS and message in caught.value.error.message


async def test_a_trajectory_is_a_json_resource(server: Trace2SkillServer, connect: Connect) -> None:
    async with connect(server) as client:
        content = (await client.read_resource("trajectory://t-fail-1")).contents[0]
    assert isinstance(content, types.TextResourceContents) and content.mime_type == "application/json"
    data = json.loads(content.text)
    assert data["id"] == "t-fail-1" and data["outcome"]["status"] == "failure" and len(data["messages"]) == 4


def _legacy_events(got: list[Any], wanted: int, done: anyio.Event) -> Callable[[Any], Any]:
    async def handler(message: Any) -> None:
        if isinstance(message, types.ResourceListChangedNotification | types.ResourceUpdatedNotification):
            got.append(message)
            if len(got) == wanted:
                done.set()

    return handler


async def test_rollback_announces_the_changed_skill_to_a_2026_client(server: Trace2SkillServer) -> None:
    async with Client(server, mode="auto", raise_exceptions=True) as client:
        assert client.session.protocol_version == "2026-07-28"
        watched = ["skill://sheets/SKILL.md"]
        async with client.listen(resources_list_changed=True, resource_subscriptions=watched) as sub:
            await client.call_tool("rollback_skill", {"name": "sheets", "version": 1})
            seen: list[Any] = []
            with anyio.fail_after(5):
                async for event in sub:
                    seen.append(event)
                    if isinstance(event, ResourceUpdated):
                        break
    assert seen == [ResourcesListChanged(), ResourceUpdated(uri="skill://sheets/SKILL.md")]


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
async def test_rollback_and_record_announce_changes_to_a_subscribed_2025_client(server: Trace2SkillServer) -> None:
    got: list[Any] = []
    done = anyio.Event()
    async with Client(server, mode="legacy", message_handler=_legacy_events(got, 3, done)) as client:
        assert client.session.protocol_version == "2025-11-25"
        await client.subscribe_resource("skill://sheets/SKILL.md")
        await client.call_tool("rollback_skill", {"name": "sheets", "version": 1})
        await client.call_tool("record_trajectory", {"trajectory": {"task": "t", "messages": []}})
        with anyio.fail_after(5):
            await done.wait()
    assert [m.method for m in got] == [
        "notifications/resources/list_changed",
        "notifications/resources/updated",
        "notifications/resources/list_changed",
    ]
    assert got[1].params.uri == "skill://sheets/SKILL.md"
