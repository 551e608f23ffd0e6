"""The local provider's own rules, without loading a model: a stand-in llama object records the call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trace2skill.llm.local import LocalProvider
from trace2skill.llm.types import ChatMessage, ChatRequest


class RecordingLlama:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {}}


def _provider(tmp_path: Path, **options: Any) -> tuple[LocalProvider, RecordingLlama]:
    provider = LocalProvider(tmp_path / "m.gguf", **options)
    llama = RecordingLlama()
    provider._llama = llama  # the loaded model, replaced before first use
    return provider, llama


def test_a_request_for_more_output_than_a_small_model_should_write_is_capped(tmp_path: Path) -> None:
    provider, llama = _provider(tmp_path, max_output_tokens=300)
    provider._chat(ChatRequest(messages=[ChatMessage(role="user", content="merge these")], max_tokens=16_384))
    provider._chat(ChatRequest(messages=[ChatMessage(role="user", content="short")], max_tokens=100))
    assert [c["max_tokens"] for c in llama.calls] == [300, 100]


def test_the_default_cap_leaves_room_in_the_context(tmp_path: Path) -> None:
    provider, _ = _provider(tmp_path)
    assert provider.max_output_tokens <= provider.n_ctx // 4
