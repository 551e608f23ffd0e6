"""The MCP server object: one workspace per process, tools, resources and prompts, both protocol eras.

    server = create_server(ServerConfig(home=Home.resolve()))
    server.run()                                   # stdio; see trace2skill.server.http_app for HTTP

The lifespan opens the workspace (SQLite store and skill store) when the first connection starts
and closes it after the last one ends: stdio and in-memory connections each enter the lifespan,
streamable HTTP enters it once for the whole process. Each entry also runs a copy of the
announcer's loop, which sends the list changes its interval held back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import MCPServer
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from pydantic import AnyUrl

from trace2skill import __version__
from trace2skill.home import Home
from trace2skill.models import without_lone_surrogates
from trace2skill.server.announcer import Announcer, install_subscriptions
from trace2skill.server.auth import StaticTokenVerifier, auth_settings
from trace2skill.server.config import ServerConfig
from trace2skill.server.errors import tool_error_result
from trace2skill.server.prompts import register_prompts
from trace2skill.server.resources import listed_resources, mime_type_for, register_resources, skill_path_of
from trace2skill.server.skills_extension import SkillsExtension
from trace2skill.server.state import AppState
from trace2skill.server.tools import register_tools
from trace2skill.workspace import Workspace

__all__ = ["INSTRUCTIONS", "Trace2SkillServer", "create_server"]

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
trace2skill records your runs and evolves Agent Skills from them. At the end of every task, call \
record_trajectory once with the whole run (task, messages with tool calls and results, an honest \
outcome, and the skill you used); the record_this_run prompt shows the JSON. Skills are served as \
resources skill://<name>/SKILL.md (list_skills, get_skill).

To improve a skill from its recorded runs: search_trajectories and label_trajectory to fix unknown \
outcomes, then evolve_skill(name, dry_run=true) for a cost estimate, then evolve_skill(name). \
Each evolution makes a new version with provenance (skill_history, diff_skill, get_run); \
rollback_skill restores an older one as a new version. Nothing is ever deleted."""


class Trace2SkillServer(MCPServer[AppState]):
    """MCPServer with a resource list computed from the store and per-file MIME types for skill files."""

    def __init__(self, config: ServerConfig, **kwargs: Any) -> None:
        self.config = config
        self.state: AppState | None = None
        self.bus = InMemorySubscriptionBus()
        """Where 2026-07-28 `subscriptions/listen` streams get their events."""
        self._connections = 0
        super().__init__(
            config.name,
            title="trace2skill",
            description="Record agent trajectories and evolve Agent Skills from them.",
            instructions=INSTRUCTIONS,
            version=__version__,
            lifespan=_lifespan,
            subscriptions=self.bus,
            **kwargs,
        )
        install_subscriptions(self)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> types.CallToolResult | types.InputRequiredResult:
        """A tool's arguments with unpaired surrogates (valid JSON escapes, not Unicode) made U+FFFD first; any
        failure answered as `isError` with its one line (`server.errors.tool_error_result`)."""
        try:
            return await super().call_tool(name, without_lone_surrogates(arguments), context)
        except ToolError as e:
            return tool_error_result(name, e)

    async def list_resources(self) -> list[types.Resource]:
        listed = await super().list_resources()
        if self.state is None:
            return listed
        return listed + await anyio.to_thread.run_sync(listed_resources, self.state)

    async def read_resource(
        self, uri: AnyUrl | str, context: Context[AppState, Any] | None = None
    ) -> Iterable[ReadResourceContents] | types.InputRequiredResult:
        result = await super().read_resource(uri, context)
        path = skill_path_of(str(uri))
        if path is None or isinstance(result, types.InputRequiredResult):
            return result
        return [
            ReadResourceContents(content=item.content, mime_type=mime_type_for(path, item.content), meta=item.meta)
            for item in result
        ]


@asynccontextmanager
async def _lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
    assert isinstance(server, Trace2SkillServer)
    if server.state is None:
        home = server.config.home or Home.resolve()
        workspace = await anyio.to_thread.run_sync(Workspace.open, home)
        announcer = Announcer(server.bus, server.config.list_changed_interval)
        server.state = AppState(workspace=workspace, config=server.config, announcer=announcer)
        log.info("trace2skill serving %s", home.root)
    server._connections += 1
    failure: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.state.announcer.run)
            try:
                yield server.state
            except Exception as e:  # re-raised below as itself, not wrapped in an ExceptionGroup
                failure = e
            finally:
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure
    finally:
        server._connections -= 1
        if server._connections == 0 and server.state is not None:
            server.state.workspace.close()
            server.state = None


def create_server(config: ServerConfig | None = None, *, token: str | None = None) -> Trace2SkillServer:
    """Build the server. With `token`, HTTP requests must carry `Authorization: Bearer <token>`."""
    config = config or ServerConfig()
    auth: dict[str, Any] = {}
    if token is not None:
        auth = {"token_verifier": StaticTokenVerifier(token), "auth": auth_settings()}
    server = Trace2SkillServer(config, extensions=[SkillsExtension()], **auth)
    register_tools(server, allow_paths=config.allow_paths)
    register_resources(server)
    register_prompts(server)
    return server
