"""Every importer under generated files: real records of each format, mutated, written as JSONL or JSON.

Each file goes through the whole import (the format's reader, then redaction, limits and validation),
once with its format named and once detected. Whatever is in the file, the answer is trajectories
and one-line errors per bad record or file; no exception escapes but trace2skill's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from trace2skill.errors import Trace2SkillError
from trace2skill.importers import FORMATS, import_file
from trace2skill.importers.redact import Redactor

from .conftest import FAST, SLOW, dumps, mutated, slow

FIXTURES = Path(__file__).parents[1] / "importers" / "fixtures"

ATIF: dict[str, Any] = {
    "schema_version": "ATIF-v1.5",
    "session_id": "s-1",
    "agent": {"name": "terminus", "version": "2", "model_name": "openai/gpt-4o"},
    "steps": [
        {"step_id": 1, "source": "user", "message": "Create hello.txt", "timestamp": "2026-01-02T03:04:05Z"},
        {
            "step_id": 2,
            "source": "agent",
            "message": "Writing it.",
            "reasoning_content": "echo will do",
            "tool_calls": [
                {"tool_call_id": "c1", "function_name": "bash", "arguments": {"cmd": "echo hi > hello.txt"}}
            ],
            "observation": {"results": [{"source_call_id": "c1", "content": "done"}]},
        },
        {"step_id": 3, "source": "agent", "message": [{"type": "text", "text": "Created."}]},
    ],
    "final_metrics": {"total_prompt_tokens": 10, "total_cost_usd": 0.01},
}


def _jsonl(name: str) -> list[Any]:
    values = []
    for line in (FIXTURES / name).read_text().splitlines():
        try:
            values.append(json.loads(line))
        except ValueError:
            continue
    return values


SEEDS: dict[str, list[Any]] = {
    "claude-code": _jsonl("claude_code_branches.jsonl") + _jsonl("claude_code_skill_files.jsonl"),
    "openai-chat": _jsonl("chat_records.jsonl"),
    "openai-responses": [json.loads((FIXTURES / "responses_request.json").read_text())],
    "anthropic-messages": [json.loads((FIXTURES / "anthropic_exchange.json").read_text())],
    "otel": [json.loads((FIXTURES / "otlp_export.json").read_text())],
    "atif": [ATIF],
    "trace2skill": [  # our own JSONL, as `traces export` writes it
        {
            "id": "t_seed",
            "task": "Sum column B",
            "skill": "xlsx",
            "messages": [
                {"role": "user", "content": "Sum column B"},
                {"role": "assistant", "content": [{"type": "tool_call", "id": "c1", "name": "bash", "arguments": {}}]},
                {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": "c1", "output": "42"}]},
            ],
            "outcome": {"status": "success", "score": 1.0},
            "tags": ["t"],
            "created_at": "2026-01-02T03:04:05Z",
        }
    ],
}
assert set(SEEDS) == set(FORMATS), "a new importer needs a seed here"


@st.composite
def files(draw: st.DrawFn, fmt: str) -> tuple[str, str]:
    """(suffix, text): the format's records after a few mutations, as JSONL, a JSON array or one document."""
    records = draw(mutated(SEEDS[fmt], max_changes=6))
    if not isinstance(records, list):
        records = [records]
    shape = draw(st.sampled_from(["jsonl", "jsonl", "array", "document"]))
    if shape == "jsonl":
        return ".jsonl", "\n".join(dumps(r) for r in records) + draw(st.sampled_from(["\n", "", "\n\n{"]))
    if shape == "array":
        return ".json", dumps(records)
    return ".json", dumps(records[0] if records else {})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("imports")


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


def imports_cleanly(fmt: str, file: tuple[str, str], workdir: Path, redactor: Redactor) -> None:
    suffix, text = file
    path = workdir / f"run{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    for named in (fmt, "auto"):
        try:
            items = list(import_file(path, named, redactor=redactor))
        except Trace2SkillError as e:
            assert "\n" not in str(e)
            continue
        event(f"{named}: {sum(1 for i in items if i.trajectory)} imported, {sum(1 for i in items if i.error)} refused")
        for item in items:
            assert (item.trajectory is None) != (item.error is None), item
            if item.error is not None:
                assert item.error and "\n" not in item.error, item.error


def _property(fmt: str, budget: Any) -> Callable[..., None]:
    @budget
    @given(file=files(fmt))
    def test(file: tuple[str, str], workdir: Path, redactor: Redactor) -> None:
        imports_cleanly(fmt, file, workdir, redactor)

    return test


test_claude_code_files_import_or_give_one_line_errors = _property("claude-code", FAST)
test_openai_chat_files_import_or_give_one_line_errors = _property("openai-chat", FAST)
test_openai_responses_files_import_or_give_one_line_errors = _property("openai-responses", FAST)
test_anthropic_messages_files_import_or_give_one_line_errors = _property("anthropic-messages", FAST)
test_otel_files_import_or_give_one_line_errors = _property("otel", FAST)
test_atif_files_import_or_give_one_line_errors = _property("atif", FAST)

test_ten_thousand_claude_code_files = slow(_property("claude-code", SLOW))
test_ten_thousand_openai_chat_files = slow(_property("openai-chat", SLOW))
test_ten_thousand_openai_responses_files = slow(_property("openai-responses", SLOW))
test_ten_thousand_anthropic_messages_files = slow(_property("anthropic-messages", SLOW))
test_ten_thousand_otel_files = slow(_property("otel", SLOW))
test_ten_thousand_atif_files = slow(_property("atif", SLOW))
