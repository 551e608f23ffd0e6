"""The fake LLM server: a Starlette app speaking both wire protocols, runnable in a thread or a process.

State (queued replies, recorded requests, in-flight counters, the prompt-cache memory) lives on the
`FakeLLMServer` object and is shared by the server's event loop and the test's thread; a lock guards
what both touch.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tests.doubles.llmserver import _anthropic, _openai
from tests.doubles.llmserver._script import Fault, Reply, ServerRequest, count_tokens, normalize

from trace2skill.demo.llmserver import MessagesServer

__all__ = ["FakeLLMServer", "Handler", "ServerURL", "serve"]

HandlerResult = str | dict[str, Any] | Reply | Fault
Handler = Callable[[ServerRequest], HandlerResult | Awaitable[HandlerResult]]


class ServerURL(str):
    """The server's base URL (a plain string for the SDKs) that also carries the server: `url.server.requests`."""

    server: FakeLLMServer


class FakeLLMServer(MessagesServer):
    """A scripted server for the Anthropic Messages and OpenAI Chat Completions protocols.

    Answers come from the queue (`script(...)`) first, then from `handler(req)`, else "ok".
    Anthropic clients use `url` as base URL; OpenAI clients use `url + "/v1"`. With `certfile` (a PEM
    holding the key and the certificate chain) it speaks HTTPS, as real endpoints do.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        replies: Iterable[HandlerResult] = (),
        latency: float = 0.0,
        json_schema_supported: bool = True,
        min_cache_tokens: int = 0,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: str | None = None,
    ) -> None:
        self.latency = latency
        self.json_schema_supported = json_schema_supported
        self.min_cache_tokens = min_cache_tokens
        self.record = record
        self.requests: list[ServerRequest] = []
        self._queue: deque[HandlerResult] = deque(replies)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._seen_prefixes: set[str] = set()
        self.reset()
        super().__init__(handler, host=host, port=port, certfile=certfile)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/messages", self._anthropic, methods=["POST"]),
            Route("/v1/chat/completions", self._openai, methods=["POST"]),
            Route("/_stats", self._stats, methods=["GET"]),
            Route("/_reset", self._reset, methods=["POST"]),
        ]

    # ---- scripting and inspection -------------------------------------------------------------

    def script(self, *items: HandlerResult) -> None:
        """Queue answers (or faults) for the next requests, before the handler is asked."""
        with self._lock:
            self._queue.extend(items)

    @property
    def count(self) -> int:
        """Requests received since the last reset (recorded or not)."""
        return self._count

    def reset(self) -> None:
        """Forget recorded requests, counters and the prompt-cache memory; keep the handler and queue."""
        with self._lock:
            self.requests = []
            self._count = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.busy_s = 0.0
            self.first_start: float | None = None
            self.last_end: float | None = None
            self.last_start: float | None = None
            self.first_at_max: float | None = None
            self._spans: list[tuple[float, float]] = []
            self._seen_prefixes = set()

    def stats(self) -> dict[str, Any]:
        """Counts and concurrency.

        `mean_in_flight` is Σ request durations / (last end - first start): the whole run, ramp-up
        and drain included. `steady_mean_in_flight` is the same over the steady window, from the
        moment the peak was first reached to the last arrival (after which the run only drains).
        """
        with self._lock:
            span = (self.last_end - self.first_start) if self.first_start and self.last_end else 0.0
            steady = 0.0
            if self.first_at_max is not None and self.last_start is not None and self.last_start > self.first_at_max:
                lo, hi = self.first_at_max, self.last_start
                covered = sum(max(0.0, min(end, hi) - max(start, lo)) for start, end in self._spans)
                steady = covered / (hi - lo)
            return {
                "requests": self._count,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "busy_s": self.busy_s,
                "span_s": span,
                "mean_in_flight": self.busy_s / span if span > 0 else 0.0,
                "steady_mean_in_flight": steady,
                "server_cpu_s": time.process_time(),
            }

    # ---- lifecycle (the demo's server, plus releasing hung requests) ------------------------------

    def start(self) -> FakeLLMServer:
        """Serve from a background thread; returns once the server accepts connections."""
        self._closing.clear()
        super().start()
        return self

    def stop(self) -> None:
        self._closing.set()
        super().stop()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    # ---- request handling ---------------------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        return await self._serve("anthropic", request)

    async def _openai(self, request: Request) -> Response:
        return await self._serve("openai", request)

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def _reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"ok": True})

    async def _serve(self, protocol: Literal["anthropic", "openai"], request: Request) -> Response:
        start = time.monotonic()
        with self._lock:
            self._count += 1
            index = self._count - 1
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight
                self.first_at_max = start
            if self.first_start is None:
                self.first_start = start
            self.last_start = start
        try:
            return await self._answer(protocol, request, start, index)
        finally:
            end = time.monotonic()
            with self._lock:
                self.in_flight -= 1
                self.busy_s += end - start
                self.last_end = end
                self._spans.append((start, end))

    async def _answer(
        self, protocol: Literal["anthropic", "openai"], request: Request, start: float, index: int
    ) -> Response:
        wire: Any = _anthropic if protocol == "anthropic" else _openai
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(wire.error(400, "request body is not JSON"), status_code=400)
        req = ServerRequest(
            protocol=protocol,
            path=request.url.path,
            body=body,
            headers=dict(request.headers),
            arrived_at=start,
            index=index,
            **wire.parse(body),
        )
        if self.record:
            with self._lock:
                self.requests.append(req)
        if protocol == "openai" and not self.json_schema_supported and req.schema is not None and not req.forced_tool:
            message = "response_format type 'json_schema' is not supported by this server; use 'json_object'"
            return JSONResponse(wire.error(400, message), status_code=400)
        outcome = await self._next(req)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if isinstance(outcome, Fault):
            if outcome.kind == "status":
                return self._error(wire, outcome)
            if outcome.kind == "hang":
                await self._hang(request, outcome.seconds)
                return JSONResponse(wire.error(504, "hung request released"), status_code=504)
            if outcome.kind == "bad_body":
                return Response("<html>502 Bad Gateway</html>", status_code=200, media_type="application/json")
        malformed = isinstance(outcome, Fault) and outcome.kind == "malformed"
        reply = outcome if isinstance(outcome, Reply) else Reply()
        if protocol == "anthropic":
            return self._anthropic_reply(req, reply, malformed)
        return self._openai_reply(req, reply, malformed)

    async def _next(self, req: ServerRequest) -> Reply | Fault:
        with self._lock:
            item = self._queue.popleft() if self._queue else None
        if item is None:
            produced = self.handler(req) if self.handler is not None else "ok"
            item = await produced if inspect.isawaitable(produced) else produced
        return normalize(item, req)

    async def _hang(self, request: Request, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._closing.is_set():
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.02)

    def _error(self, wire: Any, fault: Fault) -> Response:
        headers = {}
        if fault.retry_after is not None:
            headers["retry-after"] = f"{fault.retry_after:g}"
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{fault.retry_after_ms:g}"
        return JSONResponse(wire.error(fault.status, fault.message), status_code=fault.status, headers=headers)

    def _cache_lookup(self, prefix: str) -> bool:
        """True when this exact prefix was seen before (a cache read); remembers it otherwise (a write)."""
        key = hashlib.sha256(prefix.encode()).hexdigest()
        with self._lock:
            if key in self._seen_prefixes:
                return True
            self._seen_prefixes.add(key)
            return False

    def _anthropic_reply(self, req: ServerRequest, reply: Reply, malformed: bool) -> Response:
        segments, last = _anthropic.prompt_segments(req.body)
        total = max(1, count_tokens("".join(segments)))
        cache_read = cache_write = 0
        if last >= 0:
            prefix = "".join(segments[: last + 1])
            tokens = count_tokens(prefix)
            if tokens >= self.min_cache_tokens:
                if self._cache_lookup(prefix):
                    cache_read = tokens
                else:
                    cache_write = tokens
        blocks = _anthropic.content_blocks(reply, req.forced_tool, malformed)
        out_tokens = reply.output_tokens or _anthropic.output_tokens(blocks)
        usage = {
            "input_tokens": max(0, total - cache_read - cache_write),
            "output_tokens": out_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
        }
        stop = _anthropic.stop_reason(reply, blocks)
        headers = {"request-id": "req_fake"}
        if req.stream:
            events = _anthropic.sse(req.model, blocks, stop, usage)
            return Response("".join(events), media_type="text/event-stream", headers=headers)
        return JSONResponse(_anthropic.message(req.model, blocks, stop, usage), headers=headers)

    def _openai_reply(self, req: ServerRequest, reply: Reply, malformed: bool) -> Response:
        prefix, rest = _openai.prompt_parts(req.body)
        total = max(1, count_tokens(prefix + rest))
        cached = 0
        if prefix and count_tokens(prefix) >= self.min_cache_tokens and self._cache_lookup(prefix):
            cached = count_tokens(prefix)
        text, calls = _openai.answer(reply, req.forced_tool, malformed)
        out_tokens = reply.output_tokens or _openai.output_tokens(text, calls)
        usage = {
            "prompt_tokens": total,
            "completion_tokens": out_tokens,
            "total_tokens": total + out_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        finish = _openai.finish_reason(reply, calls)
        if req.stream:
            include = bool((req.body.get("stream_options") or {}).get("include_usage"))
            events = _openai.sse(req.model, text, calls, finish, usage, include)
            return Response("".join(events), media_type="text/event-stream")
        return JSONResponse(_openai.completion(req.model, text, calls, finish, usage))


@contextlib.contextmanager
def serve(handler: Handler | None = None, **options: Any) -> Iterator[ServerURL]:
    """Run a `FakeLLMServer` in a thread; yields its base URL (a str) with the server at `.server`."""
    with FakeLLMServer(handler, **options) as server:
        url = ServerURL(server.url)
        url.server = server
        yield url
