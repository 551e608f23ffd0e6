"""A real GGUF model through llama-cpp-python (run by `make test-local`, which installs both first)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from trace2skill.home import Home
from trace2skill.llm import ChatMessage, ChatRequest, open_llm

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

MODEL = "qwen2.5-coder-0.5b"


class Capital(BaseModel):
    city: str = Field(min_length=1, max_length=40)
    country: str = Field(min_length=1, max_length=40)
    population_millions: float = Field(ge=0)  # llama.cpp grammars enforce structure and types, not bounds
    landmarks: list[str] = Field(max_length=3)


@pytest.fixture
def local_llm():
    pytest.importorskip("llama_cpp", reason="needs the `local` extra (make test-local)")
    home = Home.resolve()
    if not (home.models_dir / f"{MODEL}.gguf").is_file():
        pytest.skip(f"model not installed: trace2skill models install {MODEL}")
    return open_llm(f"local:{MODEL}", home=home)


async def test_the_real_model_gives_a_schema_valid_structured_answer(local_llm):
    request = ChatRequest(
        system="You answer geography questions with facts.",
        messages=[ChatMessage(role="user", content="What is the capital of France? Name up to three landmarks.")],
        max_tokens=200,
        purpose="local-test",
    )
    capital, response = await local_llm.structured(request, Capital)
    assert isinstance(capital, Capital)
    assert "paris" in capital.city.lower()
    assert response.provider == "local" and response.usage.output_tokens > 0
    assert local_llm.usage_totals().calls in (1, 2)  # at most one repair round
    await local_llm.aclose()


async def test_the_real_model_answers_a_plain_chat(local_llm):
    request = ChatRequest(messages=[ChatMessage(role="user", content="Say hello in French, one word.")], max_tokens=16)
    response = await local_llm.chat(request)
    assert response.text.strip()
    assert response.usage.input_tokens > 0
    await local_llm.aclose()
