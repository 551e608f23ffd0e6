"""The fake server as its own process (how benchmarks run it), and details the in-thread tests lean on."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import anthropic
import openai
import pytest
from tests.doubles.llmserver import FakeLLMServer, Fault, serve


def test_the_server_runs_as_its_own_process_and_prints_its_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.llmserver", "--port", "0",
         "--handler", "tests.doubles.llmserver.handlers:echo"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        client = openai.OpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        done = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
        assert done.choices[0].message.content == "m1 heard: hi"
        client.close()
        with urllib.request.urlopen(url + "/_stats") as r:
            stats = json.load(r)
        assert stats["requests"] == 1 and stats["max_in_flight"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_error_bodies_use_each_providers_format():
    with FakeLLMServer(replies=[Fault.rate_limit(2), Fault.overloaded()]) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as rate:
            client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
        assert rate.value.type == "rate_limit_error" and rate.value.response.headers["retry-after"] == "2"
        oclient = openai.OpenAI(base_url=server.url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.APIStatusError) as over:
            oclient.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert over.value.status_code == 529 and over.value.body["type"] == "server_error"  # type: ignore[index]
        client.close()
        oclient.close()


def test_serve_yields_a_url_string_that_carries_its_server():
    with serve(lambda req: "x", latency=0.0) as url:
        assert isinstance(url, str) and url.startswith("http://127.0.0.1:")
        assert url.server.url == url and url.server.count == 0
