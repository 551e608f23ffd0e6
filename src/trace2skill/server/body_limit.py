"""The HTTP request body limit, refused with a JSON-RPC error that names it.

The SDK has a limit of its own (4 MiB unless told otherwise) and answers a larger body with a
plain-text 413, which clients can only report as "Server returned an error response" (-32603).
This middleware runs in front of it with the server's real limit and answers with a JSON-RPC error
body, which MCP clients surface as is: the user reads the size, the limit and why it is that.
"""

from __future__ import annotations

from collections import deque

from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trace2skill.models import LIMITS

__all__ = ["ENVELOPE_BYTES", "MAX_BODY_BYTES", "BodyLimit", "too_large"]

ENVELOPE_BYTES = 1024 * 1024
"""Room for the JSON-RPC request around the largest argument (the trajectory)."""

MAX_BODY_BYTES = LIMITS.trajectory_bytes + ENVELOPE_BYTES
"""A trajectory at its limit (8 MiB as compact UTF-8 JSON, sent as an object) always fits."""


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


def too_large(size: int | None, limit: int = MAX_BODY_BYTES) -> str:
    """The one-line reason a body was refused."""
    what = f"{size:,} bytes" if size is not None else f"over {limit:,} bytes"
    return (
        f"request body is {what}; this server accepts at most {limit:,} bytes ({_mib(limit)}: "
        f"a trajectory of up to {_mib(LIMITS.trajectory_bytes)} as JSON plus {_mib(limit - LIMITS.trajectory_bytes)} "
        "for the rest of the request)"
    )


def _refusal(size: int | None, limit: int) -> Response:
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=too_large(size, limit)))
    return Response(body.model_dump_json(by_alias=True, exclude_unset=True), 413, media_type="application/json")


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes gets a 413 with a JSON-RPC error naming the limit.

    A declared Content-Length is checked before anything is read; a body without one (chunked) is
    read up to the limit, then handed on unchanged.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.limit:
                await _refusal(int(declared), self.limit)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        received: deque[Message] = deque()
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await _refusal(None, self.limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return received.popleft() if received else await receive()

        await self.app(scope, replay, send)
