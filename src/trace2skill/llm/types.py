"""The provider-neutral shapes of one LLM call.

Every provider (Anthropic, OpenAI and compatible endpoints, a local llama.cpp model, MCP sampling,
and the tests' scripted double) takes a `ChatRequest` and returns a `ChatResponse`. Nothing here
knows what a skill is.

Prompt layout for provider-side prefix caching: `system` holds the shared, byte-identical prefix
(instructions and the frozen skill). Put per-call material in `messages`. With `cache_system`
the Anthropic provider marks the end of the system prompt with `cache_control`; OpenAI caches
stable prefixes on its own.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ToolCall",
    "ToolSpec",
    "Usage",
]


class ToolSpec(BaseModel):
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] | str = Field(
        default_factory=dict, description="Parsed JSON arguments; the raw string when unparseable."
    )


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list, description="assistant only")
    tool_call_id: str | None = Field(default=None, description="tool only: the call this answers")
    is_error: bool = Field(default=False, description="tool only")


class ChatRequest(BaseModel):
    """One call. `model` is the provider's own model name (the part after `provider:`)."""

    model: str = ""
    system: str = ""
    messages: list[ChatMessage]
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: str | None = Field(
        default=None, description="None (model decides), 'required', 'none', or a tool name to force"
    )
    response_schema: dict[str, Any] | None = Field(
        default=None, description="JSON schema the text answer must satisfy (structured output)"
    )
    response_schema_name: str = "answer"
    max_tokens: int = 4096
    temperature: float | None = None
    cache_system: bool = True
    purpose: str = Field(default="", description="What the call is for, for the call log: 'analyst', 'merge'...")
    run_id: str | None = Field(default=None, description="Evolution run the call belongs to, for the call log")


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = Field(default=0, description="input tokens read from the provider's prompt cache")
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )


class ChatResponse(BaseModel):
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    model: str = ""
    provider: str = ""
    stop_reason: str | None = None
    cost_usd: float = 0.0
    latency_s: float = 0.0
    from_cache: bool = Field(default=False, description="served from trace2skill's response cache")
