from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trace2skill.importers.anthropic_messages import assemble_sse


def test_a_streamed_response_reassembles_to_the_blocks_of_the_same_answer_sent_whole(samples: Path) -> None:
    folder = samples / "anthropic_messages"
    plain = json.loads(json.loads((folder / "anthropic_response.json").read_text())["body"])
    streamed = assemble_sse(json.loads((folder / "anthropic_response_streamed.json").read_text())["body"])
    assert [b["type"] for b in streamed["content"]] == [b["type"] for b in plain["content"]]
    assert streamed["content"][0]["thinking"] == plain["content"][0]["thinking"]
    assert streamed["content"][0]["signature"] == plain["content"][0]["signature"]
    assert streamed["content"][1]["text"] == plain["content"][1]["text"]
    assert streamed["content"][2]["input"] == plain["content"][2]["input"] == {"location": "Lisbon"}
    assert streamed["stop_reason"] == "tool_use"
    assert streamed["usage"]["output_tokens"] == 87  # message_delta usage merged over message_start's 3
    assert streamed["usage"]["input_tokens"] == 412


def test_a_recorded_response_imports_with_its_thinking_text_and_tool_use(samples: Path, imported: Any) -> None:
    folder = samples / "anthropic_messages"
    for name in ("anthropic_response.json", "anthropic_response_streamed.json"):
        (t,) = imported(folder / name)
        (msg,) = t.messages
        assert [p.type for p in msg.content] == ["reasoning", "text", "tool_call"], name
        (call,) = t.tool_calls
        assert (call.name, call.arguments) == ("get_weather", {"location": "Lisbon"}), name
        assert t.metadata["stop_reason"] == "tool_use" and t.metadata["model"] == "claude-sonnet-4-6", name
        assert t.metadata["task_missing"] is True  # a response alone holds no request
    (streamed,) = imported(folder / "anthropic_response_streamed.json")
    assert streamed.metadata["streamed"] is True
    (answer,) = imported(folder / "anthropic_thinking_answer.json")
    assert [p.type for p in answer.messages[0].content] == ["reasoning", "text"]
    assert answer.final_answer == "27 × 453 = 12,231."


def test_a_streamed_response_reassembles_to_the_same_blocks_as_the_plain_one(traces: Path) -> None:
    folder = traces / "anthropic_messages"
    plain = json.loads(json.loads((folder / "openinference_reasoning-tool-use-non-streaming.json").read_text())["body"])
    streamed = assemble_sse(
        json.loads((folder / "openinference_reasoning-tool-use-streaming.json").read_text())["body"]
    )
    assert [b["type"] for b in streamed["content"]] == [b["type"] for b in plain["content"]]
    assert streamed["content"][0]["thinking"] == plain["content"][0]["thinking"]
    assert streamed["content"][0]["signature"]
    assert streamed["content"][2]["input"] == plain["content"][2]["input"] == {"location": "San Francisco"}
    assert streamed["stop_reason"] == "tool_use"
    assert streamed["usage"]["output_tokens"] > 3  # message_delta usage merged over message_start's


def test_every_recorded_response_imports_with_its_thinking_and_tool_use(traces: Path, imported: Any) -> None:
    folder = traces / "anthropic_messages"
    for name in (
        "openinference_reasoning-tool-use-non-streaming.json",
        "openinference_reasoning-tool-use-streaming.json",
    ):
        (t,) = imported(folder / name)
        (msg,) = t.messages
        assert [p.type for p in msg.content] == ["reasoning", "text", "tool_call"]
        (call,) = t.tool_calls
        assert (call.name, call.arguments) == ("get_weather", {"location": "San Francisco"})
        assert t.metadata["stop_reason"] == "tool_use" and t.metadata["model"] == "claude-sonnet-4-6"
        assert t.metadata["task_missing"] is True  # a response alone holds no request
    (streamed,) = imported(folder / "openinference_reasoning-tool-use-streaming.json")
    assert streamed.metadata["streamed"] is True
    for name in ("openinference_thinking-multi-turn-0.json", "openinference_thinking-multi-turn-1.json"):
        (t,) = imported(folder / name)
        assert [p.type for p in t.messages[0].content] == ["reasoning", "text"]
        assert t.final_answer and "12,231" in t.final_answer


def test_an_exchange_keeps_tool_errors_and_splits_results_from_user_text(fixtures: Path, imported: Any) -> None:
    (t,) = imported(fixtures / "anthropic_exchange.json")
    assert [m.role for m in t.messages] == ["system", "user", "assistant", "tool", "user", "assistant"]
    (result,) = t.tool_results
    assert result.is_error and result.tool_call_id == "toolu_1"
    assert result.output == "rm: tmp.log: Permission denied"
    assert t.messages[4].text == "Try sudo?"
    assert t.metadata["redacted_thinking_blocks"] == 1
    assert t.final_answer == "I won't use sudo without your approval."


def test_an_error_response_is_a_record_error(tmp_path: Path, load: Any) -> None:
    path = tmp_path / "err.json"
    path.write_text(
        json.dumps(
            {
                "status": 529,
                "headers": {},
                "body": json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            }
        )
    )
    (item,) = load(path, "anthropic-messages")
    assert item.trajectory is None and "API error" in (item.error or "")
