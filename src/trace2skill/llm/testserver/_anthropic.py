"""The Anthropic Messages wire format (`POST /v1/messages`), as the fake server speaks it."""

from __future__ import annotations

import json
import uuid
from typing import Any

from trace2skill.llm.testserver._script import MALFORMED_TEXT, Reply, count_tokens

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


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
    tool_choice = {"any": "required", "tool": choice.get("name"), "none": "none", "auto": "auto"}.get(kind)
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


def content_blocks(reply: Reply, forced_tool: str | None, malformed: bool) -> list[dict[str, Any]]:
    if malformed:
        return [{"type": "text", "text": MALFORMED_TEXT}]
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


def message(model: str, blocks: list[dict[str, Any]], stop: str, usage: dict[str, int]) -> dict[str, Any]:
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


def sse(model: str, blocks: list[dict[str, Any]], stop: str, usage: dict[str, int]) -> list[str]:
    """The event stream of one message: start, each block with its deltas, delta with usage, stop."""

    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n"

    start_usage = {**usage, "output_tokens": 1}
    head = message(model, [], None, start_usage)  # type: ignore[arg-type]
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
