"""What every request handler of one server process shares: the open workspace, the settings, and
the announcer that tells clients what changed."""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.mcpserver import Context

from trace2skill.server.announcer import Announcer
from trace2skill.server.config import ServerConfig
from trace2skill.workspace import Workspace

__all__ = ["AppState", "state_of"]


@dataclass
class AppState:
    workspace: Workspace
    config: ServerConfig
    announcer: Announcer


def state_of(ctx: Context) -> AppState:
    """The lifespan's AppState, from any handler's context."""
    return ctx.request_context.lifespan_context
