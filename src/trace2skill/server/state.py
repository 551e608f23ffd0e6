"""What every request handler of one server process shares: the open workspace, the settings, the
announcer that tells clients what changed, and the evolutions the server runs.

The workspace is opened by the first user and closed after the last (`WorkspaceKeeper`): a user is
a connection (stdio and in-memory connections each enter the lifespan, streamable HTTP enters it
once for the whole process) or an evolution still running, so the last client to disconnect does
not close the database under a background run. Opening and closing happen under one lock, so two
connections starting together open one workspace, and a close never overlaps an open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context

from trace2skill.server.announcer import Announcer
from trace2skill.server.config import ServerConfig
from trace2skill.workspace import Workspace

if TYPE_CHECKING:
    from trace2skill.server.background import Evolutions

__all__ = ["AppState", "WorkspaceKeeper", "state_of"]


@dataclass
class AppState:
    workspace: Workspace
    config: ServerConfig
    announcer: Announcer
    evolutions: Evolutions
    """The server's evolutions (`server.background`): they outlive the requests and connections that start them."""
    keeper: WorkspaceKeeper
    recording: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))
    """One run parsed, redacted and stored at a time (`record_trajectory`): that work holds the GIL and then the
    connection lock, so a second thread adds only switching (16 calls in flight: 3.8 ms of server CPU a call
    on 16 threads, 3.0 ms on one)."""
    session: str | None = None
    """This connection's own id (stdio and in-memory connections each get one in the lifespan), for usage records."""


def state_of(ctx: Context[AppState, Any]) -> AppState:
    """The lifespan's AppState, from any handler's context."""
    return ctx.request_context.lifespan_context


class WorkspaceKeeper:
    """Opens the workspace for its first user and closes it after its last: connections and running evolutions.

    `open_state` builds the AppState (opening the database); it runs on a worker thread, as does the close.
    """

    def __init__(self, open_state: Callable[[], AppState]) -> None:
        self._open_state = open_state
        self._lock = anyio.Lock()
        self.state: AppState | None = None
        self.connections = 0
        self.evolutions = 0

    async def connect(self) -> AppState:
        """A connection starts: the open workspace, opened now if nobody holds it."""
        async with self._lock:
            if self.state is None:
                self.state = await anyio.to_thread.run_sync(self._open_state)
            self.connections += 1
            return self.state

    async def disconnect(self) -> None:
        """A connection ended: the workspace closes if nobody else holds it (even while the caller is cancelled)."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                self.connections -= 1
                await self._close_if_unused()

    def hold(self) -> AppState:
        """An evolution starts (inside a request, so the workspace is open): keep it open until `release`."""
        if self.state is None:
            raise RuntimeError("the workspace is not open: an evolution starts only inside a request")
        self.evolutions += 1
        return self.state

    async def release(self) -> None:
        """An evolution ended: the workspace closes if no connection and no other evolution holds it."""
        with anyio.CancelScope(shield=True):
            async with self._lock:
                self.evolutions -= 1
                await self._close_if_unused()

    async def _close_if_unused(self) -> None:
        if self.connections == 0 and self.evolutions == 0 and self.state is not None:
            state, self.state = self.state, None
            await anyio.to_thread.run_sync(state.workspace.close)
