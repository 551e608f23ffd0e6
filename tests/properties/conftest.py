"""What the property tests share: strategies for any JSON value, JSON-ish text, nesting far too deep,
and random mutations of a valid document, plus the two budgets every property runs with.

Each property runs twice: `FAST` (a few hundred inputs) in the normal suite, and `SLOW` (10,000
inputs) marked `slow`. The property is always the product rule: bad input gets one clear line from
trace2skill's own errors (`Trace2SkillError`) and nothing else escapes.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=_QUIET, database=None)
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=_QUIET, database=None)


def slow(test: Any) -> Any:
    """Marks a 10,000-input property `slow` and gives it an hour (the suite's 300 s is for one example's worth)."""
    return pytest.mark.timeout(3600)(pytest.mark.slow(test))


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "\x00", "\ud800", "user", "assistant", "tool", "text", "tool_call", "failure", "2026-01-02"]
    ),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=25,
)


def nest(depth: int, kind: str, leaf: Any = 1) -> Any:
    """A value `depth` levels deep: lists, objects, or both in turn (built without recursion)."""
    value = leaf
    for level in range(depth):
        value = [value] if kind == "list" or (kind == "mixed" and level % 2) else {"k": value}
    return value


def deep_values(max_depth: int = 3_000) -> st.SearchStrategy[Any]:
    return st.builds(nest, st.integers(min_value=60, max_value=max_depth), st.sampled_from(["list", "dict", "mixed"]))


DEEP_VALUES = deep_values()


def _containers(value: Any, max_depth: int = 12) -> list[tuple[Any, ...]]:
    """Paths to the lists and objects inside `value`, down to `max_depth` (a nested-too-deep value inserted
    earlier is a leaf here), in a fixed order (depth first, as the document is written)."""
    found: list[tuple[Any, ...]] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if not isinstance(item, dict | list) or len(where) > max_depth:
            continue
        found.append(where)
        children = item.items() if isinstance(item, dict) else enumerate(item)
        stack.extend((v, (*where, k)) for k, v in reversed(list(children)))
    return found


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, seed: Any, max_changes: int = 4, max_depth: int = 3_000) -> Any:
    """`seed` after a few random changes: a text replaced by any text, a field replaced by any JSON value (or
    one nested too deep), a key dropped, a key added, a list item removed or repeated."""
    value = copy.deepcopy(seed)
    for _ in range(draw(st.integers(min_value=0, max_value=max_changes))):
        paths = _containers(value)
        if not paths:
            break
        container = _at(value, draw(st.sampled_from(paths)))
        op = draw(
            st.sampled_from(["retext", "retext", "retext", "replace", "replace", "drop", "add", "deep", "repeat"])
        )
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        if op == "add" or not keys:
            if isinstance(container, dict):
                container[draw(st.text(max_size=12))] = draw(JSON_VALUES)
            else:
                container.append(draw(JSON_VALUES))
            continue
        key = draw(st.sampled_from(keys))
        if op == "retext" and isinstance(container[key], str):  # same type, any text: keeps many documents valid
            container[key] = draw(st.text(max_size=60))
        elif op in ("replace", "retext"):
            container[key] = draw(JSON_VALUES)
        elif op == "deep":
            container[key] = draw(deep_values(max_depth))
        elif op == "drop":
            del container[key]
        elif isinstance(container, list):
            container.append(container[key])  # the same object again: JSON writes it twice
    return value


def dumps(value: Any) -> str:
    """JSON text as Python writes it (NaN and Infinity included); deep values go through a non-recursive writer."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        return "[" * 5_000 + "]" * 5_000


