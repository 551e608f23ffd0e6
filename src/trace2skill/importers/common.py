"""What every importer shares: drafts, part builders, per-record errors, and small parsing helpers.

An importer reads one file and yields `Draft`s (a trajectory still in its plain JSON form) and
`RecordError`s (one bad record, named by file and line). The pipeline in `trace2skill.importers`
then redacts, fits the draft to `models.LIMITS` and validates it. Working on plain dicts until the
end keeps truncation and redaction simple and lets a bad record fail alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trace2skill.models import LIMITS, SKILL_NAME_RE, json_too_deep

__all__ = [
    "RECORD_DEPTH",
    "SHAPE_ERRORS",
    "Draft",
    "ImportOptions",
    "RecordError",
    "call_part",
    "first_text",
    "guarded",
    "load_json_line",
    "message",
    "parse_arguments",
    "parse_timestamp",
    "read_lines",
    "reasoning_part",
    "result_part",
    "shape_error",
    "skill_name",
    "skill_text_digest",
    "stable_id",
    "text_part",
]


@dataclass
class RecordError:
    """One record that could not be imported; `source` is `path:line` or `path#index`."""

    source: str
    message: str


@dataclass
class Draft:
    """A trajectory in its public JSON form, before redaction, limits and validation."""

    source: str
    format: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    task: str | None = None
    outcome: dict[str, Any] | None = None
    final_answer: str | None = None
    reference: Any = None
    skill: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    created_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"task": self.task or "", "messages": self.messages, "metadata": self.metadata}
        for key in ("outcome", "final_answer", "reference", "skill", "id", "created_at"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.tags:
            data["tags"] = list(self.tags)
        return data


@dataclass(frozen=True)
class ImportOptions:
    """Options an importer may look at while reading (the rest is applied by the pipeline).

    `redactor` (a `redact.Redactor`) is for importers that shorten text while reading: a text must
    be redacted before it is cut, or half a secret could survive the cut.
    """

    skill: str | None = None
    redactor: Any = None


# --- parts and messages -------------------------------------------------------------------------


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def reasoning_part(text: str) -> dict[str, Any]:
    return {"type": "reasoning", "text": text}


def call_part(call_id: str | None, name: str | None, arguments: Any) -> dict[str, Any]:
    return {
        "type": "tool_call",
        "id": str(call_id) if call_id is not None else None,
        "name": str(name) if name else "unknown",
        "arguments": parse_arguments(arguments),
    }


def result_part(call_id: str | None, output: Any, is_error: bool = False, name: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {
        "type": "tool_result",
        "tool_call_id": str(call_id) if call_id is not None else None,
        "output": "" if output is None else output,
        "is_error": bool(is_error),
    }
    if name:
        part["name"] = str(name)
    return part


def message(role: str, parts: list[dict[str, Any]], timestamp: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role, "content": parts}
    if timestamp:
        msg["timestamp"] = timestamp
    return msg


SHAPE_ERRORS: tuple[type[Exception], ...] = (
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    ValueError,
    RecursionError,
)
"""What a reader raises when a record's fields have types it does not expect (a list where a name was, ...)."""


def shape_error(source: str, error: BaseException) -> RecordError:
    """One line for a record whose shape broke the reader; the record fails alone."""
    detail = " ".join(str(error).split())[:160]
    return RecordError(source, f"a field has a type this importer does not expect ({type(error).__name__}: {detail})")


def guarded(source: str, produce: Callable[..., Any], *args: Any) -> list[Draft | RecordError]:
    """What `produce(*args)` returns or yields for one record (or document), or one RecordError when the
    record's shape breaks the reader."""
    try:
        result = produce(*args)
        return [result] if isinstance(result, Draft | RecordError) else list(result)
    except SHAPE_ERRORS as e:
        return [shape_error(source, e)]


RECORD_DEPTH = 2 * LIMITS.json_depth
"""How deep one foreign record may nest: its format's own structure plus a trajectory's values."""


def load_json_line(line: str) -> Any:
    """One JSONL record; a record nested deeper than `RECORD_DEPTH` is a JSONDecodeError like any bad line,
    so it fails alone (Python's parser would raise RecursionError, and the walkers after it too)."""
    try:
        value = json.loads(line)
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {RECORD_DEPTH} levels", line, 0) from None
    if json_too_deep(value, RECORD_DEPTH):
        raise json.JSONDecodeError(f"nested deeper than {RECORD_DEPTH} levels", line, 0)
    return value


def parse_arguments(raw: Any) -> dict[str, Any] | str:
    """Tool-call arguments as a dict; anything else (invalid JSON, a list, a number) stays a raw string."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return raw
        return value if isinstance(value, dict) and not json_too_deep(value, LIMITS.json_depth) else raw
    return json.dumps(raw, ensure_ascii=False, default=str)


def first_text(messages: list[dict[str, Any]], role: str) -> str | None:
    """The first non-empty text of a message with `role`."""
    for msg in messages:
        if msg["role"] != role:
            continue
        texts = [p["text"] for p in msg["content"] if p.get("type") == "text" and p.get("text", "").strip()]
        if texts:
            return "\n".join(texts)
    return None


# --- small helpers ------------------------------------------------------------------------------

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def stable_id(prefix: str, *keys: str) -> str:
    """A deterministic trajectory id from a natural key, so importing the same session twice updates it.

    Readable (`claude-code:<session>`) when it fits the id rules, otherwise `<prefix>:<sha256[:40]>`.
    """
    readable = ":".join([prefix, *keys])
    if _ID_RE.match(readable):
        return readable
    digest = hashlib.sha256("\0".join(keys).encode("utf-8")).hexdigest()[:40]
    return f"{prefix}:{digest}"


def parse_timestamp(value: Any) -> str | None:
    """An ISO-8601 string for a timestamp given as ISO text or epoch seconds/ms/ns; None when unreadable."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            for scale in (1e9, 1e6, 1e3, 1.0):  # ns, us, ms, s: pick the one that lands after 1990
                seconds = number / scale
                if seconds > 631_152_000:
                    return datetime.fromtimestamp(seconds, UTC).isoformat()
            return None
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit():
                return parse_timestamp(int(text))
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.isoformat()
    except (ValueError, OverflowError, OSError):
        return None
    return None


def skill_name(raw: str | None) -> str | None:
    """A valid Agent Skills name from what a client logged (`plugin:name` keeps `name`), else None."""
    if not raw:
        return None
    name = str(raw).strip().split(":")[-1].strip().lower()
    return name if SKILL_NAME_RE.match(name) else None


def skill_text_digest(body: str) -> str:
    """sha256 of a SKILL.md body (the text after its frontmatter) as a client shows it to its model: trailing
    spaces of each line and blank lines at either end do not count, so a stored version's body and the same
    body copied into a transcript give one digest (`integrations.ingest.with_skill_versions`)."""
    lines = [line.rstrip() for line in body.replace("\r\n", "\n").split("\n")]
    return hashlib.sha256("\n".join(lines).strip("\n").encode("utf-8", "surrogatepass")).hexdigest()


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) for each non-blank line; invalid UTF-8 is replaced, never fatal."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line
