"""Several LLM clients behind one interface, for runs with many calls in flight.

Each client keeps its own HTTP connection pool. The HTTP client scans its whole pool on every
request it sends and every response it releases, so one pool of 128 connections costs about half a
millisecond more CPU per call at 128 calls in flight than pools of 16. Clients are opened only as
the number of calls in flight needs them (opening one costs tens of milliseconds), each for up to
`per_client` calls; a call goes to the open client with the fewest calls in flight. All clients
share one budget and one call log, so limits and records behave exactly as with a single client.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from trace2skill.llm.types import ChatRequest, ChatResponse

__all__ = ["POOL_SIZE", "FanOutLLM"]

T = TypeVar("T", bound=BaseModel)

POOL_SIZE = 16
"""Calls in flight per client (and so connections per pool)."""


class FanOutLLM:
    def __init__(
        self,
        open_client: Callable[[int], Any],
        concurrency: int,
        per_client: int = POOL_SIZE,
        opened: Sequence[Any] = (),
    ) -> None:
        """`open_client(n)` opens a client allowing n calls in flight; `opened` are clients already open."""
        self._open = open_client
        self.per_client = max(1, min(per_client, concurrency))
        self.max_clients = max(1, math.ceil(concurrency / self.per_client))
        self.shards: list[Any] = list(opened)
        self._busy: list[int] = [0] * len(self.shards)

    def _pick(self) -> int:
        busy = self._busy
        best = min(range(len(busy)), key=busy.__getitem__) if busy else -1
        if (best < 0 or busy[best] >= self.per_client) and len(self.shards) < self.max_clients:
            self.shards.append(self._open(self.per_client))
            busy.append(0)
            best = len(busy) - 1
        return best

    async def chat(self, request: ChatRequest) -> ChatResponse:
        i = self._pick()
        self._busy[i] += 1
        try:
            return await self.shards[i].chat(request)
        finally:
            self._busy[i] -= 1

    async def structured(self, request: ChatRequest, model: type[T]) -> tuple[T, ChatResponse]:
        i = self._pick()
        self._busy[i] += 1
        try:
            return await self.shards[i].structured(request, model)
        finally:
            self._busy[i] -= 1

    def flush(self) -> None:
        for shard in self.shards:
            shard.flush()

    async def aclose(self) -> None:
        await asyncio.gather(*(shard.aclose() for shard in self.shards), return_exceptions=True)
