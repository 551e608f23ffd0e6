"""Retries live in the middleware: 429 (honouring Retry-After), 5xx, timeouts; permanent errors are not retried."""

from __future__ import annotations

import random

import pytest
from tests.doubles.llmserver import Fault

from trace2skill.errors import ProviderError
from trace2skill.llm import ChatMessage, ChatRequest, RetryPolicy
from trace2skill.llm.provider import parse_retry_after

pytestmark = pytest.mark.anyio

REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="hello")], purpose="retry-test")


@pytest.mark.parametrize("header", ["seconds", "ms"])
async def test_a_429_is_retried_after_the_servers_retry_after(server, make_llm, protocol, header):
    wait = 0.3
    fault = Fault.rate_limit(wait) if header == "seconds" else Fault.rate_limit(None, retry_after_ms=wait * 1000)
    server.script(fault, "finally")
    # A backoff schedule far shorter than Retry-After: only honouring the header explains a long gap.
    llm = make_llm(protocol, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001))
    response = await llm.chat(REQUEST)
    assert response.text == "finally"
    first, second = server.requests
    assert second.arrived_at - first.arrived_at >= wait
    assert llm.retries == 1
    await llm.aclose()


async def test_a_500_then_success_returns_the_answer_and_logs_one_ok_call(server, make_llm, protocol):
    records: list[dict] = []
    server.script(Fault.error(500), Fault.overloaded(), "recovered")
    llm = make_llm(protocol, call_log=records.extend)
    response = await llm.chat(REQUEST)
    await llm.aclose()
    assert response.text == "recovered"
    assert server.count == 3
    assert [r["outcome"] for r in records] == ["ok"]


async def test_a_hung_request_times_out_and_the_retry_succeeds(server, make_llm, protocol):
    server.script(Fault.hang(20), "after the hang")
    llm = make_llm(protocol, timeout=0.5)
    response = await llm.chat(REQUEST)
    assert response.text == "after the hang"
    assert server.count == 2
    await llm.aclose()


async def test_a_body_that_is_not_json_is_retried(server, make_llm, protocol):
    server.script(Fault.bad_body(), "clean")
    llm = make_llm(protocol)
    assert (await llm.chat(REQUEST)).text == "clean"
    await llm.aclose()


async def test_retries_give_up_with_a_clear_error_that_counts_attempts(server, make_llm, protocol):
    records: list[dict] = []
    server.script(*[Fault.error(503, "down for maintenance")] * 3)
    llm = make_llm(protocol, retry=RetryPolicy(max_attempts=3, base_delay=0.001), call_log=records.extend)
    with pytest.raises(ProviderError, match=r"failed after 3 attempts: HTTP 503: down for maintenance"):
        await llm.chat(REQUEST)
    await llm.aclose()
    assert server.count == 3
    assert records[0]["outcome"] == "error" and "503" in records[0]["error"]
    assert llm.usage_totals().errors == 1


async def test_a_permanent_error_is_not_retried(server, make_llm, protocol):
    server.script(Fault.error(401, "bad key"))
    llm = make_llm(protocol)
    with pytest.raises(ProviderError, match="HTTP 401: bad key"):
        await llm.chat(REQUEST)
    assert server.count == 1
    await llm.aclose()


def test_retry_after_headers_are_read_in_seconds_milliseconds_and_dates():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a past date: no wait
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_backoff_grows_exponentially_with_bounded_jitter_and_never_undercuts_retry_after():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(50)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert all(2.0 <= policy.delay(1, 2.0, rng=rng) <= 2.2 for _ in range(50))
    assert policy.delay(1, 10_000.0, rng=random.Random(0)) <= policy.max_retry_after * 1.1
