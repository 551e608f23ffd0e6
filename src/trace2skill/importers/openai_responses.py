"""OpenAI Responses API items, and Codex CLI rollouts built from them, to trajectories.

Accepted shapes:
- a Codex rollout (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`): lines `{timestamp, type, payload}`
  with `session_meta`, `turn_context`, `response_item` (a Responses item) and `event_msg`; one
  trajectory per file;
- a list (JSON array or JSONL) of Responses items, or a request/response body with `input` and/or
  `output` item lists: one trajectory.

Items: `message` (roles developer/system to system; `input_text`/`output_text` parts), `reasoning`
(the summary texts and any plain `content`; encrypted-only reasoning is counted, not kept),
`function_call`/`custom_tool_call`/`mcp_call`/`local_shell_call`/... paired with their `*_output`
on `call_id`, never on `id`. Unparseable arguments stay a raw string; custom tool input is its raw
text. Provider-side calls without an output item (`web_search_call`) stay unpaired.

Codex specifics: the user's request appears both as a `response_item` user message and as an
`event_msg` `user_message` (sometimes only the latter), so the two are de-duplicated. User
messages that are injected context (`# AGENTS.md instructions`, `<environment_context>`,
`<user_instructions>`) become system messages. A tool result is an error when its shell exit code
is non-zero (`Process exited with code N`, or `metadata.exit_code` in custom tool output). Skills
show up as commands that read `.../<name>/SKILL.md`; they are listed in `metadata.skills_loaded`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trace2skill.importers.common import (
    SHAPE_ERRORS,
    Draft,
    ImportOptions,
    RecordError,
    call_part,
    guarded,
    load_json_line,
    message,
    parse_timestamp,
    read_lines,
    reasoning_part,
    result_part,
    shape_error,
    skill_name,
    stable_id,
    text_part,
)
from trace2skill.importers.jsonstream import JsonStreamError, iter_json

__all__ = ["FORMAT", "ItemConverter", "read"]

FORMAT = "openai-responses"
_EXIT_RE = re.compile(r"(?:Process exited with code|Exit code:?)\s+(-?\d+)")
_SKILL_READ_RE = re.compile(r"/skills/([A-Za-z0-9_.:-]+)/SKILL\.md")
_CONTEXT_PREFIXES = ("# AGENTS.md instructions", "<environment_context>", "<user_instructions>", "<INSTRUCTIONS>")
_CALL_TYPES = {
    "function_call",
    "custom_tool_call",
    "mcp_call",
    "local_shell_call",
    "shell_call",
    "apply_patch_call",
    "computer_call",
    "web_search_call",
    "file_search_call",
    "code_interpreter_call",
    "image_generation_call",
    "tool_search_call",
}


class ItemConverter:
    """Accumulates Responses items into messages; one instance per trajectory."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.encrypted_reasoning = 0
        self.skills: list[str] = []
        self.last_user_text: str | None = None
        self.user_open = False  # no assistant/tool content since the last user message
        self.call_names: dict[str, str] = {}

    def user_text(self, text: str, stamp: str | None) -> None:
        """A user turn, skipped when it repeats the user message just added (Codex logs it twice)."""
        if self.user_open and self.last_user_text is not None and text.strip() == self.last_user_text.strip():
            return
        self._append("user", [text_part(text)], stamp)
        self.last_user_text = text
        self.user_open = True

    def item(self, item: dict[str, Any], stamp: str | None = None) -> None:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            self._message(item, stamp)
        elif kind == "reasoning":
            texts = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
            texts += [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
            texts = [t for t in texts if isinstance(t, str) and t.strip()]
            if texts:
                self._assistant([reasoning_part("\n\n".join(texts))], stamp)
            elif item.get("encrypted_content"):
                self.encrypted_reasoning += 1
        elif kind in _CALL_TYPES:
            self._call(item, kind, stamp)
        elif isinstance(kind, str) and kind.endswith("_output"):
            self._output(item, stamp)
        # other item types (item_reference, compaction markers, ...) carry no conversation content

    def _message(self, item: dict[str, Any], stamp: str | None) -> None:
        role = item.get("role")
        content = item.get("content")
        if isinstance(content, str):
            texts = [content]
        else:
            texts = []
            for part in content or []:
                if isinstance(part, dict):
                    if isinstance(part.get("text"), str):
                        texts.append(part["text"])
                    elif part.get("type") == "refusal":
                        texts.append(str(part.get("refusal", "")))
                    elif part.get("type"):
                        texts.append(f"[{part['type']} omitted by trace2skill import]")
        texts = [t for t in texts if t.strip()]
        if not texts:
            return
        if role in ("system", "developer"):
            self._append("system", [text_part(t) for t in texts], stamp)
        elif role == "user":
            context = [t for t in texts if t.lstrip().startswith(_CONTEXT_PREFIXES)]
            own = [t for t in texts if t not in context]
            if context:
                self._append("system", [text_part(t) for t in context], stamp)
            if own:
                self.user_text("\n\n".join(own), stamp)
        else:
            self._assistant([text_part(t) for t in texts], stamp)

    def _call(self, item: dict[str, Any], kind: str, stamp: str | None) -> None:
        call_id = item.get("call_id") or item.get("id")
        if kind == "custom_tool_call":
            arguments: Any = item.get("input") if isinstance(item.get("input"), str) else item.get("input") or {}
        elif kind in ("function_call", "mcp_call"):
            arguments = item.get("arguments")
        else:
            arguments = (
                item.get("action")
                or item.get("arguments")
                or {k: v for k, v in item.items() if k not in ("type", "id", "call_id", "status")}
            )
        name = item.get("name") or kind.removesuffix("_call")
        if kind == "mcp_call" and item.get("server_label"):
            name = f"{item['server_label']}.{name}"
        part = call_part(call_id, name, arguments)
        if isinstance(call_id, str):
            self.call_names[call_id] = part["name"]
        raw_args = arguments if isinstance(arguments, str) else json.dumps(arguments, default=str)
        for found in _SKILL_READ_RE.finditer(raw_args or ""):
            if found.group(1) not in self.skills:
                self.skills.append(found.group(1))
        self._assistant([part], stamp)
        if kind == "mcp_call" and ("output" in item or "error" in item):
            error = item.get("error")
            self._tool([result_part(call_id, error or item.get("output"), bool(error), name)], stamp)

    def _output(self, item: dict[str, Any], stamp: str | None) -> None:
        call_id = item.get("call_id") or item.get("id")
        output = item.get("output")
        error = False
        text = output
        if isinstance(output, dict):  # older Codex: {content, success}
            error = output.get("success") is False
            text = output.get("content", output)
        elif isinstance(output, list):
            text = "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in output)
        if isinstance(text, str):
            error = error or _failed(text)
        self._tool([result_part(call_id, text, error, self.call_names.get(str(call_id)))], stamp)

    def _assistant(self, parts: list[dict[str, Any]], stamp: str | None) -> None:
        self.user_open = False
        if self.messages and self.messages[-1]["role"] == "assistant":
            self.messages[-1]["content"].extend(parts)
        else:
            self.messages.append(message("assistant", parts, stamp))

    def _tool(self, parts: list[dict[str, Any]], stamp: str | None) -> None:
        self.user_open = False
        if self.messages and self.messages[-1]["role"] == "tool":
            self.messages[-1]["content"].extend(parts)
        else:
            self.messages.append(message("tool", parts, stamp))

    def _append(self, role: str, parts: list[dict[str, Any]], stamp: str | None) -> None:
        self.messages.append(message(role, parts, stamp))


def _failed(text: str) -> bool:
    """A shell exit code other than 0, or custom-tool JSON output whose metadata says so."""
    found = _EXIT_RE.search(text[:2000])
    if found:
        return found.group(1) != "0"
    if text.startswith("{") and '"exit_code"' in text[:4000]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return False
        meta = data.get("metadata") if isinstance(data, dict) else None
        return isinstance(meta, dict) and meta.get("exit_code") not in (0, None)
    return False


def read(path: Path, options: ImportOptions | None = None) -> Iterator[Draft | RecordError]:
    if path.suffix.lower() == ".jsonl":
        yield from _read_jsonl(path)
        return
    try:
        converter = ItemConverter()
        meta: dict[str, Any] = {}
        for index, value in iter_json(path):
            if index is None:
                yield from guarded(str(path), _read_document, value, path)
                return
            if isinstance(value, dict):
                try:
                    converter.item(value)
                except SHAPE_ERRORS as e:
                    yield shape_error(f"{path}#{index}", e)
            else:
                yield RecordError(f"{path}#{index}", f"expected a Responses item object, got {type(value).__name__}")
        yield from guarded(str(path), _draft, str(path), path, converter, meta)
    except JsonStreamError as e:
        yield RecordError(str(path), f"invalid JSON: {e}")


def _read_document(value: Any, path: Path) -> Iterator[Draft | RecordError]:
    if not isinstance(value, dict):
        yield RecordError(str(path), "expected a Responses request/response object or a list of items")
        return
    converter = ItemConverter()
    meta: dict[str, Any] = {}
    request = value["request"] if isinstance(value.get("request"), dict) else value
    response = value["response"] if isinstance(value.get("response"), dict) else value
    if isinstance(request.get("instructions"), str) and request["instructions"].strip():
        converter.item({"type": "message", "role": "system", "content": request["instructions"]})
    inputs = request.get("input")
    if isinstance(inputs, str):
        converter.user_text(inputs, None)
    elif isinstance(inputs, list):
        for item in inputs:
            if isinstance(item, dict):
                converter.item(item)
    for item in response.get("output") or []:
        if isinstance(item, dict):
            converter.item(item)
    for key in ("model", "id"):
        if isinstance(response.get(key), str):
            meta["model" if key == "model" else "response_id"] = response[key]
    if isinstance(response.get("usage"), dict):
        meta["usage"] = response["usage"]
    yield _draft(str(path), path, converter, meta)


def _read_jsonl(path: Path) -> Iterator[Draft | RecordError]:
    converter = ItemConverter()
    meta: dict[str, Any] = {}
    final_answer: str | None = None
    usage: dict[str, Any] | None = None
    for number, line in read_lines(path):
        source = f"{path}:{number}"
        try:
            record = load_json_line(line)
        except json.JSONDecodeError as e:
            yield RecordError(source, f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        if not isinstance(record, dict):
            yield RecordError(source, f"expected a JSON object, got {type(record).__name__}")
            continue
        kind = record.get("type")
        payload = record.get("payload")
        stamp = parse_timestamp(record.get("timestamp"))
        if kind in ("session_meta", "turn_context", "response_item", "event_msg", "compacted"):
            if not isinstance(payload, dict):
                yield RecordError(source, f"{kind} line without a payload object")
                continue
            meta.setdefault("started_at", stamp)
            if stamp:
                meta["ended_at"] = stamp
            if kind == "session_meta":
                _session_meta(meta, payload)
            elif kind == "turn_context":
                if isinstance(payload.get("model"), str):
                    meta["model"] = payload["model"]
            elif kind == "response_item":
                try:
                    converter.item(payload, stamp)
                except SHAPE_ERRORS as e:
                    yield shape_error(source, e)
            elif kind == "event_msg":
                event = payload.get("type")
                if event == "user_message" and isinstance(payload.get("message"), str):
                    converter.user_text(payload["message"], stamp)
                elif event == "task_complete" and isinstance(payload.get("last_agent_message"), str):
                    final_answer = payload["last_agent_message"]
                elif event == "token_count" and isinstance(payload.get("info"), dict):
                    usage = payload["info"].get("total_token_usage") or usage
            continue
        try:
            converter.item(record, stamp)  # a plain JSONL of Responses items
        except SHAPE_ERRORS as e:
            yield shape_error(source, e)
    if usage:
        meta["usage"] = usage
    if final_answer:
        meta["_final_answer"] = final_answer
    yield _draft(str(path), path, converter, meta)


def _session_meta(meta: dict[str, Any], payload: dict[str, Any]) -> None:
    meta["agent"] = "codex"
    for src, dst in (
        ("id", "session_id"),
        ("cwd", "cwd"),
        ("cli_version", "agent_version"),
        ("originator", "originator"),
        ("source", "client"),
        ("model_provider", "provider"),
    ):
        if isinstance(payload.get(src), str):
            meta[dst] = payload[src]
    git = payload.get("git")
    if isinstance(git, dict) and isinstance(git.get("branch"), str):
        meta["git_branch"] = git["branch"]


def _draft(source: str, path: Path, converter: ItemConverter, meta: dict[str, Any]) -> Draft:
    final_answer = meta.pop("_final_answer", None)
    metadata: dict[str, Any] = {"source_format": FORMAT, "file": str(path)}
    metadata.update({k: v for k, v in meta.items() if v is not None})
    if converter.encrypted_reasoning:
        metadata["encrypted_reasoning_items"] = converter.encrypted_reasoning
    if converter.skills:
        metadata["skills_loaded"] = converter.skills
    if final_answer is None:
        for msg in reversed(converter.messages):
            if msg["role"] == "assistant":
                texts = [p["text"] for p in msg["content"] if p["type"] == "text"]
                if texts:
                    final_answer = "\n".join(texts)
                    break
    skills = {s for s in (skill_name(s) for s in converter.skills) if s}
    session = metadata.get("session_id")
    return Draft(
        source=source,
        format=FORMAT,
        messages=converter.messages,
        final_answer=final_answer,
        skill=next(iter(skills)) if len(skills) == 1 else None,
        metadata=metadata,
        id=stable_id("codex", session) if isinstance(session, str) and metadata.get("agent") == "codex" else None,
        created_at=metadata.get("started_at"),
    )
