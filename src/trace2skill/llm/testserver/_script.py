"""What a test or benchmark tells the fake server to answer: replies, faults, and the parsed request.

The server turns one of these into the wire format of whichever protocol the request came in on, so
a handler written once answers the real `anthropic` and `openai` clients alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Fault", "Reply", "ServerRequest", "count_tokens"]


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


def normalize(item: Any, req: ServerRequest) -> Reply | Fault:
    """Turn what a handler returned (str, dict, Reply, Fault) into a Reply or a Fault."""
    if isinstance(item, Reply | Fault):
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
    raise TypeError(f"handler returned {type(item).__name__}; expected str, dict, Reply or Fault")
