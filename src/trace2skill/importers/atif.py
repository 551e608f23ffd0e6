"""Harbor ATIF trajectories (`trajectory.json`, `schema_version: ATIF-v1.x`) to trajectories.

Steps map by `source`: `system` and `user` to those roles, `agent` to an assistant message
(`reasoning_content` as reasoning, `message` as text, `tool_calls` as calls). An agent step's
`observation.results` become tool results paired by `source_call_id`; a result without one pairs
with the step's only call (or its calls in order), and feedback with no call at all (a parser error
message) becomes a user message. `subagent_trajectory_ref` entries are listed in
`metadata.subagent_refs` (import the referenced files to get those trajectories). ATIF has no error
flag on results, so none is invented. Session ids in golden files are often placeholders, so the
trajectory id is left to the pipeline (a content hash).
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
    message,
    parse_timestamp,
    reasoning_part,
    result_part,
    text_part,
)
from trace2skill.importers.jsonstream import JsonStreamError, iter_json

__all__ = ["FORMAT", "is_atif", "read"]

FORMAT = "atif"


def is_atif(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("steps"), list)
        and str(value.get("schema_version", "")).upper().startswith("ATIF")
    )


def read(path: Path, options: ImportOptions | None = None) -> Iterator[Draft | RecordError]:
    try:
        for index, value in iter_json(path):
            source = str(path) if index is None else f"{path}#{index}"
            if not is_atif(value):
                yield RecordError(source, "not an ATIF trajectory (needs schema_version 'ATIF-...' and steps)")
                continue
            yield from guarded(source, _convert, value, source, path)
    except JsonStreamError as e:
        yield RecordError(str(path), f"invalid JSON: {e}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # multimodal content parts
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _refs(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {k: ref[k] for k in ("session_id", "trajectory_path") if k in ref}
        for ref in result.get("subagent_trajectory_ref") or []
        if isinstance(ref, dict)
    ]


def _convert(doc: dict[str, Any], source: str, path: Path) -> Draft:
    messages: list[dict[str, Any]] = []
    refs: list[dict[str, Any]] = []
    for step in doc["steps"]:
        if not isinstance(step, dict):
            continue
        stamp = parse_timestamp(step.get("timestamp"))
        role = step.get("source")
        text = _text(step.get("message"))
        if role in ("system", "user"):
            if text.strip():
                messages.append(message(role, [text_part(text)], stamp))
            for result in (step.get("observation") or {}).get("results") or []:
                if isinstance(result, dict):
                    refs.extend(_refs(result))
            continue
        parts: list[dict[str, Any]] = []
        if isinstance(step.get("reasoning_content"), str) and step["reasoning_content"].strip():
            parts.append(reasoning_part(step["reasoning_content"]))
        if text.strip():
            parts.append(text_part(text))
        calls = [c for c in step.get("tool_calls") or [] if isinstance(c, dict)]
        for call in calls:
            parts.append(call_part(call.get("tool_call_id"), call.get("function_name"), call.get("arguments")))
        if parts:
            messages.append(message("assistant", parts, stamp))
        results: list[dict[str, Any]] = []
        feedback: list[dict[str, Any]] = []
        unpaired = [c.get("tool_call_id") for c in calls]
        for result in (step.get("observation") or {}).get("results") or []:
            if not isinstance(result, dict):
                continue
            refs.extend(_refs(result))
            content = _text(result.get("content"))
            call_id = result.get("source_call_id")
            if call_id is None and unpaired:
                call_id = unpaired[0]
            if call_id is not None:
                if call_id in unpaired:
                    unpaired.remove(call_id)
                results.append(result_part(call_id, content))
            elif content.strip():
                feedback.append(text_part(content))
        if results:
            messages.append(message("tool", results, stamp))
        if feedback:
            messages.append(message("user", feedback, stamp))
    agent = doc["agent"] if isinstance(doc.get("agent"), dict) else {}
    metadata: dict[str, Any] = {"source_format": FORMAT, "file": str(path), "schema_version": doc["schema_version"]}
    for src, dst in (("name", "agent"), ("version", "agent_version"), ("model_name", "model")):
        if isinstance(agent.get(src), str):
            metadata[dst] = agent[src]
    if isinstance(doc.get("session_id"), str):
        metadata["session_id"] = doc["session_id"]
    if isinstance(doc.get("final_metrics"), dict):
        metadata["usage"] = {k: v for k, v in doc["final_metrics"].items() if isinstance(v, int | float)}
    if refs:
        metadata["subagent_refs"] = refs
    final = None
    for msg in reversed(messages):
        if msg["role"] == "assistant":
            texts = [p["text"] for p in msg["content"] if p["type"] == "text"]
            if texts:
                final = "\n".join(texts)
                break
    return Draft(source=source, format=FORMAT, messages=messages, final_answer=final, metadata=metadata)
