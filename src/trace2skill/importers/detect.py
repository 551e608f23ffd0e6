"""Which importer reads a file: decided from its first records, with a clear word when none does.

JSONL files are judged on their first lines; JSON arrays on their first element (read by streaming,
so a large file is not loaded for this); other JSON documents are parsed whole. Formats we know but
do not import (Langfuse and LangSmith exports, SWE-agent `.traj`, OpenHands event streams, Claude
Code OpenTelemetry log events) are named in the error, so the user knows what the file is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.importers.atif import is_atif
from trace2skill.importers.common import SHAPE_ERRORS, load_json_line, read_lines
from trace2skill.importers.jsonstream import JsonStreamError, iter_json, peek
from trace2skill.importers.native import looks_native
from trace2skill.importers.otel import looks_like_attributes

__all__ = ["FORMATS", "UnsupportedFormat", "detect_format", "detect_value"]

FORMATS = ("claude-code", "openai-chat", "openai-responses", "anthropic-messages", "otel", "atif", "trace2skill")

_RESPONSES_ITEMS = {
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "reasoning",
    "web_search_call",
    "mcp_call",
    "local_shell_call",
    "local_shell_call_output",
}
_CLAUDE_CODE_TYPES = {"user", "assistant", "summary", "queue-operation", "file-history-snapshot", "progress", "system"}
_ANTHROPIC_BLOCKS = {"tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use"}
_SCAN_LINES = 20


class UnsupportedFormat(InvalidInput):
    """A file no importer reads; the message says what it looks like when we can tell."""


def detect_format(path: Path) -> str:
    """The format name for `path`, or UnsupportedFormat with a one-line reason."""
    if not path.is_file():
        raise InvalidInput(f"{path}: not a file")
    head = peek(path, 4096).lstrip("\ufeff \t\r\n")
    if not head:
        raise UnsupportedFormat(f"{path}: empty file")
    if not head.startswith(("{", "[")):
        raise UnsupportedFormat(f"{path}: unsupported format (not JSON or JSONL)")
    records = _jsonl_head(path)
    if records is not None:
        for record in records:
            found = detect_value(record, line=True)
            if found:
                return _checked(path, found)
        raise UnsupportedFormat(f"{path}: unsupported format (JSONL records of an unknown shape); {_supported()}")
    try:
        first = next(iter_json(path), None)
    except JsonStreamError as e:
        raise UnsupportedFormat(f"{path}: invalid JSON ({e})") from None
    if first is None:
        raise UnsupportedFormat(f"{path}: empty JSON array")
    index, value = first
    found = detect_value(value, line=index is not None, element=index is not None)
    if not found:
        raise UnsupportedFormat(f"{path}: unsupported format (JSON of an unknown shape); {_supported()}")
    return _checked(path, found)


def _supported() -> str:
    return "supported formats: " + ", ".join(FORMATS)


def _checked(path: Path, found: str) -> str:
    if found.startswith("unsupported:"):
        raise UnsupportedFormat(f"{path}: unsupported format ({found.removeprefix('unsupported:')}); {_supported()}")
    return found


def _jsonl_head(path: Path) -> list[dict[str, Any]] | None:
    """The first records if the file is JSONL (several lines, each a whole JSON value), else None."""
    records: list[dict[str, Any]] = []
    lines = 0
    bad = 0
    jsonl = path.suffix.lower() == ".jsonl"  # a corrupt first line does not make it a JSON document
    for _, line in read_lines(path):
        lines += 1
        try:
            value = load_json_line(line)
        except json.JSONDecodeError:
            bad += 1
            if (lines == 1 and not jsonl) or bad > max(lines // 2, 1):
                return None  # a pretty-printed JSON document, not JSONL
            continue
        if isinstance(value, dict):
            records.append(value)
        if lines >= _SCAN_LINES:
            break
    if lines <= 1 and path.suffix.lower() != ".jsonl":
        return None
    return records


def detect_value(value: Any, *, line: bool = False, element: bool = False) -> str | None:
    """The format of one decoded record/document, `unsupported:<what>` for known others, else None.

    A record whose fields have unexpected types (a list where a type name was) is of no known format."""
    try:
        return _detect_value(value, line=line, element=element)
    except SHAPE_ERRORS:
        return None


def _detect_value(value: Any, *, line: bool = False, element: bool = False) -> str | None:
    if isinstance(value, list):
        return detect_value(value[0], element=True) if value else None
    if not isinstance(value, dict):
        return None
    if looks_native(value):
        return "trace2skill"
    kind = value.get("type")
    if "payload" in value and kind in ("session_meta", "response_item", "event_msg", "turn_context", "compacted"):
        return "openai-responses"
    if kind in _CLAUDE_CODE_TYPES and (
        "uuid" in value or "parentUuid" in value or "sessionId" in value or "leafUuid" in value
    ):
        return "claude-code"
    if kind == "system" and value.get("subtype") == "init" and "session_id" in value:
        return "claude-code"  # claude -p --output-format stream-json
    if kind in ("assistant", "user") and isinstance(value.get("message"), dict) and "session_id" in value:
        return "claude-code"
    if value.get("_type") == "log" and "scope" in value:
        return "unsupported:OpenTelemetry log events (e.g. Claude Code telemetry), not spans"
    if "resourceSpans" in value or (isinstance(value.get("spans"), list)) or looks_like_attributes(value):
        return "otel"
    if "context" in value and "attributes" in value and "name" in value:
        return "otel"
    if is_atif(value):
        return "atif"
    if "trace" in value and "observations" in value:
        return "unsupported:Langfuse trace export"
    if "post" in value and ("patch" in value or isinstance(value.get("post"), list)):
        return "unsupported:LangSmith run payloads"
    if "trajectory" in value and "history" in value:
        return "unsupported:SWE-agent .traj"
    if element and "action" in value and "source" in value and ("observation" in value or "args" in value):
        return "unsupported:OpenHands event stream"
    if element and "observation" in value and "source" in value:
        return "unsupported:OpenHands event stream"
    if "body" in value and ("status" in value or "headers" in value):
        body = value["body"]
        text = body if isinstance(body, str) else json.dumps(body)
        if "message_start" in text or ('"type":"message"' in text.replace(" ", "") and '"role"' in text):
            return "anthropic-messages"
        return "unsupported:HTTP cassette whose body is not an Anthropic Messages response"
    if kind in _RESPONSES_ITEMS or (kind == "message" and _responses_content(value.get("content"))):
        return "openai-responses"
    if value.get("object") == "response" or (
        isinstance(value.get("input"), list | str)
        and ("output" in value or "instructions" in value or "model" in value)
        and "messages" not in value
    ):
        return "openai-responses"
    if isinstance(value.get("request"), dict) or isinstance(value.get("response"), dict):
        request = value.get("request") or {}
        response = value.get("response") or {}
        if "choices" in response:
            return "openai-chat"
        if "output" in response or "input" in request:
            return "openai-responses"
        if response.get("type") == "message" or _anthropic_messages(request):
            return "anthropic-messages"
        return "openai-chat"
    if kind == "message" and value.get("role") == "assistant" and isinstance(value.get("content"), list):
        return "anthropic-messages"
    if "traj" in value or "choices" in value:
        return "openai-chat"
    if isinstance(value.get("messages"), list):
        return "anthropic-messages" if _anthropic_messages(value) else "openai-chat"
    if "role" in value and ("content" in value or "tool_calls" in value):
        return "openai-chat"
    return None


def _responses_content(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("input_text", "output_text", "input_image") for p in content
    )


def _anthropic_messages(request: dict[str, Any]) -> bool:
    """Anthropic and Chat request bodies look alike; decide on blocks, roles and the system field."""
    messages = request["messages"] if isinstance(request.get("messages"), list) else []
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        if msg.get("role") in ("tool", "system", "developer", "function") or msg.get("tool_calls"):
            return False
        content = msg.get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") in _ANTHROPIC_BLOCKS for b in content
        ):
            return True
    return "system" in request
