"""Fit an imported trajectory into `models.LIMITS`, visibly.

Everywhere else trace2skill rejects oversized input instead of cutting it. Imported logs are the one
exception: a real session must not fail to import because one tool printed 5 MB. So here, and only
here, an over-limit field is shortened with an explicit marker in the text itself
(`[... trace2skill import: 12,345 of 20,000 characters omitted ...]`) and every cut is recorded in
`metadata["truncated"]` (a count and the first few locations). Nothing is shortened silently.

Order of work: each field to its own limit; long messages split (parts per message); the middle of a
too-long conversation replaced by one marker message; then, while the whole trajectory is still over
`LIMITS.trajectory_bytes`, the largest texts and outputs are cut down together (water-filling), so a
few huge outputs give way before any ordinary one does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from trace2skill.models import LIMITS

__all__ = ["CUT_MARGIN", "MARKER", "fit_to_limits", "json_size", "truncate_text"]

MARKER = "[... trace2skill import: {omitted:,} of {total:,} characters omitted ...]"
_NOTES_KEPT = 20
_TOTAL_HEADROOM = 0.92  # leave room for ids, timestamps and JSON punctuation the estimate misses


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))


CUT_MARGIN = 16_384
"""Characters beyond each cut that a `clean` function sees, so a secret (even a PEM key block) that
straddles a cut is recognised whole and removed before the cut, never left as a half."""


def truncate_text(text: str, max_chars: int, clean: Callable[[str], str] | None = None) -> str:
    """Keep the head (2/3) and the tail (1/3) of `text` around a marker; the result is <= max_chars.

    `clean` (a redactor) is applied to the kept head and tail, each with `CUT_MARGIN` characters of
    what follows or precedes it, before they are cut to length: only the parts kept are scanned, and
    nothing that straddles a cut survives in part.
    """
    if len(text) <= max_chars:
        return clean(text) if clean else text
    marker_room = len(MARKER.format(omitted=len(text), total=len(text))) + 2
    keep = max(0, max_chars - marker_room)
    head = keep * 2 // 3
    tail = keep - head
    omitted = len(text) - head - tail
    marker = MARKER.format(omitted=omitted, total=len(text))
    head_text = text[:head]
    tail_text = text[len(text) - tail :] if tail else ""
    if clean is not None:
        head_text = clean(text[: head + CUT_MARGIN])[:head]
        tail_text = clean(text[max(0, len(text) - tail - CUT_MARGIN) :])[-tail:] if tail else ""
    return f"{head_text}\n{marker}\n{tail_text}"[:max_chars]


def _truncate_to_bytes(text: str, max_bytes: int) -> str:
    """Shorten until the JSON encoding of `text` fits `max_bytes` (escapes can make JSON longer)."""
    limit = min(len(text), max_bytes)
    result = truncate_text(text, limit)
    while json_size(result) > max_bytes and limit > 64:
        limit = limit * 3 // 4
        result = truncate_text(text, limit)
    return result


class _Notes:
    def __init__(self) -> None:
        self.count = 0
        self.fields: list[dict[str, Any]] = []

    def add(self, where: str, before: int, after: int) -> None:
        self.count += 1
        if len(self.fields) < _NOTES_KEPT:
            self.fields.append({"where": where, "from": before, "to": after})


def fit_to_limits(data: dict[str, Any]) -> dict[str, Any]:
    """Return `data` (a trajectory dict, modified in place) shortened to fit the limits, cuts recorded."""
    notes = _Notes()
    data["task"] = _fit_str(data.get("task") or "", LIMITS.task_chars, "task", notes)
    if data.get("final_answer") is not None:
        data["final_answer"] = _fit_str(str(data["final_answer"]), LIMITS.final_answer_chars, "final_answer", notes)
    outcome = data.get("outcome")
    if isinstance(outcome, dict) and outcome.get("feedback"):
        outcome["feedback"] = _fit_str(str(outcome["feedback"]), LIMITS.feedback_chars, "outcome.feedback", notes)
    if data.get("reference") is not None and json_size(data["reference"]) > LIMITS.json_value_bytes:
        before = json_size(data["reference"])
        data["reference"] = _truncate_to_bytes(json.dumps(data["reference"], default=str), LIMITS.json_value_bytes)
        notes.add("reference", before, json_size(data["reference"]))

    messages = data.get("messages") or []
    for i, msg in enumerate(messages):
        for j, part in enumerate(msg.get("content") or []):
            _fit_part(part, f"messages[{i}].content[{j}]", notes)
    messages = _split_wide_messages(messages)
    messages = _drop_middle_messages(messages, notes)
    data["messages"] = messages
    _fit_total(data, notes)
    _fit_metadata(data, notes)
    if notes.count:
        earlier = data["metadata"].get("truncated")
        if isinstance(earlier, dict):  # an importer already cut while reading: add to its note
            notes.count += int(earlier.get("count", 0))
            notes.fields = [*(earlier.get("fields") or []), *notes.fields][:_NOTES_KEPT]
        data["metadata"]["truncated"] = {"count": notes.count, "fields": notes.fields}
    return data


def _fit_str(text: str, limit: int, where: str, notes: _Notes) -> str:
    if len(text) <= limit:
        return text
    cut = truncate_text(text, limit)
    notes.add(where, len(text), len(cut))
    return cut


def _fit_part(part: dict[str, Any], where: str, notes: _Notes) -> None:
    kind = part.get("type")
    if kind in ("text", "reasoning"):
        part["text"] = _fit_str(str(part.get("text", "")), LIMITS.text_chars, where, notes)
    elif kind == "tool_call":
        _fit_tool_part(part, where, notes, id_key="id", value_key="arguments")
    elif kind == "tool_result":
        _fit_tool_part(part, where, notes, id_key="tool_call_id", value_key="output")


def _fit_tool_part(part: dict[str, Any], where: str, notes: _Notes, *, id_key: str, value_key: str) -> None:
    """Cut a tool call's or result's name and id to their limits, and its JSON value to the byte limit."""
    for key, limit in (("name", LIMITS.tool_name_chars), (id_key, LIMITS.tool_id_chars)):
        if isinstance(part.get(key), str) and len(part[key]) > limit:
            part[key] = part[key][:limit]
            notes.add(f"{where}.{key}", limit + 1, limit)
    value = part.get(value_key)
    size = json_size(value)
    if size > LIMITS.json_value_bytes:
        raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        part[value_key] = _truncate_to_bytes(raw, LIMITS.json_value_bytes)
        notes.add(f"{where}.{value_key}", size, json_size(part[value_key]))


def _split_wide_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message with more parts than allowed becomes several consecutive messages of the same role."""
    limit = LIMITS.parts_per_message
    if all(len(m.get("content") or []) <= limit for m in messages):
        return messages
    out: list[dict[str, Any]] = []
    for msg in messages:
        parts = msg.get("content") or []
        if len(parts) <= limit:
            out.append(msg)
            continue
        for start in range(0, len(parts), limit):
            out.append({**msg, "content": parts[start : start + limit]})
    return out


