from __future__ import annotations

import json
from typing import Any

from trace2skill.importers.common import Draft
from trace2skill.importers.limits import fit_to_limits, json_size, truncate_text
from trace2skill.importers.pipeline import finish
from trace2skill.models import LIMITS, Trajectory


def base(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"task": "t", "messages": messages, "metadata": {}, **extra}


def result(output: Any, call_id: str = "c1") -> dict[str, Any]:
    return {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": call_id, "output": output}]}


def test_truncation_keeps_head_and_tail_around_a_visible_marker() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    cut = truncate_text(text, 1_000)
    assert len(cut) <= 1_000
    assert cut.startswith("HEAD") and cut.endswith("TAIL")
    assert "trace2skill import:" in cut and "of 10,008 characters omitted" in cut


def test_a_tool_output_over_the_limit_is_cut_recorded_and_then_valid() -> None:
    data = fit_to_limits(base([result("E" * (LIMITS.json_value_bytes + 5000))]))
    output = data["messages"][0]["content"][0]["output"]
    assert json_size(output) <= LIMITS.json_value_bytes and "characters omitted" in output
    note = data["metadata"]["truncated"]
    assert note["count"] == 1 and note["fields"][0]["where"] == "messages[0].content[0].output"
    Trajectory.model_validate(data)


def test_structured_output_and_arguments_over_the_limit_become_shortened_json_text() -> None:
    big = {"rows": ["r" * 1000] * 1500}
    call = {"role": "assistant", "content": [{"type": "tool_call", "id": "c1", "name": "q", "arguments": big}]}
    data = fit_to_limits(base([call, result(big)]))
    assert isinstance(data["messages"][0]["content"][0]["arguments"], str)
    assert isinstance(data["messages"][1]["content"][0]["output"], str)
    assert data["metadata"]["truncated"]["count"] == 2
    Trajectory.model_validate(data)


def test_a_long_text_part_and_task_are_cut_to_their_limits() -> None:
    data = fit_to_limits(
        {
            "task": "T" * (LIMITS.task_chars + 1),
            "messages": [{"role": "user", "content": [{"type": "text", "text": "u" * (LIMITS.text_chars * 2)}]}],
            "metadata": {},
        }
    )
    assert LIMITS.task_chars - 100 < len(data["task"]) <= LIMITS.task_chars and "omitted" in data["task"]
    assert len(data["messages"][0]["content"][0]["text"]) <= LIMITS.text_chars
    Trajectory.model_validate(data)


def test_too_many_messages_keep_both_ends_with_one_marker_message() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": f"m{i}"}]} for i in range(LIMITS.messages + 500)]
    data = fit_to_limits(base(messages))
    kept = data["messages"]
    assert len(kept) == LIMITS.messages
    assert kept[0]["content"][0]["text"] == "m0" and kept[-1]["content"][0]["text"] == f"m{LIMITS.messages + 499}"
    marker = [m for m in kept if "messages omitted" in m["content"][0]["text"]]
    assert len(marker) == 1 and "501 of 2,500 messages omitted" in marker[0]["content"][0]["text"]
    Trajectory.model_validate(data)


def test_a_message_with_too_many_parts_is_split_without_losing_any() -> None:
    parts = [{"type": "text", "text": str(i)} for i in range(LIMITS.parts_per_message * 2 + 1)]
    data = fit_to_limits(base([{"role": "assistant", "content": parts}]))
    assert [len(m["content"]) for m in data["messages"]] == [500, 500, 1]
    assert "truncated" not in data["metadata"]
    Trajectory.model_validate(data)


def test_the_whole_run_is_fitted_by_cutting_the_largest_outputs_first() -> None:
    small = [result("ok", f"s{i}") for i in range(50)]
    large = [result("L" * 900_000, f"l{i}") for i in range(12)]
    data = fit_to_limits(base(small + large))
    assert json_size(data) <= LIMITS.trajectory_bytes
    assert all(m["content"][0]["output"] == "ok" for m in data["messages"][:50])
    assert all("characters omitted" in m["content"][0]["output"] for m in data["messages"][50:])
    Trajectory.model_validate(data)


def test_oversized_metadata_values_are_replaced_with_a_note() -> None:
    data = fit_to_limits(base([], metadata={"huge": ["v" * 100] * 1000, "small": "keep"}))
    assert data["metadata"]["small"] == "keep"
    assert "metadata value of" in data["metadata"]["huge"]
    assert json_size(data["metadata"]) <= LIMITS.metadata_bytes
    Trajectory.model_validate(data)


def test_a_record_that_cannot_be_made_valid_is_a_per_record_error() -> None:
    draft = Draft(
        source="f.jsonl:7",
        format="openai-chat",
        messages=[{"role": "narrator", "content": [{"type": "text", "text": "hi"}]}],
    )
    item = finish(draft)
    assert item.trajectory is None and item.source == "f.jsonl:7"
    assert item.error and "messages.0.role" in item.error


def test_finish_fills_a_missing_task_from_the_first_reply_and_says_so() -> None:
    draft = Draft(
        source="x", format="otel", messages=[{"role": "assistant", "content": [{"type": "text", "text": "Hi"}]}]
    )
    item = finish(draft)
    assert item.trajectory is not None
    assert item.trajectory.task == "[no user request recorded in this otel log] The agent's first reply: Hi"
    assert item.trajectory.metadata["task_missing"] is True
    assert json.loads(item.trajectory.model_dump_json())["id"].startswith("otel:")
