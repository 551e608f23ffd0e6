from __future__ import annotations

import anthropic
import pytest
from tests.doubles.llmserver.process import server_call, server_process


@pytest.mark.anyio
async def test_the_server_in_its_own_process_answers_and_reports_its_stats():
    with server_process(0.0, "tests.doubles.llmserver.handlers:ok") as url:
        client = anthropic.AsyncAnthropic(base_url=url, api_key="x", max_retries=0)
        reply = await client.messages.create(model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        await client.close()
        assert reply.content
        assert server_call(url, "/_stats")["requests"] == 1
        server_call(url, "/_reset", "POST")
        assert server_call(url, "/_stats")["requests"] == 0
