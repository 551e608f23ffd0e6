"""The demo's offline model endpoint: a loopback server speaking the Anthropic Messages protocol.

With no model configured, `trace2skill demo` points the real `anthropic` SDK client (through the
real pipeline and provider) at this server, and a handler (the demo's simulated analyst fleet)
writes each answer. Only what the demo uses is here: `POST /v1/messages`, non-streamed, answered by
a handler, with token counts (about four characters a token) so the report can show usage.

The types (`ServerRequest` in, `Reply` out) are protocol-neutral: the tests' fuller server
(`tests/doubles/llmserver`: both protocols, streaming, faults, prompt caching) builds on them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["MessagesServer", "Reply", "ServerRequest", "count_tokens"]


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters a token."""
    return (len(text) + 3) // 4


@dataclass
class Reply:
    """An answer. `data` is a structured answer (forced tool input, or JSON text for a schema request)."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # each {"name", "arguments", optional "id"}
    data: dict[str, Any] | None = None
    stop_reason: str | None = None
    output_tokens: int | None = None


@dataclass
class ServerRequest:
    """One request as the server understood it, in protocol-neutral terms."""

    protocol: Literal["anthropic", "openai"]
    path: str
    body: dict[str, Any]
    model: str
    system: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]  # each {"name", "description", "input_schema"}
    tool_choice: str | None  # None/'auto', 'required', 'none', or the forced tool's name
    schema: dict[str, Any] | None  # the JSON schema the answer must satisfy, if any
    forced_tool: str | None  # set when the structured answer travels as a forced tool call
    json_mode: bool
    stream: bool
    headers: dict[str, str]
    arrived_at: float
    index: int

    @property
    def texts(self) -> list[str]:
        """Every text in the conversation, in order (system first)."""
        out = [self.system] if self.system else []
        for m in self.messages:
            out.extend(_texts(m.get("content")))
        return out

    @property
    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.get("role") == "user":
                texts = _texts(m.get("content"))
                if texts:
                    return texts[-1]
        return ""


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            out.append(block["text"])
        elif block.get("type") == "tool_result":
            out.extend(_texts(block.get("content")))
    return out


def to_reply(item: Any, req: ServerRequest) -> Reply:
    """What a handler returned (str, dict or Reply) as a Reply."""
    if isinstance(item, Reply):
        return item
    if isinstance(item, dict):
        return Reply(data=item)
    if isinstance(item, str):
        if req.forced_tool is not None:
            try:
                parsed = json.loads(item)
            except ValueError:
                return Reply(text=item)
            if isinstance(parsed, dict):
                return Reply(data=parsed)
        return Reply(text=item)
    raise TypeError(f"handler returned {type(item).__name__}; expected str, dict or Reply")


# ---- the Messages wire format -------------------------------------------------------------------


def parse(body: dict[str, Any]) -> dict[str, Any]:
    """The protocol-neutral fields of a Messages request."""
    system = body.get("system") or ""
    if isinstance(system, list):
        system = "".join(b.get("text", "") for b in system if isinstance(b, dict))
    tools = [
        {"name": t.get("name"), "description": t.get("description", ""), "input_schema": t.get("input_schema")}
        for t in body.get("tools") or []
    ]
    choice = body.get("tool_choice") or {}
    kind = choice.get("type")
    modes: dict[str | None, str | None] = {
        "any": "required",
        "tool": choice.get("name"),
        "none": "none",
        "auto": "auto",
    }
    tool_choice = modes.get(kind)
    schema = None
    forced = None
    if kind == "tool":
        forced = choice.get("name")
        schema = next((t["input_schema"] for t in tools if t["name"] == forced), None)
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
    return {
        "model": body.get("model", ""),
        "system": system,
        "messages": body.get("messages") or [],
        "tools": tools,
        "tool_choice": tool_choice,
        "schema": schema,
        "forced_tool": forced,
        "json_mode": False,
        "stream": bool(body.get("stream")),
    }


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k != "cache_control"}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def prompt_segments(body: dict[str, Any]) -> tuple[list[str], int]:
    """The prompt in cache order (tools, system, messages) and the index of the last `cache_control` breakpoint."""
    segments: list[str] = []
    last = -1

    def add(block: Any) -> None:
        nonlocal last
        segments.append(json.dumps(_strip(block), sort_keys=True))
        if isinstance(block, dict) and block.get("cache_control"):
            last = len(segments) - 1

    for tool in body.get("tools") or []:
        add(tool)
    system = body.get("system")
    if isinstance(system, list):
        for block in system:
            add(block)
    elif system:
        add(system)
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            for block in content:
                add(block)
        else:
            add({"role": message.get("role"), "text": content})
    return segments, last


def content_blocks(reply: Reply, forced_tool: str | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.data is not None:
        if forced_tool is not None:
            blocks.append({"type": "tool_use", "id": _tool_id(), "name": forced_tool, "input": reply.data})
        else:
            blocks.append({"type": "text", "text": json.dumps(reply.data)})
    elif reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id") or _tool_id(),
                "name": call["name"],
                "input": call.get("arguments") or {},
            }
        )
    if not blocks:
        blocks.append({"type": "text", "text": ""})
    return blocks


def _tool_id() -> str:
    return "toolu_" + uuid.uuid4().hex[:20]


def output_tokens(blocks: list[dict[str, Any]]) -> int:
    return max(1, count_tokens("".join(b.get("text") or json.dumps(b.get("input")) for b in blocks)))


def stop_reason(reply: Reply, blocks: list[dict[str, Any]]) -> str:
    if reply.stop_reason:
        return reply.stop_reason
    return "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"


def message(model: str, blocks: list[dict[str, Any]], stop: str | None, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "msg_" + uuid.uuid4().hex[:20],
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def error(status: int, text: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": text}, "request_id": "req_" + uuid.uuid4().hex[:16]}


# ---- the server ---------------------------------------------------------------------------------

HandlerResult = str | dict[str, Any] | Reply
MessagesHandler = Callable[[ServerRequest], HandlerResult | Awaitable[HandlerResult]]


class MessagesServer:
    """`POST /v1/messages` on loopback, answered by `handler`; run in a thread with `with MessagesServer(h) as s`.

    Anthropic clients use `s.url` as their base URL. Subclasses add routes (`routes`) and state.
    """

    def __init__(
        self,
        handler: Callable[[ServerRequest], Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: str | None = None,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.certfile = certfile
        self._thread: threading.Thread | None = None
        self._uvicorn: _Uvicorn | None = None
        self._sock: socket.socket | None = None
        self._served = 0
        self._count_lock = threading.Lock()
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        return [Route("/v1/messages", self._messages, methods=["POST"])]

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._sock is None:
            raise RuntimeError("server not started")
        host, port = self._sock.getsockname()[:2]
        return f"{'https' if self.certfile else 'http'}://{host}:{port}"

    def bind(self) -> socket.socket:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(2048)
        self._sock = sock
        return sock

    def _make_uvicorn(self) -> _Uvicorn:
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            backlog=2048,
            ssl_certfile=self.certfile,
            ssl_keyfile=self.certfile,
        )
        self._uvicorn = _Uvicorn(config)
        return self._uvicorn

    def start(self) -> MessagesServer:
        """Serve from a background thread; returns once the server accepts connections."""
        sock = self.bind()
        server = self._make_uvicorn()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="llm-server")
        self._thread.start()
        while not server.ready.wait(0.05):
            if not self._thread.is_alive():
                raise RuntimeError("the local model server failed to start")
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (process mode) until interrupted."""
        sock = self._sock or self.bind()
        self._make_uvicorn().run(sockets=[sock])

    def stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> MessagesServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- answering ----------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return JSONResponse(error(400, "request body is not JSON"), status_code=400)
        with self._count_lock:
            index = self._served
            self._served += 1
        req = ServerRequest(
            protocol="anthropic",
            path=request.url.path,
            body=body,
            headers=dict(request.headers),
            arrived_at=time.monotonic(),
            index=index,
            **parse(body),
        )
        if req.stream:
            return JSONResponse(error(400, "this local server does not stream; call without stream"), status_code=400)
        item = self.handler(req) if self.handler is not None else "ok"
        if asyncio.iscoroutine(item) or isinstance(item, Awaitable):
            item = await item
        reply = to_reply(item, req)
        blocks = content_blocks(reply, req.forced_tool)
        usage = {
            "input_tokens": max(1, count_tokens("".join(prompt_segments(body)[0]))),
            "output_tokens": reply.output_tokens or output_tokens(blocks),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        answer = message(req.model, blocks, stop_reason(reply, blocks), usage)
        return JSONResponse(answer, headers={"request-id": "req_local"})


class _Uvicorn(uvicorn.Server):
    """uvicorn that says when it is listening, so starting waits on an event rather than a sleep."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()
