"""Budget, call log, response cache and concurrency limit, against the real SDK clients and the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from tests.doubles.llmserver import Fault
from tests.doubles.scripted import ScriptedProvider

from trace2skill.errors import BudgetExceeded
from trace2skill.llm import CALL_LOG_KEYS, LLM, Budget, ChatMessage, ChatRequest, ResponseCache
from trace2skill.store import TraceStore, open_database

pytestmark = pytest.mark.anyio


def ask(i: int, run_id: str | None = "run-1") -> ChatRequest:
    return ChatRequest(
        system="Analyse this trajectory.",
        messages=[ChatMessage(role="user", content=f"trajectory {i} " + "x" * 400)],
        purpose="analyst",
        run_id=run_id,
    )


class CallSink:
    """The call-log sink: the real trace store's `log_calls`, counting batches; `read()` returns what it holds."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = TraceStore(open_database(tmp_path / "trace2skill.db"))
        self.batches = 0

    def __call__(self, records: list[dict[str, Any]]) -> None:
        self.batches += 1
        assert all(tuple(r) == CALL_LOG_KEYS for r in records)  # exactly the agreed keys
        self.store.log_calls(records)

    def read(self) -> list[dict[str, Any]]:
        return self.store.calls()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[CallSink]:
    yield CallSink(tmp_path)


async def test_every_call_appears_in_the_call_log_with_tokens_and_cost(server, make_llm, protocol, sink):
    llm = make_llm(protocol, call_log=sink, flush_every=4)
    responses = [await llm.chat(ask(i)) for i in range(6)]
    assert sink.batches == 1  # batched: four records written together, two still pending
    await llm.aclose()
    rows = sink.read()
    assert len(rows) == 6 and sink.batches == 2
    for row, response in zip(rows, responses, strict=True):
        assert row["outcome"] == "ok" and row["error"] is None
        assert row["run_id"] == "run-1" and row["purpose"] == "analyst" and row["provider"] == protocol
        assert row["input_tokens"] == response.usage.input_tokens > 100
        assert row["output_tokens"] == response.usage.output_tokens > 0
        assert row["cost_usd"] == pytest.approx(response.cost_usd) and row["cost_usd"] > 0
        assert row["latency_s"] > 0 and len(row["request_hash"]) == 64
    totals = llm.usage_totals(run_id="run-1")
    assert totals.calls == 6 and totals.cost_usd == pytest.approx(sum(r.cost_usd for r in responses))


async def test_a_rerun_of_the_same_requests_is_served_from_the_cache(server, make_llm, protocol, sink, tmp_path):
    server.handler = lambda req: f"answer to {req.last_user_text[:12]}"
    first_run = make_llm(protocol, cache=tmp_path / "cache", call_log=sink)
    answers = [(await first_run.chat(ask(i))).text for i in range(3)]
    await first_run.aclose()  # as after a crash: a new process, a new LLM, the same cache folder
    assert server.count == 3

    rerun = make_llm(protocol, cache=tmp_path / "cache", call_log=sink)
    again = [await rerun.chat(ask(i, run_id="run-2")) for i in range(3)]  # run id and purpose are not in the key
    await rerun.aclose()
    assert server.count == 3  # nothing reached the server
    assert [r.text for r in again] == answers
    assert all(r.from_cache and r.cost_usd == 0 for r in again)
    rows = sink.read()
    assert [r["outcome"] for r in rows] == ["ok"] * 3 + ["cache_hit"] * 3
    assert all(r["cost_usd"] == 0 and r["input_tokens"] == 0 for r in rows[3:])
    assert rows[0]["request_hash"] == rows[3]["request_hash"]


async def test_a_changed_request_misses_the_cache(server, make_llm, tmp_path):
    llm = make_llm("anthropic", cache=tmp_path / "cache")
    await llm.chat(ask(1))
    await llm.chat(ask(1).model_copy(update={"temperature": 0.5}))
    await llm.chat(ask(1).model_copy(update={"system": "Another system prompt."}))
    assert server.count == 3
    await llm.aclose()


