"""What a provider is: one async `chat(ChatRequest) -> ChatResponse`, and nothing else.

Providers translate to and from their wire format and classify failures; everything shared
(retries, concurrency, budget, cache, logging, structured-output repair) lives in the `LLM`
middleware, so that policy is written once and tested once. Providers never retry on their own:
the SDK clients are built with `max_retries=0`.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import os
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from trace2skill.errors import ProviderError
from trace2skill.llm.transport import http_client
from trace2skill.llm.types import ChatRequest, ChatResponse

__all__ = [
    "RETRYABLE_STATUS",
    "LoopBound",
    "Provider",
    "RetryableError",
    "SDKProvider",
    "classify",
    "parse_retry_after",
    "shared_ssl_context",
]

# 408 timeout, 409 conflict (lock contention), 429 rate limit, 5xx server, 529 Anthropic overloaded.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class RetryableError(ProviderError):
    """A transient failure worth retrying: rate limit, overload, 5xx, timeout, dropped connection."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


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
    free: bool = False  # True for local/scripted/sampling: no price warning for an unknown model

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


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client: building one loads the CA bundle (about 40 ms), and a
    process may open several clients (one per event loop and provider)."""
    import httpx2

    return httpx2.create_ssl_context()


class SDKProvider(Provider):
    """A provider behind an official SDK client: credentials, endpoint and one pooled client per loop.

    Subclasses name the environment variables that hold their key and base URL, and build their SDK
    client in `_make_client` with `self.http_client()` as its HTTP client.
    """

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
        max_connections: int = 256,
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
        self._client = LoopBound()

    @property
    def identity(self) -> str:
        return f"{self.name}:{self.model}@{self.base_url or 'default'}"

    def client(self) -> Any:
        """One SDK client (and one pooled HTTP client) per event loop, shared by every call."""
        return self._client.get(self._make_client)

    def http_client(self) -> Any:
        return http_client(max_connections=self.max_connections, timeout=self.timeout, verify=shared_ssl_context())

    @abstractmethod
    def _make_client(self) -> Any:
        """Build this provider's SDK client."""
