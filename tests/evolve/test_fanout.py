from __future__ import annotations

import asyncio
from typing import Any

import pytest

from trace2skill.errors import BudgetExceeded
from trace2skill.evolve.fanout import FanOutLLM
from trace2skill.llm import LLM, Budget, ChatMessage, ChatRequest, ScriptedProvider


def _request(i: int = 0) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=f"q{i}")])


@pytest.mark.anyio
async def test_clients_open_only_as_calls_in_flight_need_them_and_calls_spread_evenly() -> None:
    release = asyncio.Event()
    opened: list[ScriptedProvider] = []

    async def slow(req: ChatRequest) -> str:
        await release.wait()
        return "ok"

    def open_client(concurrency: int) -> LLM:
        provider = ScriptedProvider(slow)
        opened.append(provider)
        return LLM(provider, concurrency=concurrency)

    fan = FanOutLLM(open_client, concurrency=40, per_client=16)
    one = asyncio.ensure_future(fan.chat(_request()))
    await asyncio.sleep(0)
    assert len(opened) == 1
    rest = [asyncio.ensure_future(fan.chat(_request(i))) for i in range(1, 40)]
    while sum(len(p.requests) for p in opened) < 40:
        await asyncio.sleep(0)
    assert [len(p.requests) for p in opened] == [16, 16, 8]
    release.set()
    assert {r.text for r in await asyncio.gather(one, *rest)} == {"ok"}
    await fan.chat(_request())
    assert len(opened) == 3 and fan.max_clients == 3
    await fan.aclose()


@pytest.mark.anyio
async def test_all_clients_share_one_budget_and_one_call_log() -> None:
    budget = Budget(tokens=100)  # each call costs about 28 tokens
    log: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def held(req: ChatRequest) -> str:
        await release.wait()
        return "a fairly long answer " * 5

    def open_client(concurrency: int) -> LLM:
        return LLM(ScriptedProvider(held), budget=budget, call_log=log.extend)

    fan = FanOutLLM(open_client, concurrency=4, per_client=1)
    calls = [asyncio.ensure_future(fan.chat(_request(i))) for i in range(4)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*calls)
    assert budget.spent_tokens > 100
    with pytest.raises(BudgetExceeded):
        await fan.chat(_request())
    fan.flush()
    assert len(fan.shards) == 4 and sum(1 for r in log if r["outcome"] == "ok") == 4
