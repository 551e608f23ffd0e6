"""Structured output: validation into pydantic, one bounded repair round, format fallback, schema handling."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field
from tests.doubles.llmserver import Fault
from tests.doubles.scripted import ScriptedProvider

from trace2skill.errors import ProviderError
from trace2skill.llm import LLM, ChatMessage, ChatRequest, ChatResponse
from trace2skill.llm.structured import extract_json, parse_answer, strict_schema

pytestmark = pytest.mark.anyio


class Finding(BaseModel):
    title: str = Field(max_length=80)
    severity: int = Field(ge=1, le=5)
    tags: list[str] = Field(default_factory=list, max_length=5)


REQUEST = ChatRequest(system="Find one problem.", messages=[ChatMessage(role="user", content="trace...")])
GOOD = {"title": "anchor missing", "severity": 3, "tags": ["apply"]}


async def test_malformed_json_is_repaired_by_one_more_call_that_names_the_problem(server, make_llm, protocol):
    records: list[dict[str, Any]] = []
    server.script(Fault.malformed(), GOOD)
    llm = make_llm(protocol, call_log=records.extend)
    finding, response = await llm.structured(REQUEST, Finding)
    await llm.aclose()
    assert finding == Finding(**GOOD)
    assert server.count == 2
    repair = server.requests[1]
    assert "not valid JSON" in repair.last_user_text
    assert repair.schema is not None  # the repair still asks for the schema
    assert response.usage.input_tokens == sum(r["input_tokens"] for r in records)  # usage of both calls
    assert response.cost_usd == pytest.approx(sum(r["cost_usd"] for r in records))
    assert [r["outcome"] for r in records] == ["ok", "ok"]


async def test_a_schema_violation_is_repaired_with_the_field_errors_fed_back(server, make_llm, protocol):
    server.script({"title": "x", "severity": 9}, GOOD)
    llm = make_llm(protocol)
    finding, _ = await llm.structured(REQUEST, Finding)
    assert finding.severity == 3
    assert "severity: Input should be less than or equal to 5" in server.requests[1].last_user_text
    await llm.aclose()


async def test_malformed_twice_raises_a_precise_provider_error_after_exactly_two_calls(server, make_llm, protocol):
    server.script(Fault.malformed(), Fault.malformed())
    llm = make_llm(protocol)
    with pytest.raises(
        ProviderError, match=r"gave no valid Finding after one repair round: the answer is not valid JSON"
    ):
        await llm.structured(REQUEST, Finding)
    assert server.count == 2
    await llm.aclose()


async def test_an_endpoint_without_json_schema_falls_back_to_json_mode_once_and_remembers(server, make_llm):
    server.json_schema_supported = False
    server.handler = lambda req: GOOD if req.json_mode else "expected json mode"
    llm = make_llm("openai")
    first, _ = await llm.structured(REQUEST, Finding)
    second, _ = await llm.structured(REQUEST.model_copy(update={"purpose": "again"}), Finding)
    assert first == second == Finding(**GOOD)
    formats = [r.body.get("response_format", {}).get("type") for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # rejected once, then remembered
    instruction = server.requests[1].body["messages"][1]
    assert instruction["role"] == "system" and '"severity"' in instruction["content"]
    await llm.aclose()


async def test_a_truncated_answer_says_it_hit_max_tokens():
    cut = ChatResponse(text='{"title": "cut', stop_reason="max_tokens")
    llm = LLM(ScriptedProvider([cut, cut]))
    with pytest.raises(ProviderError, match=r"cut off at max_tokens=4096"):
        await llm.structured(REQUEST, Finding)


def test_answers_in_fences_or_with_prose_around_them_are_read():
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('Here you go: {"a": {"b": 2}} hope it helps') == {"a": {"b": 2}}
    with pytest.raises(ValueError):
        extract_json("no json here")
    value, problem = parse_answer("", Finding)
    assert value is None and "empty" in problem


def test_strict_schema_closes_objects_and_requires_every_property_but_refuses_open_maps():
    schema = Finding.model_json_schema()
    strict = strict_schema(schema)
    assert strict is not None
    assert strict["additionalProperties"] is False
    assert strict["required"] == ["title", "severity", "tags"]
    assert "additionalProperties" not in schema  # the original is untouched

    class Open(BaseModel):
        extra: dict[str, Any]

    assert strict_schema(Open.model_json_schema()) is None
