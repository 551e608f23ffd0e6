"""OpenTelemetry GenAI spans and OpenInference spans to trajectories.

Accepted containers (JSON, or JSONL with one container per line):
- OTLP JSON exports `{"resourceSpans": [{resource, scopeSpans: [{scope, spans: [...]}]}]}` (typed
  attribute values, hex or base64 ids, `startTimeUnixNano`);
- OpenTelemetry SDK span dicts (`ReadableSpan.to_json()` or the any-agent `{spans: [...]}` trace:
  `context.trace_id`/`span_id`, plain attribute dicts, nested attribute dicts are flattened);
- a single span's bare attribute map (keys `gen_ai.*`, `llm.*`, `openinference.span.kind`).

Spans are grouped into trajectories by `gen_ai.conversation.id` (or OpenInference `session.id`)
when a trace carries one, else by trace id, then walked in start-time order:
- model spans (`gen_ai.operation.name` chat / text_completion / generate_content / call_llm, or
  OpenInference kind LLM): the input messages not seen in the previous model call are added, then
  the output messages. Messages come from `gen_ai.system_instructions`, `gen_ai.input.messages` /
  `gen_ai.output.messages` (parts `text`, `reasoning`, `tool_call`, `tool_call_response`), the
  Chat-like lists some instrumentations write (`{role, content}`, any-agent's `gen_ai.output` with
  `tool.name`/`tool.args`), the older `gen_ai.prompt`/`gen_ai.completion` span events, or
  OpenInference's flattened `llm.input_messages.{i}.message.*` / `llm.output_messages.{i}...`;
- tool spans (`execute_tool`, OpenInference kind TOOL): a tool result paired with the model's call by
  `gen_ai.tool.call.id`, else with the oldest open call of the same tool name; a tool span with no
  call in any model output gets its call added from the span (name and arguments). A span with
  status ERROR (or an `error.type`) makes the result an error;
- agent spans (`invoke_agent`, OpenInference AGENT): agent name, and the input/output value as task
  and final answer when the model spans do not carry them.

Memory: a file is parsed whole and its spans are grouped in memory (a trace cannot be assembled
before its last span is read), so the bound is the size of one export file; exporters rotate files.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trace2skill.importers import openai_chat
from trace2skill.importers.common import (
    SHAPE_ERRORS,
    Draft,
    ImportOptions,
    RecordError,
    call_part,
    load_json_line,
    message,
    parse_timestamp,
    read_lines,
    reasoning_part,
    result_part,
    shape_error,
    stable_id,
    text_part,
)
from trace2skill.importers.jsonstream import JsonStreamError, iter_json

__all__ = ["FORMAT", "Span", "looks_like_attributes", "read"]

FORMAT = "otel"
_LLM_OPS = {"chat", "text_completion", "generate_content", "call_llm", "completion", "responses"}
_TOOL_OPS = {"execute_tool"}
_AGENT_OPS = {"invoke_agent", "create_agent"}
_FLAT_RE = re.compile(r"^(llm\.(?:input|output)_messages|gen_ai\.(?:prompt|completion))\.(\d+)\.(.+)$")
_JSON_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
}


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start: int
    end: int | None
    attributes: dict[str, Any]
    error: bool = False
    status_message: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> str | None:
        value = self.attributes.get("gen_ai.operation.name")
        return value if isinstance(value, str) else None

    @property
    def oi_kind(self) -> str | None:
        value = self.attributes.get("openinference.span.kind")
        return value.upper() if isinstance(value, str) else None

    @property
    def is_llm(self) -> bool:
        a = self.attributes
        return (
            self.op in _LLM_OPS
            or self.oi_kind == "LLM"
            or "gen_ai.input.messages" in a
            or "gen_ai.output.messages" in a
            or any(k.startswith("llm.input_messages.") for k in a)
        ) and self.op not in _TOOL_OPS

    @property
    def is_tool(self) -> bool:
        return self.op in _TOOL_OPS or self.oi_kind == "TOOL"

    @property
    def is_agent(self) -> bool:
        return self.op in _AGENT_OPS or self.oi_kind == "AGENT"


def looks_like_attributes(value: Any) -> bool:
    """A bare span attribute map (what some fixtures and exporters write for one span)."""
    return isinstance(value, dict) and any(
        k.startswith(("gen_ai.", "llm.", "openinference.")) for k in value if isinstance(k, str)
    )


def read(path: Path, options: ImportOptions | None = None) -> Iterator[Draft | RecordError]:
    spans: list[Span] = []
    extras: dict[str, Any] = {}
    if path.suffix.lower() == ".jsonl":
        for number, line in read_lines(path):
            source = f"{path}:{number}"
            try:
                value = load_json_line(line)
                spans.extend(_spans_from(value, source, extras))
            except json.JSONDecodeError as e:
                yield RecordError(source, f"invalid JSON: {e.msg} (column {e.colno})")
            except _BadSpan as e:
                yield RecordError(source, str(e))
            except SHAPE_ERRORS as e:
                yield shape_error(source, e)
    else:
        try:
            for index, value in iter_json(path):
                source = str(path) if index is None else f"{path}#{index}"
                try:
                    spans.extend(_spans_from(value, source, extras))
                except _BadSpan as e:
                    yield RecordError(source, str(e))
                except SHAPE_ERRORS as e:
                    yield shape_error(source, e)
        except JsonStreamError as e:
            yield RecordError(str(path), f"invalid JSON: {e}")
    if not spans:
        yield RecordError(str(path), "no spans found (expected OTLP JSON, SDK span dicts or a span attribute map)")
        return
    for key, group in _group(spans).items():
        try:
            yield _assemble(path, key, group, extras)
        except _BadSpan as e:
            yield RecordError(f"{path} (trace {key})", str(e))
        except SHAPE_ERRORS as e:
            yield shape_error(f"{path} (trace {key})", e)


class _BadSpan(ValueError):
    pass


# --- reading span containers ---------------------------------------------------------------------


def _spans_from(value: Any, source: str, extras: dict[str, Any]) -> list[Span]:
    if isinstance(value, list):
        out: list[Span] = []
        for item in value:
            out.extend(_spans_from(item, source, extras))
        return out
    if not isinstance(value, dict):
        raise _BadSpan(f"expected a span container object, got {type(value).__name__}")
    if "resourceSpans" in value:
        return _otlp(value["resourceSpans"])
    if isinstance(value.get("spans"), list):
        if "final_output" in value:
            extras["final_output"] = value["final_output"]
        return [_sdk_span(s, i) for i, s in enumerate(value["spans"]) if isinstance(s, dict)]
    if "attributes" in value and ("context" in value or "name" in value or "span_id" in value):
        return [_sdk_span(value, 0)]
    if looks_like_attributes(value):
        return [
            Span(
                trace_id=f"attrs:{source}",
                span_id="0",
                parent_id=None,
                name="",
                start=0,
                end=None,
                attributes=_flatten(value),
            )
        ]
    raise _BadSpan("not an OTLP export, SDK span or span attribute map")


def _otlp(resource_spans: Any) -> list[Span]:
    spans = []
    for rs in resource_spans or []:
        resource = _kv(((rs.get("resource") or {}).get("attributes")) or [])
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for raw in ss.get("spans") or []:
                status = raw.get("status") or {}
                code = status.get("code")
                spans.append(
                    Span(
                        trace_id=_hex_id(raw.get("traceId")),
                        span_id=_hex_id(raw.get("spanId")),
                        parent_id=_hex_id(raw.get("parentSpanId")) or None,
                        name=str(raw.get("name", "")),
                        start=_int(raw.get("startTimeUnixNano")),
                        end=_int(raw.get("endTimeUnixNano")) or None,
                        attributes=_kv(raw.get("attributes") or []),
                        error=code in (2, "2", "STATUS_CODE_ERROR", "ERROR"),
                        status_message=status.get("message"),
                        events=[
                            {"name": e.get("name"), "attributes": _kv(e.get("attributes") or [])}
                            for e in raw.get("events") or []
                        ],
                        resource=resource,
                    )
                )
    return spans


def _sdk_span(raw: dict[str, Any], index: int) -> Span:
    context = raw.get("context") or {}
    parent = raw.get("parent") or {}
    status = raw.get("status") or {}
    code = str(status.get("status_code") or raw.get("status_code") or "").upper()
    start = raw.get("start_time")
    end = raw.get("end_time")
    return Span(
        trace_id=_hex_id(context.get("trace_id") or raw.get("trace_id")) or "trace",
        span_id=_hex_id(context.get("span_id") or raw.get("span_id")) or str(index),
        parent_id=_hex_id(parent.get("span_id") if isinstance(parent, dict) else None)
        or _hex_id(raw.get("parent_id"))
        or None,
        name=str(raw.get("name", "")),
        start=_time_ns(start),
        end=_time_ns(end) or None,
        attributes=_flatten(raw.get("attributes") or {}),
        error=code.endswith("ERROR"),
        status_message=status.get("description") if isinstance(status, dict) else None,
        events=[
            {"name": e.get("name"), "attributes": _flatten(e.get("attributes") or {})}
            for e in raw.get("events") or []
            if isinstance(e, dict)
        ],
        resource=_flatten((raw.get("resource") or {}).get("attributes") or {}),
    )


def _kv(items: list[Any]) -> dict[str, Any]:
    out = {}
    for item in items:
        if isinstance(item, dict) and "key" in item:
            out[str(item["key"])] = _any_value(item.get("value") or {})
    return out


def _any_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return _int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_any_value(v) for v in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return _kv((value["kvlistValue"] or {}).get("values") or [])
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _flatten(attributes: Any, prefix: str = "") -> dict[str, Any]:
    """Nested attribute dicts (Phoenix exports) to dotted keys; flat maps pass through."""
    if not isinstance(attributes, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in _JSON_KEYS:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _hex_id(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, int):
        return format(value, "x").rjust(16, "0")
    text = str(value)
    if text.startswith("0x"):
        return text[2:]
    if re.fullmatch(r"[0-9a-fA-F]+", text):
        return text.lower()
    try:  # protobuf JSON mapping writes ids as base64
        return base64.b64decode(text, validate=True).hex()
    except ValueError:
        return text


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _time_ns(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        stamp = parse_timestamp(value)
        if stamp:
            from datetime import datetime

            return int(datetime.fromisoformat(stamp).timestamp() * 1e9)
    return 0


# --- grouping and assembling -----------------------------------------------------------------------


def _group(spans: list[Span]) -> dict[str, list[Span]]:
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    groups: dict[str, list[Span]] = defaultdict(list)
    for trace_id, members in traces.items():
        conversation = next(
            (
                str(s.attributes[k])
                for s in members
                for k in ("gen_ai.conversation.id", "session.id")
                if isinstance(s.attributes.get(k), str | int) and str(s.attributes[k])
            ),
            None,
        )
        groups[f"conversation:{conversation}" if conversation else f"trace:{trace_id}"].extend(members)
    return groups


class _Assembler:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.llm_seen = 0
        self.open_calls: list[dict[str, Any]] = []  # tool_call parts still waiting for a result
        self.answered: set[str] = set()
        self.synthetic = 0

    def emit(self, msg: dict[str, Any]) -> None:
        if not msg["content"]:
            return
        for part in msg["content"]:
            if part["type"] == "tool_call":
                if not part.get("id"):
                    self.synthetic += 1
                    part["id"] = f"otel-call-{self.synthetic}"
                self.open_calls.append(part)
            elif part["type"] == "tool_result" and part.get("tool_call_id"):
                self.answered.add(part["tool_call_id"])
                self.open_calls = [c for c in self.open_calls if c["id"] != part["tool_call_id"]]
        if self.messages and self.messages[-1]["role"] == msg["role"] and msg["role"] in ("tool", "assistant"):
            self.messages[-1]["content"].extend(msg["content"])
        else:
            self.messages.append(msg)

    def llm(self, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> None:
        for msg in inputs[self.llm_seen :] if len(inputs) > self.llm_seen else []:
            if self._already_have(msg):
                continue
            self.emit(msg)
        for msg in outputs:
            self.emit(msg)
        if inputs:
            self.llm_seen = len(inputs) + len(outputs)
        else:
            self.llm_seen += len(outputs)

    def _already_have(self, msg: dict[str, Any]) -> bool:
        """A tool result or call the tool spans (or an earlier output) already contributed."""
        parts = msg["content"]
        if parts and all(p["type"] == "tool_result" and p.get("tool_call_id") in self.answered for p in parts):
            return True
        known = {p.get("id") for m in self.messages for p in m["content"] if p["type"] == "tool_call"}
        calls = [p for p in parts if p["type"] == "tool_call"]
        return bool(calls) and all(c.get("id") in known for c in calls) and msg["role"] == "assistant"

    def tool(self, span: Span) -> None:
        a = span.attributes
        name = _first(a, "gen_ai.tool.name", "tool.name") or span.name.removeprefix("execute_tool ").strip() or "tool"
        call_id = _first(a, "gen_ai.tool.call.id", "tool_call.id", "tool.call.id")
        arguments = _first(
            a, "gen_ai.tool.call.arguments", "gen_ai.tool.args", "tool.parameters", "input.value", "input"
        )
        output = _first(a, "gen_ai.tool.call.result", "gen_ai.output", "output.value", "output")
        match = None
        if call_id:
            match = next((c for c in self.open_calls if c["id"] == str(call_id)), None)
        if match is None and not call_id:
            match = next((c for c in self.open_calls if c["name"] == name), None)
        if match is None:
            call = call_part(str(call_id) if call_id else None, name, arguments)
            self.emit(message("assistant", [call]))
            match = call
        error = span.error or "error.type" in a
        if error and not output:
            output = span.status_message or a.get("error.type") or "error"
        self.emit(message("tool", [result_part(match["id"], _json_text(output), error, name)]))


def _assemble(path: Path, key: str, spans: list[Span], extras: dict[str, Any]) -> Draft:
    spans.sort(key=lambda s: (s.start, s.end or 0))
    asm = _Assembler()
    models: Counter[str] = Counter()
    usage: Counter[str] = Counter()
    conventions: set[str] = set()
    agent_name = agent_input = agent_output = None
    providers: set[str] = set()
    for span in spans:
        a = span.attributes
        if any(k.startswith("gen_ai.") for k in a):
            conventions.add("gen_ai")
        if any(k.startswith(("llm.", "openinference.")) for k in a):
            conventions.add("openinference")
        for k in ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name"):
            if isinstance(a.get(k), str):
                models[a[k]] += 1
                break
        for k in ("gen_ai.provider.name", "gen_ai.system", "llm.provider"):
            if isinstance(a.get(k), str):
                providers.add(a[k])
        if span.is_agent:
            agent_name = agent_name or _first(a, "gen_ai.agent.name", "agent.name") or span.name or None
            agent_input = agent_input or _first(a, "input.value")
            agent_output = _first(a, "output.value") or agent_output
        if span.is_llm:
            usage.update(_usage(a))
            asm.llm(_inputs(span), _outputs(span))
        elif span.is_tool:
            asm.tool(span)
    if not asm.messages:
        raise _BadSpan("no model or tool spans with content in this trace")
    metadata: dict[str, Any] = {
        "source_format": "openinference" if conventions == {"openinference"} else "otel-genai",
        "file": str(path),
        "conventions": sorted(conventions),
        "spans": len(spans),
    }
    kind, _, ident = key.partition(":")
    if kind == "conversation":
        metadata["conversation_id"] = ident
    elif not ident.startswith("attrs:"):
        metadata["trace_id"] = ident
    if models:
        metadata["model"] = models.most_common(1)[0][0]
    if providers:
        metadata["provider"] = sorted(providers)[0]
    if agent_name:
        metadata["agent"] = agent_name
    if usage:
        metadata["usage"] = dict(usage)
    service = next((s.resource.get("service.name") for s in spans if s.resource.get("service.name")), None)
    if service:
        metadata["service"] = service
    starts = [s.start for s in spans if s.start]
    ends = [s.end for s in spans if s.end]
    if starts:
        metadata["started_at"] = parse_timestamp(min(starts))
    if starts and ends:
        metadata["duration_s"] = round((max(ends) - min(starts)) / 1e9, 3)
    if asm.synthetic:
        metadata["synthesized_call_ids"] = asm.synthetic
    final = None
    for msg in reversed(asm.messages):
        if msg["role"] == "assistant":
            texts = [p["text"] for p in msg["content"] if p["type"] == "text"]
            if texts:
                final = "\n".join(texts)
                break
    if "final_output" in extras and extras["final_output"] is not None:
        final = _json_text(extras["final_output"])
    elif agent_output and final is None:
        final = _json_text(agent_output)
    task = None
    if not any(m["role"] == "user" for m in asm.messages) and agent_input:
        task = _json_text(agent_input)
    ident_ok = kind == "conversation" or not ident.startswith("attrs:")
    return Draft(
        source=str(path),
        format=FORMAT,
        messages=asm.messages,
        task=task,
        final_answer=final,
        metadata=metadata,
        id=stable_id("otel", ident) if ident_ok else None,
        created_at=metadata.get("started_at"),
    )


def _usage(a: dict[str, Any]) -> dict[str, int]:
    """Token counts of one model span: GenAI names first, OpenInference's when those are absent."""
    out = {}
    for dst, keys in (
        ("input_tokens", ("gen_ai.usage.input_tokens", "llm.token_count.prompt")),
        ("output_tokens", ("gen_ai.usage.output_tokens", "llm.token_count.completion")),
    ):
        value = _first(a, *keys)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[dst] = int(value)
    return out


