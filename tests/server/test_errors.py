"""Bad input over MCP: the same one line the CLI prints after `Error: `, as a tool error (`isError: true` in
the result, not a JSON-RPC error), never the SDK's bare "Error executing tool"; nothing stored on a refusal.

The disk cases start the real `trace2skill serve` over stdio under bubblewrap (a read-only mount, a
tiny tmpfs) and skip where bwrap cannot run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp_types import CallToolResult

from trace2skill.home import Home
from trace2skill.server import Trace2SkillServer
from trace2skill.store import TraceStore
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]
TRACE2SKILL = Path(sys.executable).parent / "trace2skill"
RUN = {"task": "Count the rows", "skill": "sheets", "messages": [{"role": "user", "content": "go"}]}


def _line(result: CallToolResult) -> str:
    """The error's text, checked to be one line of trace2skill's, as the CLI prints it after `Error: `."""
    assert result.is_error
    (block,) = result.content
    text = getattr(block, "text", "")
    assert "\n" not in text and not text.startswith("Error executing tool"), text
    assert "internal error" not in text, text
    return text


async def test_deeply_nested_json_is_one_line_and_nothing_is_stored(
    server: Trace2SkillServer, connect: Connect, inspect_store: Workspace
) -> None:
    deep: Any = 1
    for _ in range(150):
        deep = [deep]
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": {**RUN, "metadata": {"x": deep}}})
    assert _line(result) == (
        "invalid trajectory: the JSON nests deeper than 64 levels of lists and objects inside a value; flatten deeply "
        "nested tool arguments, outputs or metadata"
    )
    assert inspect_store.traces.count() == 3


async def test_arguments_that_do_not_fit_the_schema_are_one_line_naming_each_field(
    server: Trace2SkillServer, connect: Connect
) -> None:
    async with connect(server) as client:
        missing = await client.call_tool("get_skill", {})
        wrong = await client.call_tool("label_trajectory", {"id": "t-ok-1", "status": "failure", "score": "high"})
    assert _line(missing) == "invalid arguments: name: Field required"
    assert _line(wrong) == (
        "invalid arguments: score: Input should be a valid number, unable to parse string as a number"
    )


async def test_a_malformed_redaction_yaml_is_one_line_naming_the_file(
    server: Trace2SkillServer, connect: Connect, seeded: Home, inspect_store: Workspace
) -> None:
    (seeded.root / "redaction.yaml").write_text("patterns:\n  ticket: '(unclosed'\n")
    async with connect(server) as client:
        result = await client.call_tool("record_trajectory", {"trajectory": RUN})
    assert _line(result).startswith(
        f"{seeded.root / 'redaction.yaml'}: patterns.ticket is not a valid regex (missing ), unterminated subpattern"
    )
    assert inspect_store.traces.count() == 3


async def test_a_bug_says_it_is_one_in_one_line(
    server: Trace2SkillServer, connect: Connect, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(TraceStore, "summaries", broken)
    async with connect(server) as client:
        result = await client.call_tool("search_trajectories", {})
    assert result.is_error and getattr(result.content[0], "text", "") == (
        "internal error (RuntimeError: boom); this is a bug in trace2skill: the server's log has the traceback"
    )
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


async def test_a_read_only_home_lists_and_refuses_writes_in_one_line(
    server: Trace2SkillServer, connect: Connect, seeded: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Home, "writable", property(lambda self: False))  # what os.access says on a read-only mount
    async with connect(server) as client:
        listed = await client.call_tool("list_skills", {})
        found = await client.call_tool("search_trajectories", {"query": "revenue"})
        refused = await client.call_tool("record_trajectory", {"trajectory": RUN})
        label = await client.call_tool("label_trajectory", {"id": "t-ok-1", "status": "failure"})
    assert not listed.is_error and [s["name"] for s in (listed.structured_content or {})["skills"]] == ["sheets"]
    assert not found.is_error and (found.structured_content or {})["total"] == 1
    expected = (
        f"read-only: the home {seeded.root} cannot be written, so this command cannot run (reading works: list, "
        "show, search); make it writable, or use another home (--home)"
    )
    assert _line(refused) == expected
    assert _line(label) == expected


# --- the disk, for real, through `trace2skill serve` over stdio -------------------------------------------


def _bwrap(*mounts: str) -> list[str]:
    if shutil.which("bwrap") is None:
        pytest.skip("bwrap is not installed")
    probe = subprocess.run(
        ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"bwrap cannot run here: {probe.stderr.decode()[:200]}")
    return ["--bind", "/", "/", *mounts, "--dev", "/dev", "--proc", "/proc", str(TRACE2SKILL)]


def _stdio(home: Path, *mounts: str) -> StdioServerParameters:
    env = {**get_default_environment(), "TRACE2SKILL_HOME": str(home)}
    env.update({k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")})
    return StdioServerParameters(command="bwrap", args=[*_bwrap(*mounts), "serve"], env=env)


async def test_a_server_on_a_read_only_mount_serves_reads_and_refuses_writes(seeded: Home, connect: Connect) -> None:
    params = _stdio(seeded.root, "--ro-bind", str(seeded.root), str(seeded.root))
    async with connect(params) as client:
        skills = await client.call_tool("list_skills", {})
        refused = await client.call_tool("record_trajectory", {"trajectory": RUN})
    assert not skills.is_error and "sheets" in getattr(skills.content[0], "text", "")
    assert _line(refused).startswith(f"read-only: the home {seeded.root} cannot be written")


async def test_a_full_disk_is_one_line_naming_the_database(tmp_path: Path, connect: Connect) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    params = _stdio(mount / "home", "--size", str(900_000), "--tmpfs", str(mount))
    big = {**RUN, "messages": [{"role": "tool", "content": "x" * 190_000} for _ in range(8)]}
    async with connect(params) as client:
        full = await client.call_tool("record_trajectory", {"trajectory": big})
        listed = await client.call_tool("search_trajectories", {})
    assert _line(full) == (
        f"disk full: cannot write the database {mount}/home/trace2skill.db; free some space, or use another home"
    )
    assert not listed.is_error and json.loads(json.dumps(listed.structured_content))["total"] == 0
