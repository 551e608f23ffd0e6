"""Anthropic Messages API logs to trajectories.

Accepted shapes (a JSON document, a JSON array of them, or JSONL with one per line; each is one
trajectory, because every request already carries the whole conversation so far):
- a request body `{model, system?, messages: [...]}`;
- a response body `{type: "message", role: "assistant", content: [...]}`;
- an exchange `{request: {...}, response: {...}}`: the request's messages, then the response;
- a recorded HTTP cassette `{status, headers, body}` whose body is the response as an object, a JSON
  string, or the raw server-sent-event stream, which is reassembled (`text_delta`,
  `thinking_delta`, `signature_delta`, `input_json_delta` into complete blocks).

Blocks: `text`; `thinking` and `redacted_thinking` to reasoning (redacted ones are counted, not kept);
`tool_use` / `server_tool_use` / `mcp_tool_use` to tool calls; `tool_result` (inside a user message,
with `is_error`) and the provider-side `*_tool_result` blocks to tool results paired by id; images
and documents to a short note. `stop_reason` and `usage` come from the response. A log that holds
only a response has no user request: its task says so (see `pipeline`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trace2skill.importers.common import (
    Draft,
    ImportOptions,
    RecordError,
    call_part,
    guarded,
    load_json_line,
    message,
    read_lines,
    reasoning_part,
    result_part,
    text_part,
)
from trace2skill.importers.jsonstream import JsonStreamError, iter_json

__all__ = ["FORMAT", "assemble_sse", "convert_content", "read"]

FORMAT = "anthropic-messages"


def read(path: Path, options: ImportOptions | None = None) -> Iterator[Draft | RecordError]:
    if path.suffix.lower() == ".jsonl":
        for number, line in read_lines(path):
            source = f"{path}:{number}"
            try:
                value = load_json_line(line)
            except json.JSONDecodeError as e:
                yield RecordError(source, f"invalid JSON: {e.msg} (column {e.colno})")
                continue
            yield from guarded(source, _record, value, source, path)
        return
    try:
        for index, value in iter_json(path):
            where = str(path) if index is None else f"{path}#{index}"
            yield from guarded(where, _record, value, where, path)
    except JsonStreamError as e:
        yield RecordError(str(path), f"invalid JSON: {e}")


def _record(value: Any, source: str, path: Path) -> Draft | RecordError:
    try:
        request, response, extra = _split(value)
    except ValueError as e:
        return RecordError(source, str(e))
    notes = {"redacted_thinking": 0, "images": 0}
    messages: list[dict[str, Any]] = []
    metadata: dict[str, Any] = {"source_format": FORMAT, "file": str(path), **extra}
    if request:
        system = request.get("system")
        if isinstance(system, str) and system.strip():
            messages.append(message("system", [text_part(system)]))
        elif isinstance(system, list):
            texts = [b.get("text", "") for b in system if isinstance(b, dict) and b.get("text")]
            if texts:
                messages.append(message("system", [text_part(t) for t in texts]))
        for index, item in enumerate(request.get("messages") or []):
            if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
                return RecordError(source, f"request message {index} needs role 'user' or 'assistant'")
            messages.extend(_message(item["role"], item.get("content"), notes))
        if isinstance(request.get("model"), str):
            metadata["model"] = request["model"]
    if response:
        if response.get("type") == "error":
            return RecordError(source, f"the recorded response is an API error: {response.get('error')}")
        messages.extend(_message("assistant", response.get("content"), notes))
        for key in ("model", "id", "stop_reason"):
            if isinstance(response.get(key), str):
                metadata["response_id" if key == "id" else key] = response[key]
        if isinstance(response.get("usage"), dict):
            metadata["usage"] = {k: v for k, v in response["usage"].items() if isinstance(v, int | float)}
    if notes["redacted_thinking"]:
        metadata["redacted_thinking_blocks"] = notes["redacted_thinking"]
    if notes["images"]:
        metadata["images_omitted"] = notes["images"]
    final = None
    if response:
        texts = [p["text"] for p in messages[-1]["content"] if p["type"] == "text"] if messages else []
        final = "\n".join(texts) or None
    return Draft(source=source, format=FORMAT, messages=messages, final_answer=final, metadata=metadata)


def _split(value: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any]]:
    """(request, response, extra metadata) from any accepted shape; ValueError when it is none of them."""
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    extra: dict[str, Any] = {}
    if "body" in value and ("status" in value or "headers" in value):  # HTTP cassette
        extra["http_status"] = value.get("status")
        body = value["body"]
        if isinstance(body, str):
            text = body.lstrip()
            if text.startswith(("event:", "data:")):
                body = assemble_sse(body)
                extra["streamed"] = True
            else:
                try:
                    body = json.loads(body)
                except json.JSONDecodeError as e:
                    raise ValueError(f"cassette body is neither JSON nor an event stream: {e.msg}") from None
        value = body if isinstance(body, dict) else {}
    if isinstance(value.get("request"), dict) or isinstance(value.get("response"), dict):
        request = value["request"] if isinstance(value.get("request"), dict) else None
        response = value["response"] if isinstance(value.get("response"), dict) else None
        if response is not None and "body" in response and "content" not in response:
            _, response, more = _split(response)
            extra.update(more)
        return request, response, extra
    if value.get("type") in ("message", "error") or (value.get("role") == "assistant" and "content" in value):
        return None, value, extra
    if isinstance(value.get("messages"), list):
        return value, None, extra
    raise ValueError("not an Anthropic Messages request, response, exchange or cassette")


def assemble_sse(stream: str) -> dict[str, Any]:
    """Rebuild the final message from a raw Messages event stream."""
    result: dict[str, Any] = {"type": "message", "role": "assistant", "content": []}
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    for line in stream.splitlines():
        line = line.strip()
        if not line.startswith("data:"):
            continue
        try:
            event = json.loads(line[5:].strip())
        except json.JSONDecodeError:
            continue
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            result.update({k: v for k, v in event["message"].items() if k != "content"})
        elif kind == "content_block_start":
            blocks[event.get("index", len(blocks))] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            index = event.get("index", 0)
            block = blocks.setdefault(index, {"type": "text", "text": ""})
            delta = event.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif dtype == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
            elif dtype == "signature_delta":
                block["signature"] = block.get("signature", "") + delta.get("signature", "")
            elif dtype == "input_json_delta":
                partial_json[index] = partial_json.get(index, "") + delta.get("partial_json", "")
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            result.update({k: v for k, v in delta.items() if v is not None})
            if isinstance(event.get("usage"), dict):
                result["usage"] = {**(result.get("usage") or {}), **event["usage"]}
        elif kind == "error":
            return {"type": "error", "error": event.get("error")}
    for index, raw in partial_json.items():
        if raw.strip():
            try:
                blocks[index]["input"] = json.loads(raw)
            except json.JSONDecodeError:
                blocks[index]["input"] = raw  # keep what the model sent, unparsed
    result["content"] = [blocks[i] for i in sorted(blocks)]
    return result


def _message(role: str, content: Any, notes: dict[str, int]) -> list[dict[str, Any]]:
    """One API message to one or two trajectory messages (tool results split out of a user message)."""
    parts, results = convert_content(content, notes)
    out = []
    if results:
        out.append(message("tool", results))
    if parts or not results:
        out.append(message(role, parts))
    return out


def convert_content(content: Any, notes: dict[str, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(parts, tool results carried by a user message) for a Messages `content` value."""
    if isinstance(content, str):
        return ([text_part(content)] if content else []), []
    parts: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str) and block["text"]:
            parts.append(text_part(block["text"]))
        elif kind == "thinking" and str(block.get("thinking", "")).strip():
            parts.append(reasoning_part(block["thinking"]))
        elif kind == "redacted_thinking":
            notes["redacted_thinking"] += 1
        elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
            parts.append(call_part(block.get("id"), block.get("name"), block.get("input")))
        elif kind == "tool_result":
            results.append(
                result_part(block.get("tool_use_id"), _output(block.get("content"), notes), bool(block.get("is_error")))
            )
        elif isinstance(kind, str) and kind.endswith("_tool_result"):
            inner = block.get("content")
            error = bool(block.get("is_error")) or (isinstance(inner, dict) and "error" in str(inner.get("type")))
            parts.append(result_part(block.get("tool_use_id"), _output(inner, notes), error))
        elif kind in ("image", "document"):
            notes["images"] += 1
            parts.append(text_part(f"[{kind} omitted by trace2skill import]"))
    return parts, results


def _output(content: Any, notes: dict[str, int]) -> Any:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        pieces = []
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                pieces.append(str(block.get("text", "")))
            elif isinstance(block, dict) and block.get("type") in ("image", "document"):
                notes["images"] += 1
                pieces.append(f"[{block['type']} omitted by trace2skill import]")
            else:
                pieces.append(json.dumps(block, ensure_ascii=False, default=str))
        return "\n".join(pieces)
    return content
