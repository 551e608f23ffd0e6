from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

TAU_SAMPLE = "openai_chat/tau-bench_retail-sample.json"


def test_a_tau_bench_fixture_imports_one_run_per_entry_with_rewards_as_outcomes(samples: Path, imported: Any) -> None:
    runs = imported(samples / TAU_SAMPLE)
    assert [t.outcome.status for t in runs] == ["success", "failure", "failure"]
    assert [t.outcome.score for t in runs] == [1.0, 0.0, 0.0]
    assert {t.outcome.judged_by for t in runs} == {"source:tau-bench"}
    assert [(t.metadata["task_id"], t.metadata["trial"]) for t in runs] == [(3, 0), (5, 0), (5, 1)]
    assert len({t.id for t in runs}) == 3  # two trials of one task are two runs


def test_tau_bench_fixture_calls_are_paired_even_with_a_reused_id_and_error_strings_stay_errors(
    samples: Path, imported: Any, ids: Any
) -> None:
    first, second, third = imported(samples / TAU_SAMPLE)
    assert [c.name for c in first.tool_calls] == ["get_user_details", "get_order_details", "cancel_pending_order"]
    assert [r.name for r in first.tool_results] == ["get_user_details", "get_order_details", "cancel_pending_order"]
    assert len(second.tool_calls) == len(second.tool_results) == 4
    errors = [r.output for r in second.tool_results if r.is_error]
    assert errors == ["Error: order not found", "Error: non-pending order cannot be cancelled"]
    assert not any(r.is_error for r in first.tool_results)
    assert third.tool_calls == [] and third.tool_results == []
    for t in (first, second):
        call_ids, result_ids = ids(t)
        assert call_ids == result_ids


def test_tau_bench_fixture_turns_match_the_file_and_the_ground_truth_is_the_reference(
    samples: Path, imported: Any
) -> None:
    raw = json.loads((samples / TAU_SAMPLE).read_text())
    runs = imported(samples / TAU_SAMPLE)
    for entry, t in zip(raw, runs, strict=True):
        roles = Counter(m["role"] for m in entry["traj"])
        mine = Counter(m.role for m in t.messages)
        assert mine["assistant"] == roles["assistant"] and mine["user"] == roles["user"]
        assert t.task == next(m["content"] for m in entry["traj"] if m["role"] == "user")
        assert t.reference == entry["info"]["task"]
    assert runs[0].reference["actions"][0]["name"] == "cancel_pending_order"


def test_mini_swe_agent_fixtures_import_as_chat_bare_and_wrapped(samples: Path, imported: Any) -> None:
    (bare,) = imported(samples / "mini_swe_agent" / "mini-swe-agent_average.traj.json")
    assert [m.role for m in bare.messages] == ["system", "user"] + ["assistant", "user"] * 3 + ["assistant"]
    assert bare.task.startswith("Please solve this issue: GitHub Issue: ZeroDivisionError")
    (wrapped,) = imported(samples / "mini_swe_agent" / "mini-swe-agent_notes.trajectory.json")
    assert wrapped.metadata["agent"] == "mini-swe-agent" and wrapped.metadata["exit_status"] == "Submitted"
    assert wrapped.metadata["model_stats"]["api_calls"] == 2
    assert len(wrapped.messages) == 6
    assert wrapped.final_answer and "remember the milk" in wrapped.final_answer  # the submission


def test_tau_bench_imports_200_runs_with_rewards_as_outcomes(traces: Path, imported: Any) -> None:
    path = traces / "openai_chat" / "tau-bench_gpt-4o-airline.json"
    runs = imported(path)
    assert len(runs) == 200
    assert Counter(t.outcome.status for t in runs) == {"failure": 116, "success": 84}
    assert {t.outcome.judged_by for t in runs} == {"source:tau-bench"}
    assert {t.outcome.score for t in runs} == {0.0, 1.0}
    assert len({(t.metadata["task_id"], t.metadata["trial"]) for t in runs}) == 200


def test_tau_bench_tool_calls_are_paired_and_error_strings_stay_errors(traces: Path, imported: Any, ids: Any) -> None:
    runs = imported(traces / "openai_chat" / "tau-bench_gpt-4o-airline.json")
    assert sum(len(t.tool_calls) for t in runs) == 1164
    assert sum(len(t.tool_results) for t in runs) == 1164
    errors = [r for t in runs for r in t.tool_results if r.is_error]
    assert len(errors) == 73 and all(r.output.startswith("Error") for r in errors)
    for t in runs:
        call_ids, result_ids = ids(t)
        assert call_ids == result_ids
        assert all(r.name for r in t.tool_results)


def test_tau_bench_turns_match_the_file_and_the_ground_truth_is_kept_as_reference(traces: Path, imported: Any) -> None:
    raw = json.loads((traces / "openai_chat" / "tau-bench_gpt-4o-airline.json").read_text())
    runs = imported(traces / "openai_chat" / "tau-bench_gpt-4o-airline.json")
    for entry, t in zip(raw, runs, strict=True):
        roles = Counter(m["role"] for m in entry["traj"])
        mine = Counter(m.role for m in t.messages)
        assert mine["assistant"] == roles["assistant"] and mine["user"] == roles["user"]
        first_user = next(m["content"] for m in entry["traj"] if m["role"] == "user")
        assert t.task == first_user
        assert t.reference == entry["info"]["task"]
        assert "instruction" in t.reference


def test_mini_swe_agent_trajectories_import_as_chat(traces: Path, imported: Any) -> None:
    (bare,) = imported(traces / "mini_swe_agent" / "mini-swe-agent_github_issue.traj.json")
    assert len(bare.messages) == 22
    assert bare.task.startswith("Please solve this issue: GitHub Issue: SyntaxError")
    (wrapped,) = imported(traces / "mini_swe_agent" / "mini-swe-agent_hello-world.trajectory.json")
    assert wrapped.metadata["agent"] == "mini-swe-agent" and wrapped.metadata["exit_status"] == "Submitted"
    assert wrapped.metadata["model_stats"]["api_calls"] == 3
    assert len(wrapped.messages) == 8


def test_bad_records_are_named_by_line_and_the_good_ones_import(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "chat_records.jsonl")
    errors = {i.source.rsplit(":", 1)[1]: i.error for i in items if i.error}
    assert set(errors) == {"2", "3", "5"}
    assert errors["2"].startswith("invalid JSON")
    assert "unknown role 'wizard'" in errors["3"]
    good = [i.trajectory for i in items if i.trajectory]
    assert next(t.task for t in good) == "What is 2+2?"
    assert len(good) == 2


def test_unparseable_arguments_stay_raw_and_a_traceback_is_an_error(fixtures: Path, load: Any) -> None:
    first = next(i.trajectory for i in load(fixtures / "chat_records.jsonl") if i.trajectory)
    (call,) = first.tool_calls
    assert call.arguments == '{"expr": "2+2"'
    (result,) = first.tool_results
    assert result.is_error and result.tool_call_id == "c1"
    assert first.metadata["error_heuristic"]["matched"] == 1


def test_developer_role_custom_tools_and_images_are_mapped(fixtures: Path, load: Any) -> None:
    second = [i.trajectory for i in load(fixtures / "chat_records.jsonl") if i.trajectory][1]
    assert second.messages[0].role == "system" and second.messages[0].text == "Be brief."
    (call,) = second.tool_calls
    assert (call.name, call.arguments) == ("shell", "ls -la")
    assert "[image_url omitted by trace2skill import]" in second.messages[1].text
