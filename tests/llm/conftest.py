"""Fixtures for the llm tests: a fake wire-protocol server in a thread, and LLMs pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.doubles.llmserver import FakeLLMServer

from trace2skill.llm import LLM, Price, PriceTable, RetryPolicy
from trace2skill.llm.anthropic_provider import AnthropicProvider
from trace2skill.llm.openai_provider import OpenAIProvider
from trace2skill.llm.provider import Provider

PRICES = PriceTable(
    {
        "anthropic:claude-test": Price(3.0, 15.0, cached_input=0.3, cache_write=3.75),
        "openai:gpt-test": Price(1.0, 4.0, cached_input=0.25),
    }
)
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as s:
        yield s


def make_provider(protocol: str, server: FakeLLMServer, **options: Any) -> Provider:
    if protocol == "anthropic":
        return AnthropicProvider("claude-test", base_url=server.url, api_key="test-key", **options)
    return OpenAIProvider("gpt-test", base_url=server.url + "/v1", api_key="test-key", **options)


@pytest.fixture
def make_llm(server: FakeLLMServer) -> Iterator[Callable[..., LLM]]:
    """`make_llm(protocol, stream=False, timeout=..., **llm_options)`: an LLM on the test's server."""
    made: list[LLM] = []

    def make(protocol: str = "anthropic", *, stream: bool = False, timeout: float = 10.0, **options: Any) -> LLM:
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("prices", PRICES)
        llm = LLM(make_provider(protocol, server, stream=stream, timeout=timeout), **options)
        made.append(llm)
        return llm

    yield make


@pytest.fixture(params=["anthropic", "openai"])
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param
