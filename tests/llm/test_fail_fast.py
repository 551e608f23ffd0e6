"""An endpoint that cannot be reached ends the work at once: the real SDK clients, both HTTP clients,
against a closed loopback port, a host that does not resolve, and TLS that fails.

A few quick tries while the endpoint has never answered, then `ProviderUnreachable` naming the URL;
every later call of that LLM fails at once without connecting. An endpoint that answered before and
then goes away gets the ordinary retry schedule first (a restart is worth waiting for).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.doubles.llmserver import FakeLLMServer

from trace2skill.errors import ProviderError, ProviderUnreachable
from trace2skill.llm import LLM, ChatMessage, ChatRequest, RetryPolicy
from trace2skill.llm.anthropic_provider import AnthropicProvider
from trace2skill.llm.openai_provider import OpenAIProvider
from trace2skill.llm.provider import Provider

from .conftest import PRICES

pytestmark = pytest.mark.anyio

REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="hello")], purpose="fail-fast-test")


@pytest.fixture(params=["aiohttp", "httpx"])
def http(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on (bound once to find it, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


def provider(protocol: str, url: str, http: str) -> Provider:
    if protocol == "anthropic":
        return AnthropicProvider("claude-test", base_url=url, api_key="k", http=http, timeout=30)
    return OpenAIProvider("gpt-test", base_url=url + "/v1", api_key="k", http=http, timeout=30)


def endpoint(protocol: str, url: str) -> str:
    return url if protocol == "anthropic" else url + "/v1"


async def test_a_closed_port_ends_in_a_second_with_one_message_naming_the_url(
    protocol: str, http: str, closed_port: int
) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    records: list[dict[str, Any]] = []
    llm = LLM(provider(protocol, url, http), prices=PRICES, call_log=records.extend)  # the default retry policy
    started = time.monotonic()
    with pytest.raises(ProviderUnreachable) as caught:
        await llm.chat(REQUEST)
    assert time.monotonic() - started < 3
    model = "claude-test" if protocol == "anthropic" else "gpt-test"
    assert str(caught.value) == (
        f"cannot reach {protocol}:{model} at {endpoint(protocol, url)}: connection refused (tried 3 times); "
        "check the URL and that the server is running"
    )
    again = time.monotonic()
    with pytest.raises(ProviderUnreachable):
        await llm.chat(REQUEST)
    assert time.monotonic() - again < 0.05  # no connection tried: the endpoint was given up on
    await llm.aclose()
    assert [r["outcome"] for r in records] == ["error", "error"] and llm.retries == 2


async def test_many_calls_at_once_all_stop_together(protocol: str, closed_port: int) -> None:
    llm = LLM(provider(protocol, f"http://127.0.0.1:{closed_port}", "aiohttp"), prices=PRICES, concurrency=16)
    failures: list[BaseException] = []

    async def one() -> None:
        try:
            await llm.chat(REQUEST)
        except ProviderUnreachable as e:
            failures.append(e)

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for _ in range(42):
            group.start_soon(one)
    assert time.monotonic() - started < 3
    assert len(failures) == 42 and len({str(e) for e in failures}) == 1
    await llm.aclose()


async def test_a_host_that_does_not_resolve_is_named(protocol: str, http: str) -> None:
    url = "http://no-such-host.invalid"
    llm = LLM(provider(protocol, url, http), prices=PRICES)
    with pytest.raises(
        ProviderUnreachable, match=r"at http://no-such-host\.invalid(/v1)?: the host name does not resolve"
    ):
        await llm.chat(REQUEST)
    await llm.aclose()


async def test_https_to_a_plain_http_server_is_a_tls_failure(protocol: str, http: str) -> None:
    with FakeLLMServer() as server:
        url = server.url.replace("http://", "https://")
        llm = LLM(provider(protocol, url, http), prices=PRICES)
        with pytest.raises(ProviderUnreachable, match=r"the TLS handshake failed \(WRONG_VERSION_NUMBER\)"):
            await llm.chat(REQUEST)
        await llm.aclose()
        assert server.count == 0


async def test_a_certificate_nobody_trusts_is_named(protocol: str, tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    served = tmp_path / "server.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(served))
    with FakeLLMServer(certfile=str(served)) as server:
        llm = LLM(provider(protocol, server.url, "httpx"), prices=PRICES)
        with pytest.raises(ProviderUnreachable, match="the TLS certificate was refused"):
            await llm.chat(REQUEST)
        await llm.aclose()


async def test_an_endpoint_that_answered_and_went_away_gets_the_ordinary_retries_first(protocol: str) -> None:
    server = FakeLLMServer(replies=["first"])
    server.start()
    url = server.url
    llm = LLM(
        provider(protocol, url, "httpx"),
        prices=PRICES,
        retry=RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.02),
    )
    assert (await llm.chat(REQUEST)).text == "first"
    server.stop()
    with pytest.raises(ProviderUnreachable, match=r"connection refused \(tried 4 times\)"):
        await llm.chat(REQUEST.model_copy(update={"purpose": "second"}))
    assert llm.retries == 3
    await llm.aclose()


async def test_a_server_error_is_still_retried_as_before_and_is_not_unreachable(
    server: FakeLLMServer, make_llm, protocol
) -> None:
    from tests.doubles.llmserver import Fault

    server.script(*[Fault.error(503)] * 4)
    llm = make_llm(protocol)
    with pytest.raises(ProviderError) as caught:
        await llm.chat(REQUEST)
    assert not isinstance(caught.value, ProviderUnreachable) and "failed after 4 attempts" in str(caught.value)
    await llm.aclose()
