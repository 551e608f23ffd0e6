"""Change notifications that keep the promises the server declares, in both protocol eras.

Every client is told `resources: {listChanged: true, subscribe: true}`, so:

- `resources/updated` reaches only the clients that subscribed to that URI: 2026-07-28 clients
  through `subscriptions/listen` (the SDK's bus filters by URI), 2025-era clients through
  `resources/subscribe`, which this module serves (in a middleware) because mcp 2.3's MCPServer does not.
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
from mcp.server.session import ServerSession
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError

from trace2skill.models import describe_validation_error

if TYPE_CHECKING:
    from mcp.server import MCPServer

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
    """The connection behind a request's session: the one private attribute this module reads.

    mcp 2.3 builds a new ServerSession for every inbound message, so the session cannot be the key
    (the SDK's migration guide says so). What is stable per client, and what says when the client
    has gone, is the Connection the sessions share (its `exit_stack` unwinds when the client goes),
    and mcp 2.3 has no public way to reach it from a request: `Context.connection` exists, but the
    runner never builds that Context ("a public way to reach it ... is planned", migration guide).
    No public signal replaces it: a notification to a closed connection is dropped silently
    (fire-and-forget), so a dead session cannot be found by sending to it, and the `mcp-session-id`
    header the guide suggests exists only on HTTP and never says when a session ended.
    """
    return session._connection  # pyright: ignore[reportPrivateUsage]


def _announcer(ctx: ServerRequestContext[Any, Any]) -> Announcer:
    announcer = getattr(ctx.lifespan_context, "announcer", None)
    if not isinstance(announcer, Announcer):
        raise MCPError(types.INTERNAL_ERROR, "resource subscriptions are not available outside the server's lifespan")
    return announcer


_SUBSCRIBE, _UNSUBSCRIBE = "resources/subscribe", "resources/unsubscribe"


def _subscription(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
    """Serve `resources/subscribe` or `resources/unsubscribe`: the wire form of an empty result."""
    params = types.SubscribeRequestParams if ctx.method == _SUBSCRIBE else types.UnsubscribeRequestParams
    try:
        uri = str(params.model_validate(ctx.params or {}, by_name=False).uri)
    except ValidationError as e:
        raise MCPError(types.INVALID_PARAMS, f"{ctx.method}: {describe_validation_error(e)}") from None
    announcer, connection = _announcer(ctx), _connection_of(ctx.session)
    if ctx.method == _SUBSCRIBE:
        announcer.subscribe(connection, uri)
    else:
        announcer.unsubscribe(connection, uri)
    return {}


def _declaring_subscriptions(result: HandlerResult) -> HandlerResult:
    """The `initialize` result, declaring `resources: {subscribe: true, listChanged: true}`.

    The low-level server derives `subscribe` from a registered `resources/subscribe` handler and
    `listChanged` from NotificationOptions that every transport leaves out (SDK TODO L53); this
    middleware answers the one and sends the other, so it says so itself. 2026-07-28 discovery
    derives both from `subscriptions/listen`, which MCPServer serves, and needs nothing.
    """
    if not isinstance(result, dict):
        return result
    capabilities = result.get("capabilities")
    if not isinstance(capabilities, dict) or not isinstance(capabilities.get("resources"), dict):
        return result
    resources = {**capabilities["resources"], "subscribe": True, "listChanged": True}
    return {**result, "capabilities": {**capabilities, "resources": resources}}


async def _subscriptions(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Middleware: 2025-era subscriptions served, and every 2025-era session that sends a request tracked."""
    if ctx.method == "initialize":
        return _declaring_subscriptions(await call_next(ctx))
    if ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return await call_next(ctx)  # 2026-07-28 has no resources/subscribe: the SDK answers -32601
    if ctx.request_id is not None and ctx.method in (_SUBSCRIBE, _UNSUBSCRIBE):
        return _subscription(ctx)
    announcer = getattr(ctx.lifespan_context, "announcer", None)
    if isinstance(announcer, Announcer):
        announcer.track(_connection_of(ctx.session))
    return await call_next(ctx)


def install_subscriptions(server: MCPServer[Any]) -> None:
    """Serve `resources/subscribe` and `resources/unsubscribe`, track 2025-era sessions, and declare both.

    All through the server's public middleware list: MCPServer registers neither subscription
    handler and offers no public way to register one (its low-level server is private; the SDK's
    migration guide suggests reaching into it until "a public way ... is planned"). A middleware
    may answer a request itself (the SDK's middleware guide: "Answer"), and it wraps `initialize`,
    whose result it completes with the capabilities it serves.
    """
    server.middleware.append(_subscriptions)
