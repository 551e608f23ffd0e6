"""The OpenAI Chat Completions wire format (`POST /v1/chat/completions`), as the fake server speaks it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.doubles.llmserver._script import MALFORMED_TEXT, Reply, count_tokens

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def parse(body: dict[str, Any]) -> dict[str, Any]:
    """The protocol-neutral fields of a Chat Completions request."""
    messages = body.get("messages") or []
    system = "".join(
        m["content"]
        if isinstance(m.get("content"), str)
        else "".join(p.get("text", "") for p in m.get("content") or [])
        for m in messages
        if m.get("role") in ("system", "developer")
    )
    tools = [
        {
            "name": t["function"]["name"],
            "description": t["function"].get("description", ""),
            "input_schema": t["function"].get("parameters"),
        }
        for t in body.get("tools") or []
        if t.get("type") == "function"
    ]
    choice = body.get("tool_choice")
    forced = None
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name")
        tool_choice: str | None = forced
    else:
        tool_choice = choice
    schema = None
    json_mode = False
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
    elif fmt.get("type") == "json_object":
        json_mode = True
    if forced is not None:
        schema = next((t["input_schema"] for t in tools if t["name"] == forced), None)
    return {
        "model": body.get("model", ""),
        "system": system,
        "messages": [m for m in messages if m.get("role") not in ("system", "developer")],
        "tools": tools,
        "tool_choice": tool_choice,
        "schema": schema,
        "forced_tool": forced,
        "json_mode": json_mode,
        "stream": bool(body.get("stream")),
    }


def prompt_parts(body: dict[str, Any]) -> tuple[str, str]:
    """(stable prefix: the leading system messages, everything else), for automatic prefix caching."""
    messages = body.get("messages") or []
    n = 0
    while n < len(messages) and messages[n].get("role") in ("system", "developer"):
        n += 1
    prefix = json.dumps(messages[:n], sort_keys=True) if n else ""
    rest = json.dumps([messages[n:], body.get("tools") or []], sort_keys=True)
    return prefix, rest


def answer(reply: Reply, forced_tool: str | None, malformed: bool) -> tuple[str | None, list[dict[str, Any]]]:
    """(content text, tool calls) of the assistant message."""
    if malformed:
        return MALFORMED_TEXT, []
    text: str | None = reply.text or None
    calls: list[dict[str, Any]] = []
    if reply.data is not None:
        if forced_tool is not None:
            calls.append(_call(forced_tool, reply.data, None))
        else:
            text = json.dumps(reply.data)
    for call in reply.tool_calls:
        calls.append(_call(call["name"], call.get("arguments") or {}, call.get("id")))
    if text is None and not calls:
        text = ""
    return text, calls


def _call(name: str, arguments: Any, call_id: str | None) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {
        "id": call_id or "call_" + uuid.uuid4().hex[:20],
        "type": "function",
        "function": {"name": name, "arguments": args},
    }


def output_tokens(text: str | None, calls: list[dict[str, Any]]) -> int:
    return max(1, count_tokens((text or "") + "".join(c["function"]["arguments"] for c in calls)))


def finish_reason(reply: Reply, calls: list[dict[str, Any]]) -> str:
    if reply.stop_reason:
        return reply.stop_reason
    return "tool_calls" if calls else "stop"


def completion(
    model: str, text: str | None, calls: list[dict[str, Any]], finish: str, usage: dict[str, Any]
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:20],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


def sse(
    model: str, text: str | None, calls: list[dict[str, Any]], finish: str, usage: dict[str, Any], include_usage: bool
) -> list[str]:
    """`chat.completion.chunk` events: role, content pieces, tool call pieces, finish, optional usage, [DONE]."""
    cid = "chatcmpl-" + uuid.uuid4().hex[:20]
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        return f"data: {json.dumps(data)}\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    content = text or ""
    for i in range(0, len(content), 24):
        out.append(chunk({"content": content[i : i + 24]}))
    for index, call in enumerate(calls):
        fn = call["function"]
        head = {"index": index, "id": call["id"], "type": "function", "function": {"name": fn["name"], "arguments": ""}}
        out.append(chunk({"tool_calls": [head]}))
        args = fn["arguments"]
        for i in range(0, len(args), 24):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": args[i : i + 24]}}]}))
    out.append(chunk({}, finish))
    if include_usage:
        data = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        out.append(f"data: {json.dumps(data)}\n\n")
    out.append("data: [DONE]\n\n")
    return out


def error(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}