def _drop_middle_messages(messages: list[dict[str, Any]], notes: _Notes) -> list[dict[str, Any]]:
    limit = LIMITS.messages
    if len(messages) <= limit:
        return messages
    head = (limit - 1) // 2
    tail = limit - 1 - head
    omitted = len(messages) - head - tail
    marker = {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": f"[... trace2skill import: {omitted:,} of {len(messages):,} messages omitted "
                f"(the trajectory limit is {limit:,} messages) ...]",
            }
        ],
    }
    notes.add(f"messages[{head}:{head + omitted}]", len(messages), limit)
    return [*messages[:head], marker, *messages[len(messages) - tail :]]


def _big_fields(data: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(container, key, location) of every text or output that can be shortened."""
    fields: list[tuple[dict[str, Any], str, str]] = []
    for i, msg in enumerate(data["messages"]):
        for j, part in enumerate(msg.get("content") or []):
            where = f"messages[{i}].content[{j}]"
            kind = part.get("type")
            if kind in ("text", "reasoning"):
                fields.append((part, "text", where))
            elif kind == "tool_result":
                fields.append((part, "output", where + ".output"))
            elif kind == "tool_call":
                fields.append((part, "arguments", where + ".arguments"))
    return fields


def _fit_total(data: dict[str, Any], notes: _Notes) -> None:
    """Water-fill: find one cap so that all texts/outputs cut to it fit the trajectory budget."""
    budget = int(LIMITS.trajectory_bytes * _TOTAL_HEADROOM)
    total = json_size(data)
    if total <= budget:
        return
    fields = _big_fields(data)
    sizes = [json_size(container[key]) for container, key, _ in fields]
    fixed = total - sum(sizes)
    room = max(budget - fixed, 0)
    cap = _water_level(sorted(sizes), room)
    for (container, key, where), size in zip(fields, sizes, strict=True):
        if size <= cap:
            continue
        value = container[key]
        raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        container[key] = _truncate_to_bytes(raw, max(cap, 256))
        notes.add(where, size, json_size(container[key]))


def _water_level(sorted_sizes: list[int], room: int) -> int:
    """Largest cap c with sum(min(s, c)) <= room."""
    remaining = room
    count = len(sorted_sizes)
    for index, size in enumerate(sorted_sizes):
        left = count - index
        if size * left <= remaining:
            remaining -= size
            continue
        return remaining // left
    return sorted_sizes[-1] if sorted_sizes else 0


def _fit_metadata(data: dict[str, Any], notes: _Notes) -> None:
    metadata = data.setdefault("metadata", {})
    budget = LIMITS.metadata_bytes - 4096  # room for the truncation note itself
    if json_size(metadata) <= budget:
        return
    for key in sorted(metadata, key=lambda k: json_size(metadata[k]), reverse=True):
        if json_size(metadata) <= budget:
            break
        before = json_size(metadata[key])
        value = metadata[key]
        if isinstance(value, str) and before > 1024:
            metadata[key] = truncate_text(value, 1000)
        else:
            metadata[key] = f"[... trace2skill import: metadata value of {before:,} bytes omitted ...]"
        notes.add(f"metadata.{key}", before, json_size(metadata[key]))
