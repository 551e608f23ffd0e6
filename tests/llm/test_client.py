"""The LLM layer's cache key: what decides whether a saved answer is reused (resume never pays twice)."""

from __future__ import annotations

import hashlib

from tests.doubles.scripted import ScriptedProvider

from trace2skill.llm.client import LLM
from trace2skill.llm.types import ChatMessage, ChatRequest


def _request(**fields: object) -> ChatRequest:
    hello = [ChatMessage(role="user", content="hi")]
    base: dict[str, object] = {"model": "m", "system": 'sys ü "q"', "messages": hello}
    return ChatRequest.model_validate({**base, **fields})


def test_the_key_is_the_sha256_of_the_provider_and_the_request_json_without_purpose_or_run() -> None:
    llm = LLM(ScriptedProvider([]))
    request = _request(purpose="analyse.error", run_id="r_1")
    body = request.model_dump_json(exclude={"purpose", "run_id"})
    expected = hashlib.sha256(llm.provider.identity.encode() + b"\n" + body.encode()).hexdigest()
    assert llm.request_key(request) == expected
    # a key written before this scheme was spelled out (the same bytes, hashed in two parts)
    assert llm.request_key(_request()) == "0bf6615348e59e45cbd3a339c71131268123922dc3f5959032ea9bc45c2ed696"


def test_purpose_and_run_do_not_change_the_key_and_everything_else_does() -> None:
    llm = LLM(ScriptedProvider([]))
    key = llm.request_key(_request())
    assert llm.request_key(_request(purpose="merge", run_id="r_2")) == key
    assert llm.request_key(_request(system="other")) != key
    assert llm.request_key(_request(model="m2")) != key
    assert llm.request_key(_request(messages=[ChatMessage(role="user", content="ho")])) != key