def _first(attributes: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value not in (None, ""):
            return value
    return None


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


# --- messages from one model span ------------------------------------------------------------------


def _inputs(span: Span) -> list[dict[str, Any]]:
    a = span.attributes
    out: list[dict[str, Any]] = []
    system = _loads(a.get("gen_ai.system_instructions"))
    if isinstance(system, str) and system.strip():
        out.append(message("system", [text_part(system)]))
    elif isinstance(system, list):
        parts = [text_part(str(p.get("content", ""))) for p in system if isinstance(p, dict) and p.get("content")]
        if parts:
            out.append(message("system", parts))
    raw = _loads(a.get("gen_ai.input.messages"))
    if raw is None:
        raw = _event_messages(span, "gen_ai.content.prompt", "gen_ai.prompt")
    if isinstance(raw, list):
        out.extend(_message_list(raw))
    elif raw is None:
        out.extend(_flat_messages(a, "llm.input_messages") or _flat_messages(a, "gen_ai.prompt"))
    return out


def _outputs(span: Span) -> list[dict[str, Any]]:
    a = span.attributes
    raw = _loads(a.get("gen_ai.output.messages"))
    if raw is None:
        raw = _event_messages(span, "gen_ai.content.completion", "gen_ai.completion")
    if isinstance(raw, list):
        return [m if m["role"] != "user" else {**m, "role": "assistant"} for m in _message_list(raw)]
    flat = _flat_messages(a, "llm.output_messages") or _flat_messages(a, "gen_ai.completion")
    if flat:
        return flat
    if "gen_ai.output" in a:  # any-agent: tool calls as [{tool.name, tool.args}] or the final text/JSON
        value = a["gen_ai.output"]
        parsed = _loads(value) if a.get("gen_ai.output.type") == "json" else value
        if isinstance(parsed, list) and parsed and all(isinstance(x, dict) and "tool.name" in x for x in parsed):
            calls = [call_part(None, x["tool.name"], x.get("tool.args")) for x in parsed]
            return [message("assistant", calls)]
        return [message("assistant", [text_part(_json_text(value))])] if _json_text(value).strip() else []
    return []


def _event_messages(span: Span, event_name: str, attribute: str) -> Any:
    for event in span.events:
        if event.get("name") == event_name and attribute in event.get("attributes", {}):
            return _loads(event["attributes"][attribute])
    return None


def _message_list(raw: list[Any]) -> list[dict[str, Any]]:
    """OTel GenAI `[{role, parts}]` messages, or Chat-like `[{role, content}]` ones."""
    out: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("parts"), list):
            role = item.get("role")
            role = (
                "system"
                if role in ("system", "developer")
                else role
                if role in ("user", "assistant", "tool")
                else "user"
            )
            parts = []
            for p in item["parts"]:
                if not isinstance(p, dict):
                    continue
                kind = p.get("type")
                if kind == "text":
                    parts.append(text_part(_json_text(p.get("content"))))
                elif kind in ("reasoning", "thinking"):
                    parts.append(reasoning_part(_json_text(p.get("content"))))
                elif kind == "tool_call":
                    parts.append(call_part(p.get("id"), p.get("name"), p.get("arguments")))
                elif kind == "tool_call_response":
                    parts.append(result_part(p.get("id"), _json_text(p.get("response") or p.get("result"))))
                elif kind:
                    parts.append(text_part(f"[{kind} part omitted by trace2skill import]"))
            if parts and all(p["type"] == "tool_result" for p in parts):
                role = "tool"
            out.append(message(role, parts))
        elif "role" in item:
            try:
                converted, _ = openai_chat.convert_messages([item])
            except ValueError:
                continue
            out.extend(converted)
    return out


