"""A local server that speaks the Anthropic Messages and OpenAI Chat Completions wire protocols.

Tests, benchmarks and the demo point the real `anthropic` / `openai` SDK clients at it, so the SDKs'
own request building, SSE parsing and error mapping run for real. It answers from a queue of
scripted replies or a handler, injects faults (error statuses, 429 with Retry-After, hangs,
malformed JSON), adds latency, counts prompt-cache reads for a repeated `cache_control` prefix, and
records what it received.

In a test::

    with FakeLLMServer(handler) as server:          # or: with serve(handler) as url: ...
        client = anthropic.AsyncAnthropic(base_url=server.url, api_key="x")
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key="x")

As its own process (benchmarks)::

    python -m tests.doubles.llmserver --port 0 --latency 0.2 --handler module:function

prints the bound URL on its first line; `GET /_stats` and `POST /_reset` inspect it remotely.
"""

from tests.doubles.llmserver._script import Fault, Reply, ServerRequest, count_tokens
from tests.doubles.llmserver._server import FakeLLMServer, Handler, ServerURL, serve

__all__ = ["FakeLLMServer", "Fault", "Handler", "Reply", "ServerRequest", "ServerURL", "count_tokens", "serve"]
