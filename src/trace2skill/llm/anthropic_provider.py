"""Anthropic Messages API through the official `anthropic` SDK: `messages.create`, or `messages.stream`.

Structured output uses one forced tool whose input schema is the answer's schema: it is
provider-neutral and works on every Anthropic-compatible endpoint. The system prompt is sent as one
text block with `cache_control` at its end when `cache_system` is set, so the shared prefix is cached.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
from anthropic.types import Message

from trace2skill.llm.provider import RetryableError, SDKProvider, classify
from trace2skill.llm.structured import answer_tool_name
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolCall, Usage

__all__ = ["AnthropicProvider"]

# Above this, a non-streamed answer may take longer than the API's 10-minute limit for one response
# (the SDK's own rule: 128k tokens an hour), so the call streams instead.
STREAM_ABOVE_MAX_TOKENS = 21_333

ANSWER_TOOL_DESCRIPTION = "Give your final answer by calling this tool with arguments that match its schema."


class AnthropicProvider(SDKProvider):
    name = "anthropic"
    sdk = anthropic
    default_concurrency = 16
    key_envs = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
    base_url_env = "ANTHROPIC_BASE_URL"
    alternatives = "openai:..., local:..."

    def _make_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=self.timeout,
            http_client=self.http_client(),
            open_telemetry=False,
        )

    def params(self, request: ChatRequest) -> dict[str, Any]:
        """The `messages.create` arguments for a request."""
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "max_tokens": request.max_tokens,
            "messages": to_messages(request.messages),
        }
        if request.system:
            params["system"] = self._system(request.system, request.cache_system)
        # No temperature: the Messages API of anthropic 2.x takes none (it stays part of the cache key).
        tools = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools]
        choice = request.tool_choice
        if request.response_schema is not None:
            name = answer_tool_name(request.response_schema_name)
            tools.append(
                {"name": name, "description": ANSWER_TOOL_DESCRIPTION, "input_schema": request.response_schema}
            )
            choice = name
        if tools:
            params["tools"] = tools
            if choice == "required":
                params["tool_choice"] = {"type": "any"}
            elif choice in ("none", "auto"):
                params["tool_choice"] = {"type": choice}
            elif choice:
                params["tool_choice"] = {"type": "tool", "name": choice}
        return params

    async def chat(self, request: ChatRequest) -> ChatResponse:
        client = self.client()
        try:
            if self.stream or request.max_tokens > STREAM_ABOVE_MAX_TOKENS:
                async with client.messages.stream(**self.params(request)) as events:
                    message = await events.get_final_message()
            else:
                message = await client.messages.create(**self.params(request))
        except anthropic.APIStatusError as e:
            raise classify(e.status_code, e.response.headers, _error_text(e)) from e
        except anthropic.APITimeoutError as e:
            raise self.connection_error(e, f"anthropic request timed out after {self.timeout:g}s") from e
        except anthropic.APIConnectionError as e:
            raise self.connection_error(e, f"anthropic connection failed: {e.__cause__ or e}") from e
        except (ValueError, anthropic.AnthropicError) as e:
            raise RetryableError(f"anthropic returned an unreadable response: {e}") from e
        try:
            return self.to_response(message, request)
        except (KeyError, TypeError, AttributeError) as e:
            raise RetryableError(f"anthropic returned an unexpected message shape: {e!r}") from e

    def to_response(self, message: Message, request: ChatRequest) -> ChatResponse:
        """The SDK's Message to a ChatResponse; the forced answer tool's input becomes the text."""
        texts: list[str] = []
        calls: list[ToolCall] = []
        answer_name = answer_tool_name(request.response_schema_name) if request.response_schema is not None else None
        answer: str | None = None
        for block in message.content:
            if block.type == "text":
                texts.append(block.text or "")
            elif block.type == "tool_use":
                if block.name == answer_name and answer is None:
                    answer = json.dumps(block.input)
                else:
                    calls.append(ToolCall(id=block.id, name=block.name, arguments=block.input or {}))
        u = message.usage
        read = u.cache_read_input_tokens or 0
        write = u.cache_creation_input_tokens or 0
        usage = Usage(
            input_tokens=(u.input_tokens or 0) + read + write,
            output_tokens=u.output_tokens or 0,
            cached_tokens=read,
            cache_write_tokens=write,
        )
        return ChatResponse(
            text=answer if answer is not None else "".join(texts),
            tool_calls=calls,
            usage=usage,
            model=message.model or self.model,
            provider=self.name,
            stop_reason=message.stop_reason,
        )

    @staticmethod
    def _system(text: str, cached: bool) -> Any:
        """The `system` parameter: one text block ending in a `cache_control` mark, or plain text."""
        return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}] if cached else text

    async def aclose(self) -> None:
        client = self._client.peek()
        self._client.clear()
        if client is not None:
            await client.close()


def _error_text(e: Any) -> str:
    return str(getattr(e, "api_message", None) or getattr(e, "message", None) or e)


def to_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    """Chat messages to Anthropic's: tool results travel as `tool_result` blocks in one user turn."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "assistant":
            if m.tool_calls:
                blocks: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
                for call in m.tool_calls:
                    args = call.arguments if isinstance(call.arguments, dict) else {"raw": call.arguments}
                    blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": args})
                out.append({"role": "assistant", "content": blocks})
            else:
                out.append({"role": "assistant", "content": m.content})
            continue
        if m.role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
            if m.is_error:
                block["is_error"] = True
        else:
            block = {"type": "text", "text": m.content}
        last = out[-1] if out else None
        if last is not None and last["role"] == "user" and (m.role == "tool" or _has_tool_result(last)):
            if isinstance(last["content"], str):
                last["content"] = [{"type": "text", "text": last["content"]}]
            last["content"].append(block)
        elif m.role == "tool":
            out.append({"role": "user", "content": [block]})
        else:
            out.append({"role": "user", "content": m.content})
    return out


def _has_tool_result(message: dict[str, Any]) -> bool:
    content = message["content"]
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)
