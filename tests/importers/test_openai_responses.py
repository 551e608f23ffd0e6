from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any


def raw_items(path: Path) -> Counter[str]:
    return Counter(
        json.loads(line)["payload"].get("type")
        for line in path.read_text().splitlines()
        if json.loads(line)["type"] == "response_item"
    )


CODEX = "openai_responses/codex_rollout-fixture-two-turns.jsonl"


def test_a_codex_fixture_pairs_every_call_with_its_output_on_call_id(samples: Path, imported: Any, ids: Any) -> None:
    path = samples / CODEX
    items = raw_items(path)
    (t,) = imported(path)
    names = Counter(c.name for c in t.tool_calls)
    assert names == {"exec_command": 4, "apply_patch": 1, "web_search": 1}
    assert len(t.tool_calls) == items["function_call"] + items["custom_tool_call"] + items["web_search_call"]
    assert len(t.tool_results) == items["function_call_output"] + items["custom_tool_call_output"] == 5
    call_ids, result_ids = ids(t)
    assert result_ids <= call_ids  # every output found its call
    unanswered = [c for c in t.tool_calls if c.id not in result_ids]
    assert [c.name for c in unanswered] == ["web_search"]  # provider-side, no output item in the log


def test_a_codex_fixture_counts_each_request_once_and_marks_nonzero_exits_as_errors(
    samples: Path, imported: Any
) -> None:
    (t,) = imported(samples / CODEX)
    users = [m.text for m in t.messages if m.role == "user"]
    assert users == ["why does the cart test fail?", "fix it"]  # an event and an item each, kept once
    assert t.task == "why does the cart test fail?"
    errors = [r.tool_call_id for r in t.tool_results if r.is_error]
    assert errors == ["call_t1", "call_t4"]  # exit codes 1 and 2; exit code 0 and the patch are not errors
    system = [m.text for m in t.messages if m.role == "system"]
    assert any(s.startswith("# AGENTS.md instructions") for s in system)
    assert t.metadata["agent"] == "codex" and t.metadata["agent_version"] == "0.125.0"
    assert t.metadata["encrypted_reasoning_items"] == 2
    assert t.metadata["usage"]["total_tokens"] == 21480  # the last running total
    assert t.final_answer and t.final_answer.startswith("Fixed the guard in addItem")
    assert t.id == "codex:019e2000-aaaa-7bbb-8ccc-0123456789ab"


def test_a_fixture_rollout_with_only_event_requests_keeps_all_three(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / "openai_responses" / "codex_rollout-fixture-event-requests.jsonl")
    assert [m.text for m in t.messages if m.role == "user"] == [
        "count the markdown files",
        "which is the largest?",
        "open it",
    ]
    assert len(t.tool_calls) == len(t.tool_results) == 4
    assert [r.tool_call_id for r in t.tool_results if r.is_error] == ["call_e30"]  # exit code 127


def test_a_fixture_skill_read_is_noted_and_unanswered_spawn_calls_kept(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / "openai_responses" / "codex_turn-fixture-skill-and-spawn.jsonl")
    assert t.metadata["skills_loaded"] == ["release-notes"]
    assert t.skill == "release-notes"
    assert [c.name for c in t.tool_calls] == ["exec_command", "spawn_agent", "wait_agent"]
    assert [r.tool_call_id for r in t.tool_results] == ["call_skill"]


def test_a_codex_rollout_pairs_every_call_with_its_output_on_call_id(traces: Path, imported: Any, ids: Any) -> None:
    path = traces / "openai_responses" / "codex_rollout-2026-05-11T11-26-55-019e1625.jsonl"
    items = raw_items(path)
    (t,) = imported(path)
    names = Counter(c.name for c in t.tool_calls)
    assert names["apply_patch"] == items["custom_tool_call"] == 3
    assert names["web_search"] == items["web_search_call"] == 3
    assert len(t.tool_calls) == items["function_call"] + items["custom_tool_call"] + items["web_search_call"]
    assert len(t.tool_results) == items["function_call_output"] + items["custom_tool_call_output"] == 102
    call_ids, result_ids = ids(t)
    assert result_ids <= call_ids  # every output found its call
    unanswered = [c for c in t.tool_calls if c.id not in result_ids]
    assert {c.name for c in unanswered} == {"web_search"}  # provider-side, no output item in the log


def test_a_codex_rollout_counts_turns_once_and_marks_nonzero_exits_as_errors(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "openai_responses" / "codex_rollout-2026-05-11T11-26-55-019e1625.jsonl")
    users = [m.text for m in t.messages if m.role == "user"]
    assert users == ["show tools", "let's update the defailt context compart to 90 in env var"]  # not twice each
    assert t.task == "show tools"
    errors = [r for r in t.tool_results if r.is_error]
    assert len(errors) == 4 and all("Process exited with code" in r.output for r in errors)
    assert all("exited with code 0" not in r.output for r in errors)
    system = [m.text for m in t.messages if m.role == "system"]
    assert any(s.startswith("# AGENTS.md instructions") for s in system)
    assert t.metadata["agent"] == "codex" and t.metadata["agent_version"] == "0.125.0"
    assert t.metadata["encrypted_reasoning_items"] == 25
    assert t.metadata["usage"]["total_tokens"] > 0
    assert t.final_answer and t.final_answer.startswith("Implemented the default context compaction")
    assert t.id == "codex:019e1625-789d-76c0-80ab-3724b5ddb799"


def test_a_rollout_with_only_event_user_messages_keeps_all_three_requests(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "openai_responses" / "codex_rollout-2026-05-11T13-28-45-019e1695.jsonl")
    assert sum(1 for m in t.messages if m.role == "user") == 3
    assert len(t.tool_calls) == len(t.tool_results) == 38
    assert sum(r.is_error for r in t.tool_results) == 1


def test_skill_reads_are_noted_and_unanswered_spawn_calls_kept(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "openai_responses" / "codex_turn-spawn-skill.jsonl")
    assert t.metadata["skills_loaded"] == ["brainstorming"]
    assert t.skill == "brainstorming"
    assert [c.name for c in t.tool_calls] == ["exec_command", "spawn_agent", "wait_agent"]
    assert [r.tool_call_id for r in t.tool_results] == ["call_skill1"]


def test_responses_items_keep_reasoning_summaries_raw_arguments_and_custom_tool_errors(
    fixtures: Path, imported: Any
) -> None:
    (t,) = imported(fixtures / "responses_request.json")
    assert t.task == "Rename foo to bar in app.py"
    assert t.messages[0].role == "system"
    reasoning = [p.text for m in t.messages for p in m.content if p.type == "reasoning"]
    assert reasoning == ["Need to find foo first."]
    calls = {c.id: c for c in t.tool_calls}
    assert set(calls) == {"call_A", "call_B", "call_C"}  # call_id, never the item id
    assert calls["call_B"].arguments == "{not json"
    assert calls["call_C"].arguments.startswith("*** Begin Patch")
    results = {r.tool_call_id: r for r in t.tool_results}
    assert results["call_A"].output == "app.py:1:foo" and not results["call_A"].is_error
    assert results["call_C"].is_error  # exit_code 1 in the custom tool's metadata
    assert t.metadata["encrypted_reasoning_items"] == 1
    assert t.final_answer == "The patch did not apply; foo is still there."
