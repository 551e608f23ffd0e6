"""The MCP server object: one workspace per process, tools, resources and prompts, both protocol eras.

    server = create_server(ServerConfig(home=Home.resolve()))
    server.run()                                   # stdio; see trace2skill.server.http_app for HTTP

The lifespan opens the workspace (SQLite store and skill store) when the first connection starts
and closes it after the last one ends, or after the last background evolution still running ends
(`state.WorkspaceKeeper`, under one lock): stdio and in-memory connections each enter the lifespan,
streamable HTTP enters it once for the whole process. Each entry also runs a copy of the
announcer's loop, which sends the list changes its interval held back. Evolutions belong to the
server (`background.Evolutions`); `shutdown()` cancels those still running, each recorded as
`interrupted` so that it resumes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Iterable
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
from mcp.shared.exceptions import MCPError
from pydantic import AnyUrl

from trace2skill import __version__
from trace2skill.home import Home
from trace2skill.models import without_lone_surrogates
from trace2skill.server.announcer import Announcer, install_subscriptions
from trace2skill.server.auth import StaticTokenVerifier, auth_settings
from trace2skill.server.background import Evolutions
from trace2skill.server.config import ServerConfig
from trace2skill.server.errors import (
    prompt_arguments_problem,
    refusal,
    tool_error_result,
    unknown_arguments_line,
    unknown_prompt_line,
)
from trace2skill.server.prompts import register_prompts
from trace2skill.server.resources import listed_resources, mime_type_for, register_resources, skill_path_of
from trace2skill.server.skills_extension import SkillsExtension
from trace2skill.server.state import AppState, WorkspaceKeeper
from trace2skill.server.stdio_guard import answering_stdio
from trace2skill.server.tools import register_tools
from trace2skill.store import new_id
from trace2skill.workspace import Workspace

__all__ = ["INSTRUCTIONS", "Trace2SkillServer", "create_server"]

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
trace2skill records your runs and evolves Agent Skills from them. At the end of every task, call \
record_trajectory once with the whole run (task, messages with tool calls and results, an honest \
outcome, and the skill you used); the record_this_run prompt shows the JSON. Skills are served as \
resources skill://<name>/SKILL.md (list_skills, get_skill).

To improve a skill from its recorded runs: search_trajectories and label_trajectory to fix unknown \
outcomes, then evolve_skill(name, dry_run=true) for a cost estimate, then evolve_skill(name, budget_usd=N) \
with the budget the user agreed to (a paid model needs one). A run takes minutes: pass background=true to get \
its run_id at once, then follow it with evolution_status (cancel_evolution stops it). \
Each evolution makes a new version with provenance (skill_history, diff_skill, get_run); \
rollback_skill restores an older one as a new version. Nothing is ever deleted."""


class Trace2SkillServer(MCPServer[AppState]):
    """MCPServer with a resource list computed from the store and per-file MIME types for skill files."""

    def __init__(self, config: ServerConfig, **kwargs: Any) -> None:
        self.config = config
        self.bus = InMemorySubscriptionBus()
        """Where 2026-07-28 `subscriptions/listen` streams get their events."""
        self.evolutions = Evolutions()
        """The evolutions this server runs; they outlive the requests and connections that start them."""
        self.keeper = WorkspaceKeeper(self._open_state)
        """Opens the workspace for the first connection, closes it after the last (and after the last evolution)."""
        self._arguments: dict[str, tuple[str, ...]] | None = None
        """Each tool's argument names, from its advertised input schema; rebuilt when a tool is added or removed."""
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

    async def run_stdio_async(self) -> None:
        """Serve stdio, answering every line that is not a JSON-RPC message (`server.stdio_guard`).

        The client closing stdin ends the server: background evolutions are cancelled and recorded."""
        try:
            with answering_stdio():
                await super().run_stdio_async()
        finally:
            await self.shutdown()

    @property
    def state(self) -> AppState | None:
        """The open workspace's shared state; None while no connection or evolution holds it."""
        return self.keeper.state

    def _open_state(self) -> AppState:
        home = self.config.home or Home.resolve()
        workspace = Workspace.open(home)
        announcer = Announcer(self.bus, self.config.list_changed_interval)
        log.info("trace2skill serving %s", home.root)
        return AppState(
            workspace=workspace, config=self.config, announcer=announcer, evolutions=self.evolutions, keeper=self.keeper
        )

    async def shutdown(self) -> None:
        """Stop: cancel every running evolution, each recorded `interrupted` with its saved work (it resumes),
        then let the workspace close once no connection holds it. Safe to call more than once."""
        await self.evolutions.shutdown()

    def add_tool(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().add_tool(fn, *args, **kwargs)
        self._arguments = None

    def remove_tool(self, name: str) -> None:
        super().remove_tool(name)
        self._arguments = None

    async def list_tools(self) -> list[types.Tool]:
        """Every tool's input schema closed (`additionalProperties: false`): `call_tool` refuses other arguments.

        The SDK builds each tool's argument model from the function's signature and offers no
        setting to forbid extra keys (pydantic ignores them), so the schema is closed here and the
        names are checked in `call_tool`; every other rule stays with the SDK's pydantic model."""
        return [_closed(tool) for tool in await super().list_tools()]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> types.CallToolResult | types.InputRequiredResult:
        """A tool's arguments with unpaired surrogates (valid JSON escapes, not Unicode) made U+FFFD first, and
        refused in one line if any is not in the tool's schema (the tool does not run); any failure answered as
        `isError` with its one line (`server.errors.tool_error_result`)."""
        arguments = without_lone_surrogates(arguments)
        accepted = (await self._argument_names()).get(name)
        if accepted is not None and (unknown := [key for key in arguments if key not in accepted]):
            return refusal(name, "invalid arguments: " + unknown_arguments_line(name, unknown, accepted))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            return tool_error_result(name, e)

    async def _argument_names(self) -> dict[str, tuple[str, ...]]:
        if self._arguments is None:
            tools = await super().list_tools()
            self._arguments = {t.name: tuple(t.input_schema.get("properties") or ()) for t in tools}
        return self._arguments

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[AppState, Any] | None = None
    ) -> types.GetPromptResult | types.InputRequiredResult:
        """A prompt that does not exist, or arguments it does not take, are `-32602` (invalid params) in one line."""
        prompts = {prompt.name: prompt for prompt in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            raise MCPError(types.INVALID_PARAMS, unknown_prompt_line(name, list(prompts)))
        line = prompt_arguments_problem(prompt, arguments or {})
        if line is not None:
            raise MCPError(types.INVALID_PARAMS, line)
        return await super().get_prompt(name, arguments, context)

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


def _closed(tool: types.Tool) -> types.Tool:
    return tool.model_copy(update={"input_schema": {**tool.input_schema, "additionalProperties": False}})


@asynccontextmanager
async def _lifespan(server: MCPServer[AppState]) -> AsyncIterator[AppState]:
    assert isinstance(server, Trace2SkillServer)
    shared = await server.keeper.connect()  # under the keeper's lock: concurrent connections open one workspace
    failure: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(shared.announcer.run)
            try:
                yield dataclasses.replace(shared, session=new_id("s_"))  # same workspace, own session id
            except Exception as e:  # re-raised below as itself, not wrapped in an ExceptionGroup
                failure = e
            finally:
                tg.cancel_scope.cancel()
        if failure is not None:
            raise failure
    finally:
        await server.keeper.disconnect()  # closes the workspace unless a connection or an evolution still holds it


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
