"""The HTTP client the providers' SDK clients send through: httpx2, over a lean asyncio network layer.

httpx2's default network layer goes through anyio: every read and write opens a cancel scope, and
every check of an idle pooled connection (`has_expired`, on every request and every release, for
every connection in the pool) builds anyio's socket-attribute table and polls the socket. At 128
calls in flight that was about a third of the client's CPU per LLM call. This backend plugs into
httpcore2's documented `network_backend` hook with an `asyncio.Protocol` per connection instead:

- reads come from what the protocol already received; a timeout is one timer handle, not a scope;
- whether an idle connection was closed by the server is a flag the protocol keeps (no syscall);
- the writes of one request (head, body) are held and sent together when the response is read,
  one send and one wake-up of the server instead of two.

Everything else (HTTP/1.1 via h11, pooling, keep-alive, TLS verification, proxies from the
environment, the SDKs' own error mapping) is httpx2's and httpcore2's unchanged. Outside an asyncio
event loop (trio) the stock backend is used.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2
from httpcore2._backends.auto import AutoBackend  # the stock backend, for event loops other than asyncio

__all__ = ["AsyncioBackend", "http_client"]

_WRITE_COALESCE = 256 * 1024
"""Held writes are sent at once beyond this many bytes (a large upload streams rather than piling up)."""
_READ_HIGH_WATER = 1024 * 1024
"""Received bytes not yet read above which the connection stops reading until they are consumed."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: received data, end-of-stream and write flow control, for one reader."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.paused_writing = False
        self.paused_reading = False

    # ---- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _READ_HIGH_WATER and not self.paused_reading and self.transport is not None:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport: HTTP/1.1 has no use for a half-open connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self.paused_writing = True

    def resume_writing(self) -> None:
        self.paused_writing = False
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- waiting ------------------------------------------------------------------------------------

    async def wait(self, kind: str, timeout: float | None, error: type[Exception]) -> None:
        """Wait for data/end-of-stream (`kind="read"`) or for the write buffer to drain."""
        future = self.loop.create_future()
        if kind == "read":
            self.waiter = future
        else:
            self.drain = future
        timer = self.loop.call_later(timeout, _expire, future, error) if timeout is not None else None
        try:
            await future
        finally:
            if timer is not None:
                timer.cancel()
            if kind == "read" and self.waiter is future:
                self.waiter = None


def _expire(future: asyncio.Future[None], error: type[Exception]) -> None:
    if not future.done():
        future.set_exception(error("timed out"))


