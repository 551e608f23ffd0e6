"""Structured output: the schema sent to providers, and turning an answer's text into a validated model.

Providers put the structured answer in `ChatResponse.text` as JSON (Anthropic's forced tool input is
serialised there too), so parsing and the bounded repair live here and in the middleware, once.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = [
    "answer_tool_name",
    "extract_json",
    "parse_answer",
    "schema_for",
    "strict_schema",
]

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)
_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")


@functools.lru_cache(maxsize=256)
def _schema_json(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema())


def schema_for(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, generated once per class (generation costs far more than a copy)."""
    return json.loads(_schema_json(model))


def answer_tool_name(name: str) -> str:
    """A name every provider accepts for the forced answer tool / json_schema name."""
    return (_TOOL_NAME.sub("_", name) or "answer")[:64]


def strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema in OpenAI strict form (closed objects, every property required), or None if it has open maps.

    Making defaulted properties required is safe for validation: the model must then state them.
    """
    out = copy.deepcopy(schema)
    try:
        _strict(out)
    except _NotStrict:
        return None
    return out


class _NotStrict(Exception):
    pass


def _strict(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _strict(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "object" or "properties" in node:
        extra = node.get("additionalProperties")
        if extra not in (None, False):
            raise _NotStrict
        node["additionalProperties"] = False
        props = node.get("properties") or {}
        node["properties"] = props
        node["required"] = list(props)
    if "default" in node and node["default"] is None:
        node.pop("default")
    for key, value in node.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            for sub in value.values():
                _strict(sub)
        elif isinstance(value, dict | list) and key not in ("enum", "const", "default", "examples"):
            _strict(value)


def extract_json(text: str) -> Any:
    """Parse an answer that should be JSON: accepts a ```json fence and prose around one object."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        return json.loads(stripped)
    except ValueError as first:
        start, end = stripped.find("{"), stripped.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(stripped[start : end + 1])
            except ValueError:
                pass
        raise first


def parse_answer(text: str, model: type[M]) -> tuple[M | None, str]:
    """(validated instance, "") or (None, a short precise description of what is wrong)."""
    if not text.strip():
        return None, "the answer was empty (no JSON object)"
    try:  # the usual case, a bare JSON object, parsed and validated in one pass
        return model.model_validate_json(text), ""
    except ValidationError:
        pass  # fences, prose around the object, or invalid: the path below says precisely what is wrong
    try:
        data = extract_json(text)
    except ValueError as e:
        return None, f"the answer is not valid JSON ({e})"
    try:
        return model.model_validate(data), ""
    except ValidationError as e:
        return None, describe(e)


def describe(error: ValidationError, limit: int = 5) -> str:
    """`field.path: message` for the first few errors, on one line."""
    parts = []
    for item in error.errors()[:limit]:
        loc = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{loc}: {item['msg']}")
    more = error.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