async def test_errors_are_not_cached(server, make_llm, tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    server.script(Fault.error(400, "nope"))
    llm = make_llm("openai", cache=cache)
    with pytest.raises(Exception, match="nope"):
        await llm.chat(ask(1))
    assert len(cache) == 0
    await llm.chat(ask(1))
    assert len(cache) == 1
    await llm.aclose()


async def test_a_spent_budget_stops_new_calls_lets_in_flight_ones_finish_and_reports_spending(
    server, make_llm, protocol, sink
):
    # Each call costs about $0.0004 at the test prices; $0.001 is spent during the third or fourth wave of calls.
    budget = Budget(usd=0.001)
    llm = make_llm(protocol, budget=budget, call_log=sink, concurrency=2)
    server.latency = 0.05
    outcomes: list[str] = []

    async def one(i: int) -> None:
        try:
            await llm.chat(ask(i))
            outcomes.append("ok")
        except BudgetExceeded:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(one, i)
    await llm.aclose()

    done = outcomes.count("ok")
    assert 3 <= done < 12 and outcomes.count("refused") == 12 - done
    assert server.count == done  # refused calls never reached the server
    assert budget.exhausted and budget.spent_usd >= 0.001
    assert budget.calls == done
    assert budget.spent_tokens == sum(r["input_tokens"] + r["output_tokens"] for r in sink.read())
    rows = sink.read()
    assert sum(r["outcome"] == "budget" for r in rows) == 12 - done
    with pytest.raises(BudgetExceeded, match=r"budget spent: \$0\.00\d+ of \$0\.0010, [\d,]+ tokens, \d+ calls"):
        budget.check()


async def test_a_token_budget_refuses_calls_once_spent():
    budget = Budget(tokens=100)
    llm = LLM(ScriptedProvider(lambda req: "y" * 200), budget=budget)
    await llm.chat(ask(1))  # ~150 tokens in, 50 out: spent in one call
    with pytest.raises(BudgetExceeded, match="of 100"):
        await llm.chat(ask(2))
    assert llm.usage_totals().refused == 1


async def test_concurrency_limit_is_respected_at_the_server(server, make_llm, protocol):
    server.latency = 0.05
    llm = make_llm(protocol, concurrency=3)
    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(llm.chat, ask(i))
    await llm.aclose()
    stats = server.stats()
    assert stats["requests"] == 12
    assert stats["max_in_flight"] == 3  # never more than the limit, and the limit is used


async def test_a_failing_call_log_sink_keeps_its_records_for_the_next_flush():
    written: list[dict[str, Any]] = []
    fail = [True]

    def flaky(records: list[dict[str, Any]]) -> None:
        if fail[0]:
            raise OSError("disk full")
        written.extend(records)

    llm = LLM(ScriptedProvider(lambda req: "ok"), call_log=flaky, flush_every=2)
    for i in range(3):
        await llm.chat(ask(i))
    assert written == []
    fail[0] = False
    await llm.aclose()
    assert len(written) == 3


def test_budget_rejects_negative_limits():
    from trace2skill.errors import InvalidInput

    with pytest.raises(InvalidInput):
        Budget(usd=-1)
    with pytest.raises(InvalidInput):
        Budget(tokens=-5)


def test_the_call_log_also_flushes_when_its_interval_has_passed():
    from trace2skill.llm import CallLogBuffer

    batches: list[int] = []
    steady = CallLogBuffer(lambda records: batches.append(len(records)), flush_every=100, flush_interval=3600)
    for i in range(3):
        steady.add({"i": i})
    assert batches == [] and steady.pending == 3
    eager = CallLogBuffer(lambda records: batches.append(len(records)), flush_every=100, flush_interval=0)
    eager.add({"i": 0})
    eager.add({"i": 1})
    assert batches == [1, 1]
