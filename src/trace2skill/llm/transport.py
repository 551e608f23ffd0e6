"""The HTTP client the providers' SDK clients send through: httpx2 with a lean HTTP/1.1 transport.

The SDK clients (`anthropic`, `openai`) and httpx2's client stay as they are: request building,
auth, redirects, timeouts, decompression, error mapping. Only the last step, putting the request on
a keep-alive connection and reading the answer, is done here instead of by httpcore2, whose layers
(anyio cancel scopes on every read and write, a scan of the whole pool with a socket poll per idle
connection on every request and release, h11's event machinery, four nested async generators per
response body) cost more CPU per call than everything else in an LLM call together once a hundred
calls are in flight (see benchmarks/llm_layer.py and benchmarks/evolve.py).

What it speaks: HTTP/1.1 over TCP or TLS (verified with the client's SSL context), one request at a
time per connection, bodies framed by Content-Length, chunked transfer coding or the connection's
end; 1xx interim answers skipped. Idle connections are reused newest first, dropped once the
server has closed them or after `keepalive_expiry`; at most `max_connections` are open, further
requests wait for one (bounded by the pool timeout). A response that is not read to its end closes
its connection. Proxies from the environment are httpx2's own transports (the client mounts them),
and off asyncio (trio) the stock httpx2 transport is used. `TRACE2SKILL_HTTP_TRANSPORT=httpx` puts
the stock transport under every client, should an endpoint need something this one does not speak.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httpx2

__all__ = ["TRANSPORT_ENV", "LeanTransport", "http_client"]

TRANSPORT_ENV = "TRACE2SKILL_HTTP_TRANSPORT"
"""`httpx` selects httpx2's stock transport (httpcore2) instead of `LeanTransport`."""

MAX_HEAD = 100 * 1024
"""Largest response head (status line and headers) accepted."""
READ_HIGH_WATER = 1024 * 1024
"""Received bytes not yet consumed above which the connection stops reading until they are."""
WRITE_CHUNK = 256 * 1024
"""A streamed request body is sent in pieces of about this size (waiting while the socket is full)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: received bytes, the server's end of stream, write flow control."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: tuple[bytes, bytes, int | None]) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.write_paused = False
        self.read_paused = False
        self.idle_since = 0.0

    # ---- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close: HTTP/1.1 has no use for a half-closed connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- for the transport -------------------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Idle, open, and nothing unexpected received (bytes on an idle connection mean it was closed)."""
        return not self.eof and not self.buffer and self.transport is not None and not self.transport.is_closing()

    def consumed(self) -> None:
        """Call after taking bytes from `buffer`: reading resumes once most of it is consumed."""
        if self.read_paused and len(self.buffer) <= READ_HIGH_WATER // 4 and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()

    async def more(self, timeout: float | None, request: httpx2.Request) -> None:
        """Wait until more bytes (or the end of stream) arrive."""
        if self.eof:
            raise httpx2.RemoteProtocolError(_ended(self), request=request)
        future = self.loop.create_future()
        self.waiter = future
        await _wait(self.loop, future, timeout, httpx2.ReadTimeout, request)

    async def write(self, data: bytes, timeout: float | None, request: httpx2.Request) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.eof:
            raise httpx2.WriteError(_ended(self), request=request)
        transport.write(data)
        while self.write_paused and not transport.is_closing():
            future = self.loop.create_future()
            self.drained = future
            await _wait(self.loop, future, timeout, httpx2.WriteTimeout, request)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _ended(connection: _Connection) -> str:
    if connection.error is not None:
        return f"the connection broke: {connection.error}"
    return "the server closed the connection"


