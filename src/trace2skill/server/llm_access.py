"""Which model an evolve_skill call uses: the server's own provider first, MCP sampling second.

Sampling (the client's own model answers) needs the server to send requests to the client in the
middle of a tool call. That works on handshake-era connections (protocol 2025-11-25 and earlier)
through `ctx.session.create_message`; on 2026-07-28 connections a server cannot call the client
mid-call (requests travel only inside results), so a long multi-call evolution cannot use it. When
neither is available, the tool error says exactly how to configure a provider.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from trace2skill.errors import InvalidInput
from trace2skill.llm import parse_model
from trace2skill.llm.sampling import CreateMessage
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolCall
from trace2skill.server.config import DEFAULT_MODELS, MODEL_ENV, ServerConfig, server_model
from trace2skill.server.state import AppState

__all__ = ["LLMChoice", "choose_llm", "no_model_message", "sampling_bridge", "sampling_status"]


@dataclass(frozen=True)
class LLMChoice:
    model: str
    """provider:model string recorded with the run (`sampling` for the client's model)."""
    source: str
    sampling: CreateMessage | None = None


def sampling_status(ctx: Context[AppState, Any]) -> tuple[bool, str]:
    """(usable, why not) for MCP sampling on this connection."""
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        return False, "the client did not offer sampling"
    if ctx.protocol_version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return False, (
            f"the client offers sampling, but this connection speaks protocol {ctx.protocol_version}, where a "
            "server cannot send requests to the client in the middle of a tool call"
        )
    return True, ""


def no_model_message(why_no_sampling: str) -> str:
    keys = " or ".join(f"${key} (uses {model})" for key, model in DEFAULT_MODELS)
    return (
        "no model to evolve with. Configure the server's provider: set "
        f"{keys} in the server's environment, or ${MODEL_ENV}=provider:model "
        "(e.g. anthropic:claude-sonnet-4-5, openai:gpt-5-mini, openai:NAME@http://127.0.0.1:8000/v1 for a local "
        "OpenAI-compatible server), or start it with `trace2skill serve --model provider:model`; "
        "or pass model='provider:model' to this tool. "
        f"MCP sampling is not available: {why_no_sampling}."
    )


def _requested(requested: str, config: ServerConfig, ctx: Context[AppState, Any]) -> LLMChoice:
    if requested.strip() == "sampling":
        usable, why = sampling_status(ctx)
        if not usable:
            raise ToolError(f"model 'sampling' asks the client's own model, but {why}")
        return LLMChoice("sampling", "sampling", sampling_bridge(ctx))
    try:
        spec = parse_model(requested)
    except InvalidInput as e:
        raise ToolError(str(e)) from None
    configured = server_model(config)
    if spec.base_url is not None and (configured is None or configured[0] != requested):
        raise ToolError(
            f"model {requested!r} names its own base URL; only whoever starts the server may do that "
            f"(`trace2skill serve --model ...` or ${MODEL_ENV}), because provider credentials would be sent there"
        )
    return LLMChoice(requested, "argument")


def choose_llm(ctx: Context[AppState, Any], config: ServerConfig, requested: str | None) -> LLMChoice:
    """The model for one evolve_skill call; ToolError with setup instructions when there is none."""
    if requested:
        return _requested(requested, config, ctx)
    configured = server_model(config)
    if configured is not None:
        return LLMChoice(*configured)
    usable, why = sampling_status(ctx)
    if usable:
        return LLMChoice("sampling", "sampling", sampling_bridge(ctx))
    raise ToolError(no_model_message(why))


# --- the sampling bridge -------------------------------------------------------------------------


def _sampling_tools(request: ChatRequest) -> list[types.Tool]:
    return [types.Tool(name=t.name, description=t.description, input_schema=t.input_schema) for t in request.tools]


def _message(m: ChatMessage, with_tools: bool) -> types.SamplingMessage:
    if m.role == "tool":
        if with_tools:
            block: Any = types.ToolResultContent(
                tool_use_id=m.tool_call_id or "", content=[types.TextContent(text=m.content)], is_error=m.is_error
            )
            return types.SamplingMessage(role="user", content=[block])
        return types.SamplingMessage(role="user", content=types.TextContent(text=f"Tool result:\n{m.content}"))
    if m.role == "assistant" and m.tool_calls:
        if with_tools:
            blocks: list[Any] = [types.TextContent(text=m.content)] if m.content else []
            blocks += [
                types.ToolUseContent(
                    id=c.id, name=c.name, input=c.arguments if isinstance(c.arguments, dict) else {"raw": c.arguments}
                )
                for c in m.tool_calls
            ]
            return types.SamplingMessage(role="assistant", content=blocks)
        calls = "\n".join(f"[tool call {c.name}: {json.dumps(c.arguments)}]" for c in m.tool_calls)
        return types.SamplingMessage(role="assistant", content=types.TextContent(text=f"{m.content}\n{calls}".strip()))
    return types.SamplingMessage(role=m.role, content=types.TextContent(text=m.content))


def sampling_bridge(ctx: Context[AppState, Any]) -> CreateMessage:
    """A `CreateMessage` for `trace2skill.llm.SamplingProvider` that asks the connected client's model.

    Tools travel as sampling tools when the client declared `sampling.tools`; otherwise tool
    calls and results are folded into the text of the conversation.
    """
    caps = ctx.client_capabilities
    with_tools = bool(caps and caps.sampling and caps.sampling.tools is not None)
    session = ctx.session
    related = ctx.request_id

    async def create_message(request: ChatRequest) -> ChatResponse:
        use_tools = with_tools and bool(request.tools)
        kwargs: dict[str, Any] = {}
        if use_tools:
            kwargs["tools"] = _sampling_tools(request)
            if request.tool_choice == "none":
                kwargs["tool_choice"] = types.ToolChoice(mode="none")
            elif request.tool_choice:  # "required", or one named tool (sampling cannot name one)
                kwargs["tool_choice"] = types.ToolChoice(mode="required")
        with warnings.catch_warnings():  # sampling is deprecated in 2026-07-28; here it is the deliberate fallback
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            pending = session.create_message(
                [_message(m, use_tools) for m in request.messages],
                max_tokens=request.max_tokens,
                system_prompt=request.system or None,
                temperature=request.temperature,
                related_request_id=related,
                **kwargs,
            )
        result = await pending
        blocks = result.content if isinstance(result.content, list) else [result.content]
        text = "".join(b.text for b in blocks if isinstance(b, types.TextContent))
        uses = [b for b in blocks if isinstance(b, types.ToolUseContent)]
        calls = [ToolCall(id=b.id, name=b.name, arguments=b.input) for b in uses]
        return ChatResponse(text=text, tool_calls=calls, model=result.model, stop_reason=result.stop_reason)

    return create_message
