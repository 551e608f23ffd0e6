"""What a provider is: one async `chat(ChatRequest) -> ChatResponse`, and nothing else.

Providers translate to and from their wire format and classify failures; everything shared
(retries, concurrency, budget, cache, logging, structured-output repair) lives in the `LLM`
middleware, so that policy is written once and tested once. Providers never retry on their own:
the SDK clients are built with `max_retries=0`.

HTTP is the SDKs' own: each SDK client sends through one of the HTTP clients its SDK offers, by
default `DefaultAioHttpClient` (the aiohttp backend the SDKs document for concurrency, which spends a
quarter to a third less CPU per call than their stock client here: benchmarks/llm_layer.py) or, with
`TRACE2SKILL_HTTP_CLIENT=httpx`, `DefaultAsyncHttpxClient` (the stock httpx2 client, which also sets
TCP keep-alive probes). Both take proxies from the environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and
follow redirects as the SDKs set them up; only the pool's idle limit is raised (see `http_client`).
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import os
import socket
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import httpx2

from trace2skill.errors import InvalidInput, ProviderError
from trace2skill.llm.types import ChatRequest, ChatResponse

__all__ = [
    "HTTP_CLIENTS",
    "HTTP_CLIENT_ENV",
    "RETRYABLE_STATUS",
    "ConnectFailed",
    "LoopBound",
    "Provider",
    "RetryableError",
    "SDKProvider",
    "classify",
    "connect_failure",
    "http_client_choice",
    "parse_retry_after",
]

# 408 timeout, 409 conflict (lock contention), 429 rate limit, 5xx server, 529 Anthropic overloaded.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

HTTP_CLIENT_ENV = "TRACE2SKILL_HTTP_CLIENT"
"""`aiohttp` (the default) or `httpx`: which of the two HTTP clients the SDKs support they send through."""
HTTP_CLIENTS = ("aiohttp", "httpx")


def http_client_choice(name: str | None = None) -> str:
    """`name`, else the HTTP client named by TRACE2SKILL_HTTP_CLIENT, else `aiohttp`; checked."""
    value = (name or os.environ.get(HTTP_CLIENT_ENV, "")).strip().lower() or HTTP_CLIENTS[0]
    if value not in HTTP_CLIENTS:
        raise InvalidInput(f"{HTTP_CLIENT_ENV}={value!r} is not one of: {', '.join(HTTP_CLIENTS)}")
    return value


class RetryableError(ProviderError):
    """A transient failure worth retrying: rate limit, overload, 5xx, timeout, dropped connection."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ConnectFailed(RetryableError):
    """The request never reached the server: connection refused, unknown host, TLS handshake failed.

    `reason` is the short cause and `url` the endpoint; the middleware retries it once or twice,
    quickly, and then gives up on the whole endpoint (`ProviderUnreachable`)."""

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message)
        self.url = url
        self.reason = reason


_UNREACHABLE_ERRNOS = frozenset({errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL})


def connect_failure(error: BaseException) -> str | None:
    """Why a connection could not be made, from the causes of an SDK's connection error; None when it was
    made (a reset or a timeout mid-request is transient, not this). Both HTTP clients keep the socket
    error in the chain: refused, name resolution, TLS."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 16:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError) and getattr(current, "reason", None) is None and _inner(current):
            pass  # aiohttp's wrapper is an SSLError without a reason: the one it wraps has it
        elif isinstance(current, ssl.SSLCertVerificationError):
            return f"the TLS certificate was refused ({current.verify_message or current.reason})"
        elif isinstance(current, ssl.SSLError):
            return f"the TLS handshake failed ({getattr(current, 'reason', None) or current}); is it http, not https?"
        elif isinstance(current, socket.gaierror):
            return "the host name does not resolve"
        elif isinstance(current, ConnectionRefusedError):
            return "connection refused"
        elif isinstance(current, OSError) and current.errno in _UNREACHABLE_ERRNOS:
            return os.strerror(current.errno or 0).lower()
        current = _inner(current)
    return None


def _inner(error: BaseException) -> BaseException | None:
    """What `error` wraps: its cause or context, or aiohttp's `os_error`."""
    inner = error.__cause__ or error.__context__ or getattr(error, "os_error", None)
    return inner if isinstance(inner, BaseException) else None


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date); None when absent."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def classify(status: int, headers: Mapping[str, str] | None, detail: str) -> ProviderError:
    """An HTTP error status as retryable (carrying its Retry-After) or permanent."""
    message = f"HTTP {status}: {detail}"
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryableError(message, status=status, retry_after=parse_retry_after(headers))
    return ProviderError(message)


