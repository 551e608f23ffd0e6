"""Model strings, provider construction, credentials, and the providers that need no server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.doubles.llmserver import serve
from tests.doubles.scripted import ScriptedProvider

from trace2skill.errors import InvalidInput, ProviderError
from trace2skill.llm import (
    LLM,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelSpec,
    Price,
    PriceTable,
    SamplingProvider,
    Usage,
    open_llm,
    parse_model,
)
from trace2skill.llm.anthropic_provider import AnthropicProvider
from trace2skill.llm.openai_provider import OpenAIProvider

pytestmark = pytest.mark.anyio

HELLO = ChatRequest(messages=[ChatMessage(role="user", content="hello")], purpose="greet")


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("anthropic:claude-sonnet-4-5", ModelSpec("anthropic", "claude-sonnet-4-5")),
        ("openai:gpt-5-mini", ModelSpec("openai", "gpt-5-mini")),
        ("openai:qwen2.5-7b@http://127.0.0.1:8000/v1", ModelSpec("openai", "qwen2.5-7b", "http://127.0.0.1:8000/v1")),
        ("anthropic:claude-x@http://127.0.0.1:9", ModelSpec("anthropic", "claude-x", "http://127.0.0.1:9")),
        ("local:qwen2.5-coder-1.5b", ModelSpec("local", "qwen2.5-coder-1.5b")),
        ("local:/models/m.gguf", ModelSpec("local", "/models/m.gguf")),
        ("sampling", ModelSpec("sampling", "sampling")),
    ],
)
def test_model_strings_name_provider_model_and_endpoint(text, spec):
    assert parse_model(text) == spec


@pytest.mark.parametrize("text", ["", "claude", "gemini:pro", "openai:", "openai:m@ftp://x", "openai:@http://x"])
def test_bad_model_strings_get_one_clear_line(text):
    with pytest.raises(InvalidInput, match=r"provider:model|NAME@http"):
        parse_model(text)


def test_missing_credentials_for_a_hosted_provider_are_reported_at_open(monkeypatch, home):
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY is not set"):
        open_llm("anthropic:claude-sonnet-4-5")
    with pytest.raises(ProviderError, match="OPENAI_API_KEY is not set"):
        open_llm("openai:gpt-5-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert isinstance(open_llm("openai:gpt-5-mini").provider, OpenAIProvider)


async def test_open_llm_with_a_base_url_needs_no_key_and_talks_to_that_endpoint(monkeypatch, home, tmp_path):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    records: list[dict] = []
    with serve(lambda req: "from the endpoint") as url:
        llm = open_llm(f"anthropic:claude-test@{url}", call_log=records.extend, cache_dir=tmp_path / "c")
        assert isinstance(llm.provider, AnthropicProvider)
        assert (await llm.chat(HELLO)).text == "from the endpoint"
        assert (await llm.chat(HELLO)).from_cache
        await llm.aclose()
        assert url.server.count == 1
    assert [r["outcome"] for r in records] == ["ok", "cache_hit"]


def test_local_models_that_are_not_installed_say_how_to_install_them(home):
    with pytest.raises(ProviderError, match=r"trace2skill models install qwen2\.5-coder-0\.5b"):
        open_llm("local:qwen2.5-coder-0.5b")
    with pytest.raises(ProviderError, match="not found"):
        open_llm("local:/nowhere/m.gguf")


async def test_a_local_model_without_llama_cpp_fails_with_the_install_hint(tmp_path, home):
    pytest.importorskip("trace2skill")
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("llama-cpp-python is installed here")
    model = tmp_path / "tiny.gguf"
    model.write_bytes(b"GGUF")
    llm = open_llm(f"local:{model}")
    with pytest.raises(ProviderError, match=r"pip install 'trace2skill\[local\]'"):
        await llm.chat(HELLO)


async def test_scripted_provider_answers_from_its_queue_then_its_handler_and_records_requests():
    provider = ScriptedProvider(["first", ChatResponse(text="second", usage=Usage(input_tokens=5, output_tokens=1))])
    provider.handler = lambda req: f"handled {req.purpose}"
    llm = LLM(provider)
    texts = [(await llm.chat(HELLO)).text for _ in range(3)]
    assert texts == ["first", "second", "handled greet"]
    assert [r.purpose for r in provider.requests] == ["greet"] * 3
    assert llm.usage_totals().input_tokens == 2 + 5 + 2  # estimated, stated, estimated


async def test_scripted_exceptions_are_raised_and_an_empty_script_says_so():
    llm = LLM(ScriptedProvider([ProviderError("boom")]))
    with pytest.raises(ProviderError, match="boom"):
        await llm.chat(HELLO)
    with pytest.raises(ProviderError, match="no reply left for request #2"):
        await llm.chat(HELLO)


def test_no_model_string_opens_the_tests_scripted_double():
    with pytest.raises(InvalidInput, match="is not of the form provider:model") as caught:
        open_llm("scripted")
    assert "scripted" not in str(caught.value).partition("; e.g.")[2]  # nor is it suggested
    with pytest.raises(InvalidInput):
        parse_model("scripted:anything")


async def test_sampling_provider_passes_the_request_to_the_callable_with_the_schema_spelled_out():
    seen: list[ChatRequest] = []

    async def create_message(request: ChatRequest) -> ChatResponse:
        seen.append(request)
        return ChatResponse(text='{"n": 3}', model="client-model")

    from pydantic import BaseModel

    class N(BaseModel):
        n: int

    llm = open_llm("sampling", sampling=create_message)
    assert isinstance(llm.provider, SamplingProvider)
    value, response = await llm.structured(HELLO.model_copy(update={"system": "Be brief."}), N)
    assert value == N(n=3) and response.provider == "sampling" and response.model == "client-model"
    assert seen[0].system.startswith("Be brief.") and '"n"' in seen[0].system
    with pytest.raises(InvalidInput, match="sampling callable"):
        open_llm("sampling")


def test_prices_match_dated_model_names_and_user_entries_override(tmp_path: Path):
    table = PriceTable.load(None, {"openai:my-model": {"input": 1, "output": 2, "cached_input": 0.5}})
    assert table.lookup("anthropic", "claude-sonnet-4-5-20250929") == table.lookup("anthropic", "claude-sonnet-4-5")
    assert table.lookup("openai", "gpt-5-mini-2025-08-07").input == 0.25  # not gpt-5's price
    assert table.lookup("openai", "gpt-5o") is None  # a prefix must end at a boundary
    usage = Usage(input_tokens=1_000_000, cached_tokens=400_000, output_tokens=1_000_000)
    assert table.cost("openai", "my-model", usage) == pytest.approx(0.6 * 1 + 0.4 * 0.5 + 2)
    (tmp_path / "prices.json").write_text('{"claude-sonnet-4-5": {"input": 1, "output": 1}}')
    assert PriceTable.load(tmp_path).lookup("anthropic", "claude-sonnet-4-5").output == 1


def test_an_unknown_model_costs_nothing_with_one_warning(caplog):
    table = PriceTable({"x:y": Price(1, 1)})
    with caplog.at_level(logging.WARNING):
        assert table.cost("openai", "mystery", Usage(input_tokens=10)) == 0
        assert table.cost("openai", "mystery", Usage(input_tokens=10)) == 0
        assert table.cost("local", "free-model", Usage(input_tokens=10), free=True) == 0
    assert [r.getMessage() for r in caplog.records] == [
        "no price known for openai:mystery; counting its calls as $0 (add it to prices.json or pass --price IN/OUT)"
    ]


def test_a_bad_price_table_is_refused_clearly(tmp_path: Path):
    with pytest.raises(InvalidInput, match="needs numeric 'input' and 'output'"):
        PriceTable.load(None, {"m": {"input": "cheap"}})
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="cannot read price table"):
        PriceTable.load(None, tmp_path / "p.json")
