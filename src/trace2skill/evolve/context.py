"""What every stage of one run shares: the frozen skill, its prompts, the model, the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, TypeVar

from pydantic import BaseModel

from trace2skill.evaluators.base import EvaluatorResolver, resolver_for
from trace2skill.evolve.apply import DEFAULT_PROTECTED
from trace2skill.evolve.prompting import render_skill, system_prompt
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolSpec
from trace2skill.models import EvolutionConfig, Skill

__all__ = ["DEFAULT_PROTECTED", "ChatLLM", "RunContext"]

T = TypeVar("T", bound=BaseModel)


class ChatLLM(Protocol):
    """The part of `trace2skill.llm.LLM` the pipeline uses."""

    async def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def structured(self, request: ChatRequest, model: type[T]) -> tuple[T, ChatResponse]: ...


@dataclass
class RunContext:
    """One run's frozen state. `system(role)` is computed once, so every call shares it byte for byte."""

    run_id: str
    config: EvolutionConfig
    llm: ChatLLM
    base: Skill
    protected: frozenset[str] = DEFAULT_PROTECTED
    resolve_evaluator: EvaluatorResolver = field(default_factory=resolver_for)
    max_tokens: int = 4096
    _systems: dict[str, str] = field(default_factory=dict, repr=False)

    @cached_property
    def skill_view(self) -> str:
        return render_skill(self.base)

    def system(self, role: str) -> str:
        text = self._systems.get(role)
        if text is None:
            text = self._systems[role] = system_prompt(role, self.skill_view, self.protected)
        return text

    def request(
        self,
        role: str,
        messages: list[ChatMessage],
        *,
        purpose: str,
        tools: list[ToolSpec] | None = None,
        tool_choice: str | None = None,
    ) -> ChatRequest:
        return ChatRequest(
            system=self.system(role),
            messages=messages,
            tools=tools or [],
            tool_choice=tool_choice,
            max_tokens=self.max_tokens,
            purpose=purpose,
            run_id=self.run_id,
        )
