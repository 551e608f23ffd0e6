from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_atif_steps_of_the_fixtures_map_to_messages_with_results_paired(samples: Path, imported: Any, ids: Any) -> None:
    for path in sorted((samples / "harbor_atif").glob("*.json")):
        doc = json.loads(path.read_text())
        (t,) = imported(path)
        expected_calls = sum(len(s.get("tool_calls") or []) for s in doc["steps"])
        assert len(t.tool_calls) == expected_calls, path.name
        call_ids, result_ids = ids(t)
        assert result_ids == call_ids, path.name
        assert t.metadata["schema_version"] == "ATIF-v1.5" and t.metadata["agent"] == "terminus-2"


def test_parser_feedback_in_a_fixture_becomes_one_user_message_and_the_cost_is_kept(
    samples: Path, imported: Any
) -> None:
    (t,) = imported(samples / "harbor_atif" / "terminus_greeting_parse-error.trajectory.json")
    assert [m.role for m in t.messages] == ["user", "assistant", "user", "assistant", "tool", "assistant", "tool"]
    feedback = [m.text for m in t.messages if m.role == "user" and "parsing errors" in m.text]
    assert len(feedback) == 1
    assert t.metadata["model"] == "openai/gpt-4o-mini" and t.metadata["usage"]["total_cost_usd"] == 0.00033
    assert [c.name for c in t.tool_calls] == ["bash_command", "bash_command", "mark_task_complete"]


def test_subagent_references_of_a_fixture_are_listed_in_order(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / "harbor_atif" / "terminus_log-lines_summarized.trajectory.json")
    paths = [r["trajectory_path"] for r in t.metadata["subagent_refs"]]
    assert paths == ["trajectory.summary.json", "trajectory.questions.json"]
    assert [m.role for m in t.messages].count("system") == 1  # the handoff step stays in the conversation


def test_atif_steps_map_to_messages_with_results_paired(traces: Path, imported: Any, ids: Any) -> None:
    folder = traces / "harbor_atif"
    for path in sorted(folder.rglob("*.json")):
        doc = json.loads(path.read_text())
        (t,) = imported(path)
        expected_calls = sum(len(s.get("tool_calls") or []) for s in doc["steps"])
        assert len(t.tool_calls) == expected_calls, path.name
        call_ids, result_ids = ids(t)
        assert result_ids <= call_ids, path.name
        assert t.metadata["schema_version"] == "ATIF-v1.5"


def test_parser_feedback_without_a_call_becomes_a_user_message(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "harbor_atif" / "harbor_terminus2_hello-world-invalid-json.trajectory.json")
    feedback = [m.text for m in t.messages if m.role == "user" and "parsing errors" in m.text]
    assert len(feedback) == 1
    assert t.metadata["model"] == "openai/gpt-4o" and t.metadata["usage"]["total_cost_usd"] > 0


def test_subagent_references_are_listed(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "harbor_atif" / "terminus2_context-summarization" / "trajectory.json")
    paths = [r["trajectory_path"] for r in t.metadata["subagent_refs"]]
    assert paths == [
        "trajectory.summarization-1-summary.json",
        "trajectory.summarization-1-questions.json",
        "trajectory.summarization-1-answers.json",
    ]
