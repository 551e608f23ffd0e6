"""What a test or benchmark tells the fake server to answer: replies, faults, and the parsed request.

The server turns one of these into the wire format of whichever protocol the request came in on, so
a handler written once answers the real `anthropic` and `openai` clients alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from trace2skill.demo.llmserver import Reply, ServerRequest, count_tokens, to_reply

__all__ = ["Fault", "Reply", "ServerRequest", "count_tokens"]


@dataclass
class Fault:
    """A failure to serve instead of an answer."""

    kind: Literal["status", "hang", "malformed", "bad_body"]
    status: int = 500
    message: str = "injected fault"
    retry_after: float | None = None
    retry_after_ms: float | None = None
    seconds: float = 30.0

    @classmethod
    def error(cls, status: int = 500, message: str = "injected server error") -> Fault:
        return cls("status", status=status, message=message)

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.3, *, retry_after_ms: float | None = None) -> Fault:
        """429 with `Retry-After` (seconds) and/or `retry-after-ms`."""
        return cls("status", status=429, message="rate limited", retry_after=retry_after, retry_after_ms=retry_after_ms)

    @classmethod
    def overloaded(cls) -> Fault:
        return cls("status", status=529, message="overloaded")

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        """Send nothing until the client gives up (or `seconds` pass, or the server stops)."""
        return cls("hang", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        """A 200 answer whose text is broken JSON (and, for a forced tool, no tool call at all)."""
        return cls("malformed")

    @classmethod
    def bad_body(cls) -> Fault:
        """A 200 whose HTTP body is not JSON at all."""
        return cls("bad_body")


MALFORMED_TEXT = '{"answer": "this JSON never ends'


def normalize(item: Any, req: ServerRequest) -> Reply | Fault:
    """Turn what a handler returned (str, dict, Reply, Fault) into a Reply or a Fault."""
    if isinstance(item, Fault):
        return item
    return to_reply(item, req)
