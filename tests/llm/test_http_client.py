"""The providers send through the SDKs' own HTTP clients, and so through a proxy named in the environment.

A small proxy written here listens on loopback and records what arrives: an absolute-form request
(a plain-HTTP endpoint, forwarded) or a CONNECT (an HTTPS endpoint, tunnelled). The real SDK clients
reach the local protocol server through it, on both HTTP clients the SDKs support.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import openai
import pytest
from tests.doubles.llmserver import FakeLLMServer

from trace2skill.errors import InvalidInput
from trace2skill.llm import LLM, ChatMessage, ChatRequest, open_llm
from trace2skill.llm.provider import HTTP_CLIENT_ENV

from .conftest import FAST_RETRY, PRICES, make_provider

pytestmark = pytest.mark.anyio

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="through the proxy")])


@pytest.fixture(params=["aiohttp", "httpx"])
def http_choice(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(HTTP_CLIENT_ENV, request.param)
    return request.param


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy settings from the machine running the tests, upper or lower case."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@dataclass
class Proxy:
    url: str = ""
    seen: list[str] = field(default_factory=list)
    """Request lines as they arrived: `POST http://host:port/path` (forwarded) or `CONNECT host:port`."""


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _forward(head: bytes, method: str, target: str, reader: asyncio.StreamReader) -> bytes:
    """One absolute-form request sent on to its origin (closing after it); the origin's whole answer."""
    url = urllib.parse.urlsplit(target)
    lines = head.decode("latin-1").split("\r\n")[1:]
    kept = [line for line in lines if line and not line.lower().startswith(("connection:", "proxy-connection:"))]
    length = next((int(line.split(":", 1)[1]) for line in kept if line.lower().startswith("content-length:")), 0)
    body = await reader.readexactly(length)
    path = url.path + (f"?{url.query}" if url.query else "")
    up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port)
    sent = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in kept) + "Connection: close\r\n\r\n"
    up_writer.write(sent.encode("latin-1") + body)
    answer = await up_reader.read()
    up_writer.close()
    return answer


@contextlib.asynccontextmanager
async def loopback_proxy() -> AsyncIterator[Proxy]:
    """An HTTP proxy on 127.0.0.1: CONNECT tunnels, other requests are forwarded one per connection."""
    proxy = Proxy()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        proxy.seen.append(f"{method} {target}")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        else:
            writer.write(await _forward(head, method, target, reader))
            await writer.drain()
            writer.close()

    def start(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(start, "127.0.0.1", 0)
    proxy.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield proxy
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def https_server(tmp_path: Path, no_proxies: pytest.MonkeyPatch) -> Iterator[FakeLLMServer]:
    """The protocol server over HTTPS with a certificate from a test CA that SSL_CERT_FILE makes trusted."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    served = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(served))
    trusted = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(trusted))
    no_proxies.setenv("SSL_CERT_FILE", str(trusted))
    with FakeLLMServer(certfile=str(served)) as server:
        yield server


def llm_on(protocol: str, server: FakeLLMServer, **options: object) -> LLM:
    return LLM(make_provider(protocol, server, timeout=10.0, **options), retry=FAST_RETRY, prices=PRICES)


def test_the_sdks_aiohttp_client_is_the_default_and_httpx_names_their_stock_client(monkeypatch, server):
    monkeypatch.delenv(HTTP_CLIENT_ENV, raising=False)
    assert isinstance(make_provider("anthropic", server).http_client(), anthropic.DefaultAioHttpClient)
    assert isinstance(make_provider("openai", server).http_client(), openai.DefaultAioHttpClient)
    monkeypatch.setenv(HTTP_CLIENT_ENV, "httpx")
    assert isinstance(make_provider("anthropic", server).http_client(), anthropic.DefaultAsyncHttpxClient)
    assert isinstance(make_provider("openai", server).http_client(), openai.DefaultAsyncHttpxClient)
    assert not isinstance(make_provider("openai", server).http_client(), openai.DefaultAioHttpClient)


def test_an_unknown_http_client_is_refused_when_the_model_is_opened(monkeypatch):
    monkeypatch.setenv(HTTP_CLIENT_ENV, "curl")
    with pytest.raises(InvalidInput, match=r"TRACE2SKILL_HTTP_CLIENT='curl' is not one of: aiohttp, httpx"):
        open_llm("anthropic:claude-test@http://127.0.0.1:9", prices={})


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_calls_to_a_plain_http_endpoint_go_through_the_http_proxy(
    server, no_proxies, http_choice, protocol, stream
):
    async with loopback_proxy() as proxy:
        no_proxies.setenv("HTTP_PROXY", proxy.url)
        llm = llm_on(protocol, server, stream=stream)
        response = await llm.chat(REQUEST)
        await llm.aclose()
    path = "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"
    assert proxy.seen == [f"POST {server.url}{path}"]
    assert response.text == "ok" and server.count == 1
    assert server.requests[0].last_user_text == "through the proxy"


async def test_calls_to_an_https_endpoint_are_tunnelled_through_the_https_proxy(
    https_server, no_proxies, http_choice, protocol
):
    host = https_server.url.removeprefix("https://")
    async with loopback_proxy() as proxy:
        no_proxies.setenv("HTTPS_PROXY", proxy.url)
        llm = llm_on(protocol, https_server)
        first = await llm.chat(REQUEST)
        second = await llm.chat(REQUEST)
        await llm.aclose()
    assert proxy.seen == [f"CONNECT {host}"]  # one tunnel, kept alive for the second call
    assert first.text == second.text == "ok" and https_server.count == 2


async def test_a_host_in_no_proxy_is_reached_directly(server, no_proxies, http_choice, protocol):
    async with loopback_proxy() as proxy:
        no_proxies.setenv("HTTP_PROXY", proxy.url)
        no_proxies.setenv("NO_PROXY", "127.0.0.1")
        llm = llm_on(protocol, server)
        response = await llm.chat(REQUEST)
        await llm.aclose()
    assert proxy.seen == []
    assert response.text == "ok" and server.count == 1
