"""Change notifications that keep the promises the server declares, in both protocol eras.

Every client is told `resources: {listChanged: true, subscribe: true}`, so:

- `resources/updated` reaches only the clients that subscribed to that URI: 2026-07-28 clients
  through `subscriptions/listen` (the SDK's bus filters by URI), 2025-era clients through
  `resources/subscribe`, which this module serves because mcp 2.3's MCPServer does not.
- `resources/list_changed` reaches every 2025-era session and every listen stream that asked for
  it, at most once per `interval`: changes inside the interval go out as one at its end, so a burst
  of recorded runs costs each client one refresh instead of one per run.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import anyio
import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.session import ServerSession
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.lowlevel.server import Server

__all__ = ["MAX_SUBSCRIPTIONS", "Announcer", "install_subscriptions"]

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 1024
"""Per 2025-era session: a client cannot grow the server's memory without bound."""


class Announcer:
    """Delivers resource change notifications to the clients that asked for them.

    One per open workspace. `run` sends the list change an interval held back; it runs once per
    lifespan entry (every stdio or in-memory connection enters the lifespan), and whichever copy
    wakes first sends it.
    """

    def __init__(self, bus: SubscriptionBus, interval: float) -> None:
        self.bus = bus
        self.interval = interval
        self._sessions: WeakKeyDictionary[Connection, set[str]] = WeakKeyDictionary()
        self._last_sent = -math.inf
        self._pending = False
        self._wake: anyio.Event | None = None

    # --- 2025-era sessions -----------------------------------------------------------------------

    def track(self, connection: Connection) -> None:
        """Send list changes to this session from now on, until it closes."""
        if connection not in self._sessions:
            self._sessions[connection] = set()
            connection.exit_stack.callback(self._sessions.pop, connection, None)

    def subscribe(self, connection: Connection, uri: str) -> None:
        self.track(connection)
        uris = self._sessions[connection]
        if uri not in uris and len(uris) >= MAX_SUBSCRIPTIONS:
            raise MCPError(types.INVALID_PARAMS, f"a session may subscribe to at most {MAX_SUBSCRIPTIONS} resources")
        uris.add(uri)

    def unsubscribe(self, connection: Connection, uri: str) -> None:
        self._sessions.get(connection, set()).discard(uri)

    # --- announcing ------------------------------------------------------------------------------

    async def changed(self, *updated: str) -> None:
        """The resource list changed, and these resources with it."""
        if self._pending or anyio.current_time() - self._last_sent < self.interval:
            self._pending = True
            self._wakeup().set()
        else:
            await self._send_list_changed()
        for uri in updated:
            await self.bus.publish(ResourceUpdated(uri=uri))
            for connection, uris in list(self._sessions.items()):
                if uri in uris:
                    await connection.notify("notifications/resources/updated", {"uri": uri})

    async def _send_list_changed(self) -> None:
        self._last_sent = anyio.current_time()
        await self.bus.publish(ResourcesListChanged())
        for connection in list(self._sessions):
            await connection.notify("notifications/resources/list_changed", None)

    def _wakeup(self) -> anyio.Event:
        if self._wake is None:
            self._wake = anyio.Event()
        return self._wake

    async def run(self) -> None:
        """Send each held-back list change when its interval ends; runs until cancelled."""
        while True:
            await self._wakeup().wait()
            await anyio.sleep_until(self._last_sent + self.interval)
            if self._pending:  # another copy of this loop may have sent it while this one slept
                self._pending = False
                self._wake = None
                try:
                    await self._send_list_changed()
                except Exception as e:  # a vanished client must not stop the notifications of the others
                    log.info("could not announce a resource list change: %s", e)


def _connection_of(session: ServerSession) -> Connection:
    """The connection behind a request's session.

    mcp 2.3 hands request handlers a per-request ServerSession; the Connection it wraps (one per
    client: the standalone channel, the exit stack that runs when the client goes) has no public
    accessor yet, because the SDK's own `Context.connection` is not built by its runner.
    """
    return session._connection  # pyright: ignore[reportPrivateUsage]


def _announcer(ctx: ServerRequestContext[Any, Any]) -> Announcer:
    announcer = getattr(ctx.lifespan_context, "announcer", None)
    if not isinstance(announcer, Announcer):
        raise MCPError(types.INTERNAL_ERROR, "resource subscriptions are not available outside the server's lifespan")
    return announcer


async def _subscribe(ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams) -> types.EmptyResult:
    _announcer(ctx).subscribe(_connection_of(ctx.session), str(params.uri))
    return types.EmptyResult()


async def _unsubscribe(
    ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
) -> types.EmptyResult:
    _announcer(ctx).unsubscribe(_connection_of(ctx.session), str(params.uri))
    return types.EmptyResult()


async def _track_sessions(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: every 2025-era session that sends a request gets list changes from then on."""
    announcer = getattr(ctx.lifespan_context, "announcer", None)
    if isinstance(announcer, Announcer) and ctx.session.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
        announcer.track(_connection_of(ctx.session))
    return await call_next(ctx)


def _declare_list_changed(low: Server[Any]) -> None:
    """Make the handshake declare `resources.listChanged`.

    The low-level server reads it from the NotificationOptions given to
    `create_initialization_options`, which every transport calls without any (SDK TODO L53);
    2026-07-28 discovery derives the flags from `subscriptions/listen` and needs nothing.
    """
    plain = low.create_initialization_options

    def with_list_changed(notification_options: NotificationOptions | None = None, *args: Any, **kwargs: Any) -> Any:
        return plain(notification_options or NotificationOptions(resources_changed=True), *args, **kwargs)

    low.create_initialization_options = with_list_changed  # type: ignore[method-assign]


def install_subscriptions(server: MCPServer[Any]) -> None:
    """Serve `resources/subscribe` and `resources/unsubscribe`, track 2025-era sessions, and declare both.

    MCPServer registers neither handler and exposes no seam for one: its low-level server is
    reachable only as `_lowlevel_server` (the SDK's in-memory transport reaches it the same way).
    A registered subscribe handler is what makes the handshake declare `subscribe: true`.
    """
    low: Server[Any] = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    low.add_request_handler("resources/subscribe", types.SubscribeRequestParams, _subscribe)
    low.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, _unsubscribe)
    _declare_list_changed(low)
    server.middleware.append(_track_sessions)