def _flat_messages(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Regroup `<prefix>.{i}.message.role` style keys (OpenInference, Traceloop) into Chat messages."""
    rows: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, value in attributes.items():
        found = _FLAT_RE.match(key)
        if found and found.group(1) == prefix:
            rows[int(found.group(2))][found.group(3).removeprefix("message.")] = value
    chat: list[dict[str, Any]] = []
    for index in sorted(rows):
        row = rows[index]
        content: Any = row.get("content")
        texts = []
        j = 0
        while f"contents.{j}.message_content.type" in row or f"contents.{j}.message_content.text" in row:
            if row.get(f"contents.{j}.message_content.text") is not None:
                texts.append(str(row[f"contents.{j}.message_content.text"]))
            j += 1
        if content is None and texts:
            content = "\n".join(texts)
        calls = []
        k = 0
        while any(key.startswith(f"tool_calls.{k}.") for key in row):
            calls.append(
                {
                    "id": row.get(f"tool_calls.{k}.tool_call.id"),
                    "type": "function",
                    "function": {
                        "name": row.get(f"tool_calls.{k}.tool_call.function.name"),
                        "arguments": row.get(f"tool_calls.{k}.tool_call.function.arguments"),
                    },
                }
            )
            k += 1
        item: dict[str, Any] = {"role": row.get("role") or "user", "content": content}
        if calls:
            item["tool_calls"] = calls
        if row.get("tool_call_id") is not None:
            item["tool_call_id"] = str(row["tool_call_id"])
        if row.get("name") is not None:
            item["name"] = row["name"]
        chat.append(item)
    if not chat:
        return []
    try:
        converted, _ = openai_chat.convert_messages(chat)
    except ValueError:
        return []
    return converted
