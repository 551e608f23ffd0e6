"""OpenAI Chat Completions message lists to trajectories.

Accepted shapes (JSON or JSONL):
- a bare list of messages (`[{role, content, tool_calls?}, ...]`): one trajectory;
- a request body or log record with `messages` (and optionally a `response`/`choices` whose
  message is appended), including mini-swe-agent's `{info, messages, trajectory_format}`;
- a list (or JSONL) of such records, one trajectory each; tau-bench results
  `[{task_id, reward, info, traj, trial}, ...]`, where `reward` 1.0/0.0 becomes the outcome
  (`judged_by: source:tau-bench`) and `info.task` (the simulated user's instruction and the
  expected actions) becomes the `reference`, kept from analysts.

Roles `developer` and `system` map to system, `function` (the legacy form) to tool. Tool calls keep
their `id` so results pair by `tool_call_id`; unparseable `arguments` stay a raw string. The format
has no error flag on tool results, so a result whose text starts like an error (`Error:`,
`Traceback (most recent call last)`, `Exception:`) is marked `is_error` (the heuristic is recorded
in `metadata.error_heuristic`).

Top-level JSON arrays are read element by element (`jsonstream`), so memory is bounded by the
largest record, not the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
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
    parse_timestamp,
    read_lines,
    reasoning_part,
    result_part,
    text_part,
)
from trace2skill.importers.jsonstream import JsonStreamError, iter_json

__all__ = ["ERROR_RE", "FORMAT", "convert_messages", "read"]

FORMAT = "openai-chat"
ERROR_RE = re.compile(r"^\s*(?:Error\b|ERROR\b|Exception\b|Traceback \(most recent call last\)|\w+Error:)")


def read(path: Path, options: ImportOptions | None = None) -> Iterator[Draft | RecordError]:
    if path.suffix.lower() == ".jsonl":
        yield from _read_jsonl(path)
        return
    try:
        items = iter_json(path)
        first = next(items, None)
        if first is None:
            yield RecordError(str(path), "empty JSON array")
            return
        index, value = first
        if index is None:  # one document
            yield from guarded(str(path), _from_document, value, str(path), path)
            return
        if isinstance(value, dict) and "role" in value and not _is_record(value):
            rest = [value, *(item for _, item in items)]
            yield from guarded(str(path), _one_list, path, rest, str(path))
            return
        yield from guarded(f"{path}#{index}", _from_record, value, f"{path}#{index}", path)
        for index, value in items:
            yield from guarded(f"{path}#{index}", _from_record, value, f"{path}#{index}", path)
    except JsonStreamError as e:
        yield RecordError(str(path), f"invalid JSON: {e}")


def _read_jsonl(path: Path) -> Iterator[Draft | RecordError]:
    loose: list[dict[str, Any]] = []
    loose_start = None
    for number, line in read_lines(path):
        source = f"{path}:{number}"
        try:
            value = load_json_line(line)
        except json.JSONDecodeError as e:
            yield RecordError(source, f"invalid JSON: {e.msg} (column {e.colno})")
            continue
        if isinstance(value, dict) and "role" in value and not _is_record(value):
            loose.append(value)  # a JSONL of single messages is one conversation
            loose_start = loose_start or number
            continue
        yield from guarded(source, _from_record, value, source, path)
    if loose:
        yield from guarded(f"{path}:{loose_start}", _one_list, path, loose, f"{path}:{loose_start}")


def _is_record(value: dict[str, Any]) -> bool:
    return any(k in value for k in ("messages", "traj", "choices"))


def _from_document(value: Any, source: str, path: Path) -> Iterator[Draft | RecordError]:
    if isinstance(value, list):
        if all(isinstance(v, dict) and "role" in v for v in value):
            yield from _one_list(path, value, source)
        else:
            for index, item in enumerate(value):
                yield from _from_record(item, f"{source}#{index}", path)
        return
    yield from _from_record(value, source, path)


def _one_list(path: Path, items: list[dict[str, Any]], source: str) -> Iterator[Draft | RecordError]:
    try:
        messages, notes = convert_messages(items)
    except ValueError as e:
        yield RecordError(source, str(e))
        return
    yield _draft(source, path, messages, notes, {})


def _from_record(value: Any, source: str, path: Path) -> Iterator[Draft | RecordError]:
    if not isinstance(value, dict):
        yield RecordError(source, f"expected an object with messages, got {type(value).__name__}")
        return
    raw = value.get("traj") if "traj" in value else value.get("messages")
    request = value["request"] if isinstance(value.get("request"), dict) else None
    if raw is None and request is not None:
        raw = request.get("messages")
    if raw is None and isinstance(value.get("choices"), list):
        raw = []
    if not isinstance(raw, list):
        yield RecordError(source, "no 'messages' (or tau-bench 'traj') list in this record")
        return
    items = list(raw)
    response = value["response"] if isinstance(value.get("response"), dict) else value
    for choice in (response.get("choices") or [])[:1] if isinstance(response.get("choices"), list) else []:
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            items.append({"role": "assistant", **choice["message"]})
    try:
        messages, notes = convert_messages(items)
    except ValueError as e:
        yield RecordError(source, str(e))
        return
    yield _draft(source, path, messages, notes, value)


def convert_messages(items: Iterable[Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Chat Completions messages to trajectory messages; raises ValueError naming the bad message."""
    messages: list[dict[str, Any]] = []
    notes: dict[str, Any] = {"errors_by_heuristic": 0}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"message {index} is {type(item).__name__}, not an object")
        role = item.get("role")
        stamp = parse_timestamp(item.get("timestamp") or item.get("created_at"))
        if role in ("system", "developer"):
            messages.append(message("system", _content_parts(item.get("content")), stamp))
        elif role == "user":
            messages.append(message("user", _content_parts(item.get("content")), stamp))
        elif role == "assistant":
            parts: list[dict[str, Any]] = []
            reasoning = item.get("reasoning_content") or item.get("reasoning")
            if isinstance(reasoning, str) and reasoning.strip():
                parts.append(reasoning_part(reasoning))
            parts.extend(_content_parts(item.get("content")))
            if isinstance(item.get("refusal"), str) and item["refusal"].strip():
                parts.append(text_part(item["refusal"]))
            for call in item.get("tool_calls") or []:
                parts.append(_tool_call(call, index))
            legacy = item.get("function_call")
            if isinstance(legacy, dict) and legacy.get("name"):
                parts.append(call_part(None, legacy.get("name"), legacy.get("arguments")))
            messages.append(message("assistant", parts, stamp))
        elif role in ("tool", "function"):
            output = _output(item.get("content"))
            error = bool(ERROR_RE.match(output))
            notes["errors_by_heuristic"] += int(error)
            part = result_part(item.get("tool_call_id"), output, error, item.get("name"))
            if messages and messages[-1]["role"] == "tool":
                messages[-1]["content"].append(part)
            else:
                messages.append(message("tool", [part], stamp))
        else:
            raise ValueError(f"message {index} has unknown role {role!r}")
    return messages, notes


