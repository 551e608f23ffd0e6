"""Per-stage settings of a run: how many output tokens each kind of call may write, and which model writes it.

One cap for every call was wrong both ways: 4,096 tokens is too little for a final merge of a large
run (whose answer then failed and fell back to pass-through) and more than an analyst turn needs.
Each stage gets its own budget, the merge the largest. `max_tokens` costs nothing unless it is used,
so a generous cap is cheap; a cap that is too small costs a whole wasted call.

Models: the analysts use `analyst_model`; the editing stages (proposals, merges, anchor repairs,
validation fixes and the create-mode draft) use `merge_model`; each falls back to `model`. The draft
counts as editing because it is authoring a skill, the same capability the merge needs.

On OpenAI reasoning models (o-series, gpt-5) `max_completion_tokens` counts the hidden reasoning
tokens too: a budget there is reasoning plus answer, so raise it (`OutputBudgets(merge=...)`) rather
than let merges split for want of room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from trace2skill.llm.types import ChatRequest, ChatResponse

__all__ = [
    "CUT_OFF_REASONS",
    "EDITING_STAGES",
    "OutputBudgets",
    "Stage",
    "StageLLM",
    "cut_off",
    "stage_of_role",
]

T = TypeVar("T", bound=BaseModel)

Stage = Literal["analyst", "proposal", "merge", "draft", "repair"]
EDITING_STAGES: frozenset[str] = frozenset({"proposal", "merge", "draft", "repair"})
"""Stages served by the editor model (`merge_model`); the rest by `analyst_model`."""

CUT_OFF_REASONS = frozenset({"max_tokens", "length"})
"""Stop reasons meaning the answer hit its output cap (Anthropic, OpenAI)."""


@dataclass(frozen=True)
class OutputBudgets:
    """Max output tokens per stage. Override in code: `RunContext(..., budgets=OutputBudgets(merge=32_000))`.

    Anthropic's SDK streams calls above about 21k tokens; these stay below it.
    """

    analyst: int = 8192
    proposal: int = 8192
    merge: int = 16384
    draft: int = 12288
    repair: int = 8192

    def of(self, stage: Stage) -> int:
        return int(getattr(self, stage))


def stage_of_role(role: str) -> Stage:
    """The stage a prompt role belongs to ('merger.success' → merge); analysts' roles are the rest."""
    base = role.partition(".")[0]
    if base == "merger":
        return "merge"
    if base == "proposer":
        return "proposal"
    return "analyst"


def cut_off(response: ChatResponse) -> bool:
    """Did the answer stop at its output cap (so it may be incomplete even when it parses)?"""
    return response.stop_reason in CUT_OFF_REASONS


class _LLM(Protocol):
    async def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def structured(self, request: ChatRequest, model: type[T]) -> tuple[T, ChatResponse]: ...


class StageLLM:
    """An LLM whose every request gets one stage's output budget and the run's temperature.

    For steps that build their own requests (anchor repair, validation fixes, the draft), so they
    follow the stage settings without knowing about them.
    """

    def __init__(self, llm: _LLM, max_tokens: int, temperature: float | None = None) -> None:
        self.llm, self.max_tokens, self.temperature = llm, max_tokens, temperature

    def _fit(self, request: ChatRequest) -> ChatRequest:
        update: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.temperature is not None and request.temperature is None:
            update["temperature"] = self.temperature
        return request.model_copy(update=update)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await self.llm.chat(self._fit(request))

    async def structured(self, request: ChatRequest, model: type[T]) -> tuple[T, ChatResponse]:
        return await self.llm.structured(self._fit(request), model)