class AsyncioStream(httpcore2.AsyncNetworkStream):
    """httpcore2's network stream over one `_Connection`."""

    def __init__(self, connection: _Connection) -> None:
        self._conn = connection
        self._held: list[bytes] = []
        self._held_bytes = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        conn = self._conn
        if self._held:
            await self._send_held(timeout)
        if not conn.chunks and not conn.eof:
            await conn.wait("read", timeout, httpcore2.ReadTimeout)
        if conn.chunks:
            chunk = conn.chunks.popleft()
            if len(chunk) > max_bytes:
                conn.chunks.appendleft(chunk[max_bytes:])
                chunk = chunk[:max_bytes]
            conn.buffered -= len(chunk)
            if conn.paused_reading and conn.buffered <= _READ_HIGH_WATER // 4 and conn.transport is not None:
                conn.paused_reading = False
                conn.transport.resume_reading()
            return chunk
        if conn.error is not None:
            raise httpcore2.ReadError(str(conn.error) or type(conn.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._held.append(buffer)
        self._held_bytes += len(buffer)
        if self._held_bytes >= _WRITE_COALESCE:
            await self._send_held(timeout)

    async def _send_held(self, timeout: float | None) -> None:
        held, self._held, self._held_bytes = self._held, [], 0
        conn = self._conn
        transport = conn.transport
        if transport is None or transport.is_closing():
            raise httpcore2.WriteError(str(conn.error) if conn.error else "the connection is closed")
        transport.write(held[0] if len(held) == 1 else b"".join(held))
        while conn.paused_writing and not transport.is_closing():
            await conn.wait("drain", timeout, httpcore2.WriteTimeout)

    async def aclose(self) -> None:
        self._held, self._held_bytes = [], 0
        transport = self._conn.transport
        if transport is not None:
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        conn = self._conn
        if self._held:
            await self._send_held(timeout)
        try:
            async with asyncio.timeout(timeout):
                tls = await conn.loop.start_tls(
                    conn.transport,  # type: ignore[arg-type]
                    conn,
                    ssl_context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout,
                )
        except TimeoutError as e:
            await self.aclose()
            raise httpcore2.ConnectTimeout("TLS handshake timed out") from e
        except (OSError, ssl.SSLError, RuntimeError) as e:
            await self.aclose()
            raise httpcore2.ConnectError(str(e)) from e
        if tls is None:
            raise httpcore2.ConnectError("the connection closed during the TLS handshake")
        conn.transport = tls  # type: ignore[assignment]
        return AsyncioStream(conn)

    def get_extra_info(self, info: str) -> Any:
        conn = self._conn
        transport = conn.transport
        if info == "is_readable":
            # An idle HTTP/1.1 connection with something to read was closed (or broken) by the server.
            return bool(conn.chunks) or conn.eof or transport is None or transport.is_closing()
        if transport is None:
            return None
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's network backend on plain asyncio transports; the stock one off asyncio."""

    def __init__(self) -> None:
        self._fallback: AutoBackend | None = None

    def _other(self) -> AutoBackend:
        if self._fallback is None:
            self._fallback = AutoBackend()
        return self._fallback

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = _asyncio_loop()
        if loop is None:
            return await self._other().connect_tcp(host, port, timeout, local_address, socket_options)
        local = (local_address, 0) if local_address else None
        stream = await _connect(
            loop.create_connection(lambda: _Connection(loop), host, port, local_addr=local), timeout
        )
        _apply_options(stream, socket_options)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = _asyncio_loop()
        if loop is None:
            return await self._other().connect_unix_socket(path, timeout, socket_options)
        stream = await _connect(loop.create_unix_connection(lambda: _Connection(loop), path), timeout)
        _apply_options(stream, socket_options)
        return stream

    async def sleep(self, seconds: float) -> None:
        if _asyncio_loop() is None:
            await self._other().sleep(seconds)
        else:
            await asyncio.sleep(seconds)


def _asyncio_loop() -> asyncio.AbstractEventLoop | None:
    try:
        import sniffio

        if sniffio.current_async_library() != "asyncio":
            return None
    except Exception:
        pass
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _connect(opening: Any, timeout: float | None) -> AsyncioStream:
    try:
        async with asyncio.timeout(timeout):
            _, conn = await opening
    except TimeoutError as e:
        raise httpcore2.ConnectTimeout("connection timed out") from e
    except OSError as e:
        raise httpcore2.ConnectError(str(e)) from e
    return AsyncioStream(conn)


def _apply_options(stream: AsyncioStream, options: Iterable[Any] | None) -> None:
    if not options:
        return
    sock: socket.socket | None = stream.get_extra_info("socket")
    if sock is not None:
        for option in options:
            sock.setsockopt(*option)


class _Transport(httpx2.AsyncHTTPTransport):
    """httpx2's transport with its connection pool built on `AsyncioBackend`."""

    def __init__(self, *, verify: ssl.SSLContext, limits: httpx2.Limits) -> None:
        super().__init__(verify=verify, limits=limits)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )


def http_client(*, max_connections: int, timeout: float, verify: ssl.SSLContext) -> httpx2.AsyncClient:
    """The pooled HTTP client for one SDK client: keep-alive connections up to `max_connections`."""
    limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx2.AsyncClient(
        transport=_Transport(verify=verify, limits=limits),
        limits=limits,
        timeout=httpx2.Timeout(timeout, connect=10.0),
        verify=verify,
    )
