from __future__ import annotations

from pathlib import Path
from typing import Any


def test_an_any_agent_fixture_becomes_one_conversation_with_paired_tools(
    samples: Path, imported: Any, ids: Any
) -> None:
    (t,) = imported(samples / "otel_genai" / "any-agent_exchange-rate_trace.json")
    assert t.task.startswith("Look up today's EUR to USD exchange rate")
    assert [m.role for m in t.messages] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [c.name for c in t.tool_calls] == ["get_exchange_rate", "write_file"]
    assert t.tool_calls[1].arguments == {"path": "rate.txt", "text": "1.0842"}
    call_ids, result_ids = ids(t)
    assert call_ids == result_ids
    assert "1.0842" in t.tool_results[0].output
    assert t.metadata["agent"] == "any_agent" and t.metadata["model"] == "openai/gpt-4.1-mini"
    assert t.metadata["spans"] == 6 and t.metadata["usage"] == {"input_tokens": 690, "output_tokens": 78}
    assert t.final_answer and "rate.txt" in t.final_answer


def test_one_fixture_span_in_both_conventions_gives_the_same_conversation(samples: Path, imported: Any) -> None:
    (genai,) = imported(samples / "otel_genai" / "otel_genai_wind_client_span.json")
    (oi,) = imported(samples / "otel_genai" / "openinference_wind_client_span.json")
    assert genai.messages == oi.messages
    assert [m.role for m in oi.messages] == ["user", "assistant", "tool", "assistant"]
    assert oi.tool_results[0].output == "gusts of 14 m/s from the north"
    assert oi.tool_results[0].tool_call_id == "call_oslo_1"
    assert oi.metadata["source_format"] == "openinference" and genai.metadata["source_format"] == "otel-genai"
    assert oi.metadata["usage"] == genai.metadata["usage"] == {"input_tokens": 64, "output_tokens": 21}


def test_a_lone_fixture_tool_span_imports_with_its_call_reconstructed(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / "otel_genai" / "otel_genai_wind_tool_span.json")
    (call,) = t.tool_calls
    (result,) = t.tool_results
    assert call.id == result.tool_call_id == "call_oslo_2" and call.name == "get_wind"
    assert call.arguments == {"city": "Bergen"} and "calm" in result.output
    assert t.metadata["task_missing"] is True


def test_any_agent_traces_become_one_conversation_with_paired_tools(traces: Path, imported: Any, ids: Any) -> None:
    for name in ("any-agent_OPENAI_trace.json", "any-agent_LANGCHAIN_trace.json"):
        (t,) = imported(traces / "otel_genai" / name)
        assert t.task.startswith("Find what year it is in the America/New_York timezone")
        assert [c.name for c in t.tool_calls] == ["get_current_time", "write_file"]
        call_ids, result_ids = ids(t)
        assert call_ids == result_ids
        assert "2025" in t.tool_results[0].output
        assert t.metadata["agent"] == "any_agent" and t.metadata["model"] == "mistral/mistral-small-latest"
        assert t.metadata["spans"] in (6, 7)
        assert t.final_answer and "steps" in t.final_answer


def test_the_same_span_in_both_conventions_gives_the_same_conversation(traces: Path, imported: Any) -> None:
    (genai,) = imported(traces / "otel_genai" / "openinference_otel_genai_client_span_tool_calls.json")
    (oi,) = imported(traces / "otel_genai" / "openinference_client_span_tool_calls.json")
    assert genai.messages == oi.messages
    assert [m.role for m in oi.messages] == ["user", "assistant", "tool", "assistant"]
    assert oi.tool_results[0].output == "rainy, 57°F" and oi.tool_results[0].tool_call_id == "1234"
    assert oi.metadata["source_format"] == "openinference" and genai.metadata["source_format"] == "otel-genai"
    assert oi.metadata["usage"] == {"input_tokens": 97, "output_tokens": 52}


def test_a_lone_tool_span_imports_with_its_call_reconstructed(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "otel_genai" / "openinference_otel_genai_tool_execution_span.json")
    (call,) = t.tool_calls
    (result,) = t.tool_results
    assert call.id == result.tool_call_id == "1234" and call.name == "get_weather"
    assert t.metadata["task_missing"] is True


def test_otlp_spans_group_by_conversation_across_traces(fixtures: Path, imported: Any) -> None:
    runs = {t.id: t for t in imported(fixtures / "otlp_export.json")}
    assert set(runs) == {"otel:conv-42", "otel:2cf7651916cd43dd8448eb211c80319e"}
    weather = runs["otel:conv-42"]
    assert [m.role for m in weather.messages] == ["system", "user", "assistant", "tool", "assistant"]
    (result,) = weather.tool_results
    assert result.is_error and result.output == "service unavailable"  # span status ERROR
    assert weather.metadata["usage"] == {"input_tokens": 60, "output_tokens": 14}
    assert weather.metadata["agent"] == "weather-bot" and weather.metadata["service"] == "weather-svc"
    hi = runs["otel:2cf7651916cd43dd8448eb211c80319e"]
    assert [m.text for m in hi.messages] == ["Say hi", "Hi!"]


def test_a_file_without_spans_is_an_error(tmp_path: Path, load: Any) -> None:
    path = tmp_path / "empty.json"
    path.write_text('{"resourceSpans": []}')
    (item,) = load(path, "otel")
    assert item.trajectory is None and "no spans found" in (item.error or "")
