"""What every stage of one run shares: the frozen skill, its prompts, the models, the settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

from trace2skill.evaluators.base import EvaluatorResolver, resolver_for
from trace2skill.evolve.apply import DEFAULT_PROTECTED
from trace2skill.evolve.prompting import render_skill, system_prompt
from trace2skill.evolve.stages import OutputBudgets, Stage, StageLLM, stage_of_role
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolSpec
from trace2skill.models import EvolutionConfig, Skill, Trajectory

__all__ = ["DEFAULT_PROTECTED", "ChatLLM", "Evidence", "OutputBudgets", "RunContext", "evidence_of", "evidence_variant"]

T = TypeVar("T", bound=BaseModel)

Evidence = Literal["failure", "success"]


class ChatLLM(Protocol):
    """The part of `trace2skill.llm.LLM` the pipeline uses."""

    async def chat(self, request: ChatRequest) -> ChatResponse: ...

    async def structured(self, request: ChatRequest, model: type[T]) -> tuple[T, ChatResponse]: ...


def evidence_of(trajectories: Iterable[Trajectory]) -> dict[str, Evidence]:
    """Trajectory id → the kind of evidence its lessons are: a success teaches differently from a failure."""
    return {t.id: ("success" if t.outcome.status == "success" else "failure") for t in trajectories if t.id}


def evidence_variant(evidence: dict[str, Evidence], support: Iterable[str]) -> str:
    """'failure', 'success' or 'mixed': the prompt variant for edits with this support.

    Unknown trajectories count as failures, the conservative reading (failure prompts add no caution
    the evidence would not bear)."""
    kinds = {evidence.get(t, "failure") for t in support} or {"failure"}
    return kinds.pop() if len(kinds) == 1 else "mixed"


@dataclass
class RunContext:
    """One run's frozen state. `system(role)` is computed once, so every call shares it byte for byte.

    `llm` serves the analysts (and every stage when `editor_llm` is None); `editor_llm` serves the
    editing stages (`stages.EDITING_STAGES`). `evidence` says which trajectories failed and which
    succeeded, for the prompts that must weigh them differently."""

    run_id: str
    config: EvolutionConfig
    llm: ChatLLM
    base: Skill
    protected: frozenset[str] = DEFAULT_PROTECTED
    resolve_evaluator: EvaluatorResolver = field(default_factory=resolver_for)
    editor_llm: ChatLLM | None = None
    budgets: OutputBudgets = field(default_factory=OutputBudgets)
    evidence: dict[str, Evidence] = field(default_factory=dict)
    _systems: dict[str, str] = field(default_factory=dict, repr=False)

    @cached_property
    def skill_view(self) -> str:
        return render_skill(self.base)

    @property
    def editor(self) -> ChatLLM:
        """The LLM of proposals, merges and repairs."""
        return self.editor_llm if self.editor_llm is not None else self.llm

    def llm_for(self, stage: Stage) -> ChatLLM:
        """The stage's LLM with the stage's output budget and the run's temperature on every request."""
        llm = self.llm if stage == "analyst" else self.editor
        return StageLLM(llm, self.budgets.of(stage), self.config.temperature)

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
        stage: Stage | None = None,
    ) -> ChatRequest:
        """A request for `role` ('merger.success', 'error_analyst', ...) with its stage's output budget."""
        return ChatRequest(
            system=self.system(role),
            messages=messages,
            tools=tools or [],
            tool_choice=tool_choice,
            max_tokens=self.budgets.of(stage or stage_of_role(role)),
            temperature=self.config.temperature,
            purpose=purpose,
            run_id=self.run_id,
        )