@st.composite
def json_texts(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> str:
    """Text a user might hand over: a document's JSON, cut short, with junk around it, or not JSON at all."""
    text = dumps(draw(documents))
    how = draw(st.sampled_from(["whole"] * 6 + ["cut", "junk", "raw", "deep"]))
    if how == "cut":
        return text[: draw(st.integers(min_value=0, max_value=max(0, len(text) - 1)))]
    if how == "junk":
        return draw(st.text(max_size=5)) + text + draw(st.text(max_size=5))
    if how == "raw":
        return draw(st.text(max_size=200))
    if how == "deep":
        depth = draw(st.integers(min_value=100, max_value=50_000))
        return "[" * depth + "]" * depth
    return text


VALID_TRAJECTORY: dict[str, Any] = {
    "task": "Sum column B of sales.xlsx into B20",
    "skill": "xlsx",
    "messages": [
        {"role": "user", "content": "Sum column B of sales.xlsx into B20"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll inspect the sheet first."},
                {"type": "reasoning", "text": "B has numbers"},
                {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "python inspect.py"}},
            ],
        },
        {
            "role": "tool",
            "content": [
                {"type": "tool_result", "tool_call_id": "c1", "output": "KeyError: 'Sheet1'", "is_error": True}
            ],
        },
        {"role": "assistant", "content": "Done: B20 = SUM(B2:B19).", "timestamp": "2026-01-02T03:04:05Z"},
    ],
    "outcome": {"status": "failure", "score": 0.0, "feedback": "B20 empty in output", "judged_by": "human"},
    "final_answer": "B20 = SUM(B2:B19)",
    "reference": {"cells": {"B20": 42}},
    "artifacts": [{"name": "out.txt", "content": "aGk=", "encoding": "base64", "media_type": "text/plain"}],
    "tags": ["spreadsheet"],
    "metadata": {"model": "claude-sonnet-4-5", "agent": "claude-code"},
}
"""The public contract's example (docs/ARCHITECTURE.md) with every optional field set."""


_TEXT = st.text(max_size=40)
_PARTS = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _TEXT),
    st.builds(lambda t: {"type": "reasoning", "text": t}, _TEXT),
    st.builds(
        lambda i, n, a: {"type": "tool_call", "id": i, "name": n, "arguments": a},
        st.text(min_size=1, max_size=10),
        st.text(min_size=1, max_size=20),
        st.one_of(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3), _TEXT),
    ),
    st.builds(
        lambda i, o, e: {"type": "tool_result", "tool_call_id": i, "output": o, "is_error": e},
        st.text(max_size=10),
        st.one_of(_TEXT, JSON_VALUES),
        st.booleans(),
    ),
)
_MESSAGES = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["system", "user", "assistant", "tool"]),
    st.one_of(_TEXT, st.lists(_PARTS, max_size=4)),
)
VALID_TRAJECTORIES = st.fixed_dictionaries(
    {"task": st.text(min_size=1, max_size=60), "messages": st.lists(_MESSAGES, max_size=6)},
    optional={
        "skill": st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
        "outcome": st.fixed_dictionaries(
            {"status": st.sampled_from(["success", "failure", "partial", "unknown"])},
            optional={"score": st.floats(allow_nan=False, allow_infinity=False), "feedback": _TEXT},
        ),
        "final_answer": _TEXT,
        "reference": JSON_VALUES,
        "tags": st.lists(st.text(min_size=1, max_size=10), max_size=3),
        "metadata": st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
    },
)
"""Trajectories built from the contract's parts with random content: most of them valid."""


def trajectory_inputs(max_depth: int = 3_000) -> st.SearchStrategy[Any]:
    """Decoded trajectories as an agent might send them: mostly almost right, sometimes anything at all."""
    built = VALID_TRAJECTORIES.flatmap(lambda t: mutated(t, max_changes=1, max_depth=max_depth))
    light = mutated(VALID_TRAJECTORY, max_changes=2, max_depth=max_depth)
    heavy = mutated(VALID_TRAJECTORY, max_changes=6, max_depth=max_depth)
    return st.one_of(built, built, light, heavy, JSON_VALUES, deep_values(max_depth))


TRAJECTORY_INPUTS = trajectory_inputs()
SENDABLE_DEPTH = 100
"""Arguments nested deeper than twice this an MCP client refuses to serialise (pydantic's limit, about 250):
they never reach a server."""