async def _wait(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[None],
    timeout: float | None,
    error: type[httpx2.TimeoutException],
    request: httpx2.Request,
) -> None:
    """Await `future`; past `timeout` raise `error`. One timer handle, no task or cancel scope."""
    if timeout is None:
        await future
        return
    timer = loop.call_later(timeout, _expire, future)
    try:
        await future
    except TimeoutError:
        raise error(f"timed out after {timeout:g}s", request=request) from None
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class _Body(httpx2.AsyncByteStream):
    """A response body read off its connection; the connection goes back to the pool once read whole."""

    def __init__(
        self,
        pool: LeanTransport,
        connection: _Connection,
        request: httpx2.Request,
        *,
        length: int | None,
        chunked: bool,
        keep_alive: bool,
        timeout: float | None,
    ) -> None:
        self.pool = pool
        self.connection: _Connection | None = connection
        self.request = request
        self.length = length
        self.chunked = chunked
        self.keep_alive = keep_alive and (length is not None or chunked)
        self.timeout = timeout
        self.complete = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self.connection
        if connection is None:
            raise httpx2.StreamClosed()
        if self.length is not None:
            parts = self._sized(connection, self.length)
        elif self.chunked:
            parts = self._chunked(connection)
        else:
            parts = self._until_closed(connection)
        async for part in parts:
            yield part
        self.complete = True
        await self.aclose()

    async def _sized(self, connection: _Connection, length: int) -> AsyncIterator[bytes]:
        left = length
        while left > 0:
            if not connection.buffer:
                await self._more(connection, f"the answer ended {left} bytes short of its Content-Length")
                continue
            part = _take(connection, min(left, len(connection.buffer)))
            left -= len(part)
            yield part

    async def _chunked(self, connection: _Connection) -> AsyncIterator[bytes]:
        while True:
            line = await self._line(connection)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httpx2.RemoteProtocolError(f"bad chunk size line {line[:40]!r}", request=self.request) from None
            if size == 0:
                while await self._line(connection):  # trailers, up to the empty line
                    pass
                return
            while size > 0:
                if not connection.buffer:
                    await self._more(connection, "the answer ended inside a chunk")
                    continue
                part = _take(connection, min(size, len(connection.buffer)))
                size -= len(part)
                yield part
            if await self._line(connection):
                raise httpx2.RemoteProtocolError("a chunk did not end with CRLF", request=self.request)

    async def _until_closed(self, connection: _Connection) -> AsyncIterator[bytes]:
        while True:
            if connection.buffer:
                yield _take(connection, len(connection.buffer))
            elif connection.eof:
                if connection.error is not None:
                    raise httpx2.ReadError(_ended(connection), request=self.request)
                return
            else:
                future = connection.loop.create_future()
                connection.waiter = future
                await _wait(connection.loop, future, self.timeout, httpx2.ReadTimeout, self.request)

    async def _line(self, connection: _Connection) -> bytes:
        while (end := connection.buffer.find(b"\r\n")) < 0:
            if len(connection.buffer) > MAX_HEAD:
                raise httpx2.RemoteProtocolError("a chunk header line is too long", request=self.request)
            await self._more(connection, "the answer ended inside its chunked framing")
        line = bytes(connection.buffer[:end])
        del connection.buffer[: end + 2]
        connection.consumed()
        return line

    async def _more(self, connection: _Connection, short: str) -> None:
        if connection.eof:
            raise httpx2.RemoteProtocolError(short, request=self.request)
        await connection.more(self.timeout, self.request)

    async def aclose(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            self.pool._finished(connection, reuse=self.complete and self.keep_alive)


def _take(connection: _Connection, n: int) -> bytes:
    buffer = connection.buffer
    if n == len(buffer):
        part = bytes(buffer)
        buffer.clear()
    else:
        part = bytes(buffer[:n])
        del buffer[:n]
    connection.consumed()
    return part


class LeanTransport(httpx2.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections on asyncio protocols, as an httpx2 transport (see the module doc)."""

    def __init__(self, *, verify: ssl.SSLContext, max_connections: int = 100, keepalive_expiry: float = 5.0) -> None:
        self.ssl_context = verify
        self.max_connections = max(1, max_connections)
        self.keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[bytes, bytes, int | None], list[_Connection]] = {}
        self._open = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._stock: httpx2.AsyncHTTPTransport | None = None
        self._closed = False

    # ---- pool ----------------------------------------------------------------------------------------

    def _idle_connection(self, origin: tuple[bytes, bytes, int | None]) -> _Connection | None:
        stack = self._idle.get(origin)
        now = time.monotonic()
        while stack:
            connection = stack.pop()
            if connection.reusable and now - connection.idle_since <= self.keepalive_expiry:
                return connection
            self._discard(connection)
        return None

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _finished(self, connection: _Connection, *, reuse: bool) -> None:
        if reuse and connection.reusable and not self._closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, []).append(connection)
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    break
        else:
            self._discard(connection)

    async def _acquire(
        self, origin: tuple[bytes, bytes, int | None], request: httpx2.Request, timeouts: dict[str, Any]
    ) -> _Connection:
        deadline = None if timeouts.get("pool") is None else time.monotonic() + timeouts["pool"]
        while True:
            connection = self._idle_connection(origin)
            if connection is not None:
                return connection
            if self._open < self.max_connections:
                self._open += 1
                try:
                    return await self._connect(origin, request, timeouts.get("connect"))
                except BaseException:
                    self._open -= 1
                    raise
            if not self._close_idle_elsewhere():
                loop = asyncio.get_running_loop()
                future = loop.create_future()
                self._waiting.append(future)
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    await _wait(loop, future, left, httpx2.PoolTimeout, request)
                finally:
                    if future in self._waiting:
                        self._waiting.remove(future)

    def _close_idle_elsewhere(self) -> bool:
        """Make room for a new connection by closing an idle one to another origin."""
        for stack in self._idle.values():
            if stack:
                connection = stack.pop(0)
                connection.close()
                self._open -= 1
                return True
        return False

    async def _connect(
        self, origin: tuple[bytes, bytes, int | None], request: httpx2.Request, timeout: float | None
    ) -> _Connection:
        loop = asyncio.get_running_loop()
        url = request.url
        tls = url.scheme == "https"
        port = url.port or (443 if tls else 80)
        server_name = (request.extensions.get("sni_hostname") or url.host) if tls else None
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, origin),
                    url.host,
                    port,
                    ssl=self.ssl_context if tls else None,
                    server_hostname=server_name,
                )
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"connecting to {url.host}:{port} timed out", request=request) from None
        except (OSError, ssl.SSLError) as e:
            raise httpx2.ConnectError(str(e) or type(e).__name__, request=request) from e
        return connection

    # ---- requests ------------------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https") or not _on_asyncio():
            return await self._stock_transport().handle_async_request(request)
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        origin = (url.raw_scheme, url.raw_host, url.port)
        connection = await self._acquire(origin, request, timeouts)
        try:
            return await self._exchange(connection, request, timeouts)
        except BaseException:
            self._finished(connection, reuse=False)
            raise

    async def _exchange(
        self, connection: _Connection, request: httpx2.Request, timeouts: dict[str, Any]
    ) -> httpx2.Response:
        write_timeout = timeouts.get("write")
        head = [f"{request.method} ".encode() + url_target(request.url) + b" HTTP/1.1"]
        head += [name + b": " + value for name, value in request.headers.raw]
        head_bytes = b"\r\n".join(head) + b"\r\n\r\n"
        if head_bytes.count(b"\n") != len(head) + 1 or head_bytes.count(b"\r") != len(head) + 1:
            raise httpx2.LocalProtocolError("a header name or value contains a line break", request=request)
        try:
            body: bytes | None = request.content
        except httpx2.RequestNotRead:
            body = None
        if body is not None:
            await connection.write(head_bytes + body, write_timeout, request)  # one send for head and body
        else:
            await self._stream_body(connection, request, head_bytes, write_timeout)
        read_timeout = timeouts.get("read")
        while True:
            status, reason, version, headers = await self._read_head(connection, request, read_timeout)
            if not (100 <= status < 200) or status == 101:
                break
        method = request.method
        length: int | None = None
        chunked = False
        keep_alive = version == b"HTTP/1.1"
        for name, value in headers:
            key = name.lower()
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise httpx2.RemoteProtocolError(f"bad Content-Length {value!r}", request=request) from None
            elif key == b"transfer-encoding":
                chunked = value.lower().rstrip().endswith(b"chunked")
            elif key == b"connection":
                tokens = value.lower()
                keep_alive = b"close" not in tokens and (keep_alive or b"keep-alive" in tokens)
        if chunked:
            length = None
        if method == "HEAD" or status in (101, 204, 304):
            length, chunked = 0, False
        if request.headers.get("connection", "").lower() == "close":
            keep_alive = False
        return httpx2.Response(
            status,
            headers=headers,
            stream=_Body(
                self,
                connection,
                request,
                length=length,
                chunked=chunked,
                keep_alive=keep_alive,
                timeout=read_timeout,
            ),
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def _stream_body(
        self, connection: _Connection, request: httpx2.Request, head: bytes, timeout: float | None
    ) -> None:
        chunked = "content-length" not in request.headers
        pending = [head]
        size = len(head)
        async for part in request.stream:  # type: ignore[union-attr]
            if not part:
                continue
            pending.append(b"%x\r\n%b\r\n" % (len(part), part) if chunked else part)
            size += len(part)
            if size >= WRITE_CHUNK:
                await connection.write(b"".join(pending), timeout, request)
                pending, size = [], 0
        if chunked:
            pending.append(b"0\r\n\r\n")
        await connection.write(b"".join(pending), timeout, request)

    async def _read_head(
        self, connection: _Connection, request: httpx2.Request, timeout: float | None
    ) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
        buffer = connection.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            if len(buffer) > MAX_HEAD:
                raise httpx2.RemoteProtocolError("the answer's head is too large", request=request)
            if connection.eof:
                if connection.error is not None:
                    raise httpx2.ReadError(_ended(connection), request=request)
                raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)
            await connection.more(timeout, request)
        lines = bytes(buffer[:end]).split(b"\r\n")
        del buffer[: end + 4]
        connection.consumed()
        parts = lines[0].split(b" ", 2)
        try:
            version, status = parts[0], int(parts[1])
        except (IndexError, ValueError):
            raise httpx2.RemoteProtocolError(f"bad status line {lines[0][:80]!r}", request=request) from None
        if not version.startswith(b"HTTP/1."):
            raise httpx2.RemoteProtocolError(f"not an HTTP/1.x answer: {lines[0][:80]!r}", request=request)
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise httpx2.RemoteProtocolError(f"bad header line {line[:80]!r}", request=request)
            headers.append((name, value.strip()))
        return status, parts[2] if len(parts) > 2 else b"", version, headers

    # ---- lifecycle -----------------------------------------------------------------------------------

    def _stock_transport(self) -> httpx2.AsyncHTTPTransport:
        if self._stock is None:
            limits = httpx2.Limits(max_connections=self.max_connections, keepalive_expiry=self.keepalive_expiry)
            self._stock = httpx2.AsyncHTTPTransport(verify=self.ssl_context, limits=limits)
        return self._stock

    async def aclose(self) -> None:
        self._closed = True
        for stack in self._idle.values():
            for connection in stack:
                connection.close()
                self._open -= 1
        self._idle.clear()
        if self._stock is not None:
            await self._stock.aclose()


def url_target(url: httpx2.URL) -> bytes:
    """The request target: path and query (`/v1/messages?x=1`)."""
    return url.raw_path or b"/"


def _on_asyncio() -> bool:
    try:
        import sniffio

        return sniffio.current_async_library() == "asyncio"
    except Exception:
        return True


def http_client(*, max_connections: int, timeout: float, verify: ssl.SSLContext) -> httpx2.AsyncClient:
    """The pooled HTTP client for one SDK client: keep-alive connections up to `max_connections`."""
    timeouts = httpx2.Timeout(timeout, connect=10.0)
    if os.environ.get(TRANSPORT_ENV, "").strip().lower() == "httpx":
        limits = httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        return httpx2.AsyncClient(limits=limits, timeout=timeouts, verify=verify)
    return httpx2.AsyncClient(
        transport=LeanTransport(verify=verify, max_connections=max_connections), timeout=timeouts, verify=verify
    )
