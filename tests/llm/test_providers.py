"""The real anthropic and openai SDK clients, through the LLM layer, against the local wire-protocol server."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from pydantic import BaseModel, Field
from tests.doubles.llmserver import FakeLLMServer, Reply, ServerRequest

from trace2skill.llm import ChatMessage, ChatRequest, ToolCall, ToolSpec

pytestmark = pytest.mark.anyio


class Verdict(BaseModel):
    label: str = Field(max_length=20)
    score: int


WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    input_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def ask(text: str, **kw: object) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_plain_chat_returns_the_servers_text_and_usage(server, make_llm, protocol, stream):
    server.handler = lambda req: f"echo {req.last_user_text} from {req.model}"
    llm = make_llm(protocol, stream=stream)
    response = await llm.chat(ask("ping", system="You are terse."))
    model = "claude-test" if protocol == "anthropic" else "gpt-test"
    assert response.text == f"echo ping from {model}"
    assert response.provider == protocol
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.cost_usd > 0
    seen = server.requests[0]
    assert seen.protocol == protocol and seen.stream is stream
    assert seen.system == "You are terse."
    assert seen.headers["authorization"] == "Bearer test-key"  # the SDK's own auth headers are sent
    await llm.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_tool_calls_come_back_parsed_and_a_tool_result_round_trips(server, make_llm, protocol, stream):
    def handler(req: ServerRequest) -> Reply | str:
        if req.index == 0:
            return Reply(
                text="Let me check.", tool_calls=[{"id": "c1", "name": "get_weather", "arguments": {"city": "Oslo"}}]
            )
        return "It is cold in Oslo."

    server.handler = handler
    llm = make_llm(protocol, stream=stream)
    first = await llm.chat(ask("Weather in Oslo?", tools=[WEATHER]))
    assert first.tool_calls == [ToolCall(id="c1", name="get_weather", arguments={"city": "Oslo"})]
    assert first.stop_reason in ("tool_use", "tool_calls")
    history = [
        ChatMessage(role="user", content="Weather in Oslo?"),
        ChatMessage(role="assistant", content=first.text, tool_calls=first.tool_calls),
        ChatMessage(role="tool", tool_call_id="c1", content="-3 C"),
    ]
    second = await llm.chat(ChatRequest(messages=history, tools=[WEATHER]))
    assert second.text == "It is cold in Oslo."
    sent = server.requests[1]
    assert sent.tools[0]["name"] == "get_weather"
    assert "-3 C" in json.dumps(sent.messages)
    if protocol == "anthropic":  # the tool result travels as a tool_result block in a user turn
        assert sent.messages[-1]["role"] == "user"
        assert sent.messages[-1]["content"][0] == {"type": "tool_result", "tool_use_id": "c1", "content": "-3 C"}
    else:
        assert sent.messages[-1] == {"role": "tool", "tool_call_id": "c1", "content": "-3 C"}
    await llm.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_structured_call_returns_a_validated_model(server, make_llm, protocol, stream):
    server.handler = lambda req: {"label": "good", "score": 7} if req.schema else "no schema was sent"
    llm = make_llm(protocol, stream=stream)
    verdict, response = await llm.structured(ask("Rate it."), Verdict)
    assert verdict == Verdict(label="good", score=7)
    assert response.tool_calls == []  # the forced answer tool is not reported as a tool call
    sent = server.requests[0]
    assert sent.schema is not None and set(sent.schema["properties"]) == {"label", "score"}
    if protocol == "anthropic":  # provider-neutral forced tool
        assert sent.forced_tool == "Verdict"
    else:  # strict json_schema response format
        fmt = sent.body["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"]["additionalProperties"] is False
    await llm.aclose()


async def test_the_cached_system_prefix_is_marked_and_cache_reads_are_recorded(server, make_llm):
    llm = make_llm("anthropic")
    system = "Frozen skill text. " * 200
    first = await llm.chat(ask("a", system=system))
    second = await llm.chat(ask("b", system=system))
    block = server.requests[0].body["system"][0]
    assert block["cache_control"] == {"type": "ephemeral"}
    assert first.usage.cache_write_tokens > 0 and first.usage.cached_tokens == 0
    assert second.usage.cached_tokens == first.usage.cache_write_tokens
    assert second.cost_usd < first.cost_usd  # cached reads are priced at a tenth
    totals = llm.usage_totals()
    assert totals.cached_tokens == second.usage.cached_tokens
    await llm.aclose()


async def test_openai_cached_prompt_tokens_are_recorded(server, make_llm):
    llm = make_llm("openai")
    system = "Stable prefix. " * 200
    await llm.chat(ask("a", system=system))
    second = await llm.chat(ask("b", system=system))
    assert server.requests[0].body["messages"][0] == {"role": "system", "content": system}
    assert second.usage.cached_tokens > 0
    assert llm.usage_totals().cached_tokens == second.usage.cached_tokens
    await llm.aclose()


async def test_the_sdk_clients_work_directly_against_the_server_sync_and_streaming():
    """The server speaks the wire protocols well enough for the SDKs' own sync clients and stream helpers."""

    def handler(req: ServerRequest) -> Reply:
        return Reply(text="hi", tool_calls=[{"name": "get_weather", "arguments": {"city": "Rome"}}])

    with FakeLLMServer(handler) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        with client.messages.stream(model="m", max_tokens=50, messages=[{"role": "user", "content": "x"}]) as events:
            message = events.get_final_message()
        assert message.content[0].text == "hi"
        assert message.content[1].input == {"city": "Rome"}
        assert message.stop_reason == "tool_use"
        oclient = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        with oclient.chat.completions.stream(
            model="m", messages=[{"role": "user", "content": "x"}], stream_options={"include_usage": True}
        ) as events:
            completion = events.get_final_completion()
        call = completion.choices[0].message.tool_calls[0]
        assert json.loads(call.function.arguments) == {"city": "Rome"}
        assert completion.usage.completion_tokens > 0
        client.close()
        oclient.close()


async def test_a_very_long_anthropic_answer_is_streamed_to_stay_within_the_response_time_limit(server, make_llm):
    llm = make_llm("anthropic")
    await llm.chat(ask("write a book", max_tokens=32_000))
    await llm.chat(ask("write a line", max_tokens=100))
    assert [r.stream for r in server.requests] == [True, False]
    await llm.aclose()