def _tool_call(call: Any, index: int) -> dict[str, Any]:
    if not isinstance(call, dict):
        raise ValueError(f"message {index}: a tool call is {type(call).__name__}, not an object")
    if isinstance(call.get("function"), dict):
        fn = call["function"]
        return call_part(call.get("id"), fn.get("name"), fn.get("arguments"))
    if isinstance(call.get("custom"), dict):
        custom = call["custom"]
        raw = custom.get("input")
        return call_part(call.get("id"), custom.get("name"), raw if isinstance(raw, str) else json.dumps(raw))
    return call_part(call.get("id"), call.get("name"), call.get("arguments"))


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)] if content else []
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(text_part(block))
            elif isinstance(block, dict):
                kind = block.get("type")
                if kind in ("text", "input_text", "output_text") and isinstance(block.get("text"), str):
                    parts.append(text_part(block["text"]))
                elif kind == "refusal":
                    parts.append(text_part(str(block.get("refusal", ""))))
                elif kind:
                    parts.append(text_part(f"[{kind} omitted by trace2skill import]"))
        return parts
    return [text_part(json.dumps(content, ensure_ascii=False, default=str))]


def _output(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in _content_parts(content))
    return json.dumps(content, ensure_ascii=False, default=str)


def _draft(
    source: str, path: Path, messages: list[dict[str, Any]], notes: dict[str, Any], record: dict[str, Any]
) -> Draft:
    metadata: dict[str, Any] = {"source_format": FORMAT, "file": str(path)}
    if notes["errors_by_heuristic"]:
        metadata["error_heuristic"] = {"pattern": ERROR_RE.pattern, "matched": notes["errors_by_heuristic"]}
    draft = Draft(source=source, format=FORMAT, messages=messages, metadata=metadata)
    model = record.get("model") or (record.get("request") or {}).get("model")
    if isinstance(model, str):
        metadata["model"] = model
    if isinstance(record.get("usage"), dict):
        metadata["usage"] = record["usage"]
    if "traj" in record:
        _tau_bench(draft, record)
    elif record.get("trajectory_format") or isinstance(record.get("info"), dict):
        _mini_swe_agent(draft, record)
    return draft


def _tau_bench(draft: Draft, record: dict[str, Any]) -> None:
    meta = draft.metadata
    meta["agent"] = "tau-bench"
    for key in ("task_id", "trial"):
        if key in record:
            meta[key] = record[key]
    info = record["info"] if isinstance(record.get("info"), dict) else {}
    if isinstance(info.get("user_cost"), int | float):
        meta["user_cost"] = info["user_cost"]
    reward_info = info.get("reward_info")
    if isinstance(reward_info, dict) and isinstance(reward_info.get("info"), dict):
        meta["reward_info"] = reward_info["info"]
    if isinstance(info.get("task"), dict):
        draft.reference = info["task"]
    reward = record.get("reward")
    if isinstance(reward, int | float) and not isinstance(reward, bool):
        status = "success" if reward >= 1.0 else "failure" if reward <= 0.0 else "partial"
        draft.outcome = {"status": status, "score": float(reward), "judged_by": "source:tau-bench"}


def _mini_swe_agent(draft: Draft, record: dict[str, Any]) -> None:
    info = record["info"] if isinstance(record.get("info"), dict) else {}
    fmt = record.get("trajectory_format")
    draft.metadata["agent"] = fmt.rsplit("-", 1)[0] if isinstance(fmt, str) and fmt else "unknown"
    if fmt:
        draft.metadata["trajectory_format"] = fmt
    for key in ("exit_status", "mini_version"):
        if isinstance(info.get(key), str):
            draft.metadata[key] = info[key]
    stats = info.get("model_stats")
    if isinstance(stats, dict):
        draft.metadata["model_stats"] = {k: v for k, v in stats.items() if isinstance(v, int | float)}
    if isinstance(info.get("submission"), str) and info["submission"].strip():
        draft.final_answer = info["submission"]