class Provider(ABC):
    """One model behind one API. Subclasses set `name` and `model` and implement `chat`."""

    name: str = "provider"
    model: str = ""
    default_concurrency: int = 8
    free: bool = False  # True for local/sampling (and tests' doubles): no price warning for an unknown model

    @property
    def identity(self) -> str:
        """What distinguishes this provider's answers in the response cache (name, model, endpoint)."""
        return f"{self.name}:{self.model}"

    @abstractmethod
    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One attempt. Raise `RetryableError` for transient failures, `ProviderError` for permanent ones."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release connections or models."""


class LoopBound:
    """Holds one object per running event loop (SDK clients and semaphores are bound to the loop that made them)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: Any = None

    def get(self, factory: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._value = factory()
        return self._value

    def peek(self) -> Any:
        return self._value

    def clear(self) -> None:
        self._loop = None
        self._value = None


class SDKProvider(Provider):
    """A provider behind an official SDK client: credentials, endpoint and one pooled client per loop.

    Subclasses name their SDK module (`sdk`), the environment variables that hold their key and base
    URL, and build their SDK client in `_make_client` with `self.http_client()` as its HTTP client.
    `http` picks that client (`aiohttp` or `httpx`); by default TRACE2SKILL_HTTP_CLIENT does.
    """

    sdk: Any = None
    key_envs: tuple[str, ...] = ()
    base_url_env: str = ""
    alternatives: str = ""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 600.0,
        stream: bool = False,
        max_connections: int = 1000,
        http: str | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.stream = stream
        self.timeout = timeout
        self.max_connections = max_connections
        key = api_key or next((os.environ[k] for k in self.key_envs if os.environ.get(k)), None)
        self.custom_endpoint = bool(base_url or os.environ.get(self.base_url_env))
        if not key and not self.custom_endpoint:
            raise ProviderError(
                f"{self.key_envs[0]} is not set: export it, or choose another model ({self.alternatives})"
            )
        self._api_key = key or "not-needed"
        self.http = http_client_choice(http)
        self._client = LoopBound()

    @property
    def identity(self) -> str:
        return f"{self.name}:{self.model}@{self.base_url or 'default'}"

    @property
    def endpoint(self) -> str:
        """The URL calls go to: the base URL given, else the SDK client's (its environment variable or default)."""
        client = self._client.peek()
        return self.base_url or (str(client.base_url) if client is not None else os.environ.get(self.base_url_env, ""))

    def connection_error(self, error: BaseException, fallback: str) -> RetryableError:
        """A connection-level SDK error as `ConnectFailed` when no connection was made, else `RetryableError`."""
        reason = connect_failure(error)
        if reason is None:
            return RetryableError(fallback)
        url = self.endpoint
        return ConnectFailed(f"{self.name} could not connect to {url}: {reason}", url=url, reason=reason)

    def client(self) -> Any:
        """One SDK client (and one pooled HTTP client) per event loop, shared by every call."""
        return self._client.get(self._make_client)

    def http_client(self) -> httpx2.AsyncClient:
        """The SDK's own HTTP client of the chosen kind, its pool keeping every connection a run has in flight.

        The SDKs' default pool (1,000 connections) keeps at most 100 of them idle, so a run with more
        calls in flight would close the rest after each round and open them again; here all of them may
        stay idle, each for the pool's keep-alive expiry (httpx2's default, 5 s).
        """
        limits = httpx2.Limits(max_connections=self.max_connections, max_keepalive_connections=self.max_connections)
        if self.http == "aiohttp":
            try:
                return self.sdk.DefaultAioHttpClient(limits=limits)
            except RuntimeError:  # the SDK's word for "aiohttp is not installed": its stock client then
                pass
        return self.sdk.DefaultAsyncHttpxClient(limits=limits)

    @abstractmethod
    def _make_client(self) -> Any:
        """Build this provider's SDK client."""
