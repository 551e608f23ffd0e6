"""The Anthropic Messages wire format (`POST /v1/messages`): the demo's, plus streaming, errors, malformed answers."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.doubles.llmserver._script import MALFORMED_TEXT, Reply

from trace2skill.demo import llmserver as messages_format
from trace2skill.demo.llmserver import message, output_tokens, parse, prompt_segments, stop_reason

__all__ = ["content_blocks", "error", "message", "output_tokens", "parse", "prompt_segments", "sse", "stop_reason"]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def content_blocks(reply: Reply, forced_tool: str | None, malformed: bool) -> list[dict[str, Any]]:
    if malformed:
        return [{"type": "text", "text": MALFORMED_TEXT}]
    return messages_format.content_blocks(reply, forced_tool)


def sse(model: str, blocks: list[dict[str, Any]], stop: str, usage: dict[str, int]) -> list[str]:
    """The event stream of one message: start, each block with its deltas, delta with usage, stop."""

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    start_usage = {**usage, "output_tokens": 1}
    head = message(model, [], None, start_usage)
    out = [event("message_start", {"type": "message_start", "message": head})]
    for i, block in enumerate(blocks):
        if block["type"] == "text":
            out.append(
                event(
                    "content_block_start",
                    {"type": "content_block_start", "index": i, "content_block": {**block, "text": ""}},
                )
            )
            for piece in _chunks(block["text"]):
                delta = {"type": "text_delta", "text": piece}
                out.append(event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            out.append(
                event("content_block_start", {"type": "content_block_start", "index": i, "content_block": start})
            )
            for piece in _chunks(json.dumps(block["input"])):
                delta = {"type": "input_json_delta", "partial_json": piece}
                out.append(event("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        out.append(event("content_block_stop", {"type": "content_block_stop", "index": i}))
    delta_usage = {"output_tokens": usage["output_tokens"]}
    out.append(
        event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": delta_usage},
        )
    )
    out.append(event("message_stop", {"type": "message_stop"}))
    return out


def _chunks(text: str, size: int = 24) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def error(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_" + uuid.uuid4().hex[:16]}
