"""OpenAI Chat Completions, and every compatible endpoint (vLLM, Ollama, llama.cpp server, LM Studio).

Structured output asks for a strict `json_schema` response format where the schema allows it. An
endpoint that rejects `json_schema` gets `json_object` plus the schema in the prompt, and one that
rejects that too gets the prompt alone; the provider remembers the endpoint's answer so it pays for
the rejection once. OpenAI caches stable prompt prefixes itself: the system prompt goes first.
Calls go through the SDK's `chat.completions.create`, or `chat.completions.stream` when streaming.
"""

from __future__ import annotations

import json
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from trace2skill.errors import ProviderError
from trace2skill.llm.provider import RetryableError, SDKProvider, classify
from trace2skill.llm.structured import answer_tool_name, strict_schema
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolCall, Usage

__all__ = ["OpenAIProvider"]

FORMAT_MODES = ("json_schema", "json_object", "prompt")


class OpenAIProvider(SDKProvider):
    name = "openai"
    sdk = openai
    default_concurrency = 16
    key_envs = ("OPENAI_API_KEY",)
    base_url_env = "OPENAI_BASE_URL"
    alternatives = "anthropic:..., local:..."

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        # The official API wants max_completion_tokens; compatible servers widely accept only max_tokens.
        self._max_tokens_key = "max_tokens" if self.custom_endpoint else "max_completion_tokens"
        self.format_mode = "json_schema"
        self._schema_cache: dict[str, tuple[dict[str, Any], bool]] = {}

    def _make_client(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=self.timeout,
            http_client=self.http_client(),
        )

    def params(self, request: ChatRequest, mode: str | None = None) -> dict[str, Any]:
        """The `chat.completions.create` arguments for a request, with structured output in the given mode."""
        mode = mode or self.format_mode
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        schema = request.response_schema
        if schema is not None and mode != "json_schema":
            instruction = (
                "Reply with only a JSON object (no prose, no code fence) that matches this JSON schema:\n"
                + json.dumps(schema)
            )
            messages.append({"role": "system", "content": instruction})
        messages.extend(to_messages(request.messages))
        params: dict[str, Any] = {
            "messages": messages,
            "model": request.model or self.model,
            self._max_tokens_key: request.max_tokens,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
                }
                for t in request.tools
            ]
            choice = request.tool_choice
            if choice in ("required", "none", "auto"):
                params["tool_choice"] = choice
            elif choice:
                params["tool_choice"] = {"type": "function", "function": {"name": choice}}
        if schema is not None:
            if mode == "json_schema":
                body, strict = self._strict(schema)
                params["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": answer_tool_name(request.response_schema_name),
                        "schema": body,
                        "strict": strict,
                    },
                }
            elif mode == "json_object":
                params["response_format"] = {"type": "json_object"}
        if self.stream:
            params["stream_options"] = {"include_usage": True}
        return params

    def _strict(self, schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        key = json.dumps(schema, sort_keys=True)
        found = self._schema_cache.get(key)
        if found is None:
            strict = strict_schema(schema)
            found = (strict, True) if strict is not None else (schema, False)
            self._schema_cache[key] = found
        return found

    async def chat(self, request: ChatRequest) -> ChatResponse:
        while True:
            mode = self.format_mode
            try:
                return await self._once(request, mode)
            except openai.BadRequestError as e:
                if request.response_schema is None or not _rejects_format(e) or mode == FORMAT_MODES[-1]:
                    raise ProviderError(f"HTTP {e.status_code}: {_error_text(e)}") from e
                # The endpoint does not do this response format: remember, and step down once.
                if self.format_mode == mode:
                    self.format_mode = FORMAT_MODES[FORMAT_MODES.index(mode) + 1]

    async def _once(self, request: ChatRequest, mode: str) -> ChatResponse:
        client = self.client()
        try:
            if self.stream:
                async with client.chat.completions.stream(**self.params(request, mode)) as events:
                    completion: ChatCompletion = await events.get_final_completion()
            else:
                completion = await client.chat.completions.create(**self.params(request, mode))
        except openai.BadRequestError:
            raise
        except openai.APIStatusError as e:
            raise classify(e.status_code, e.response.headers, _error_text(e)) from e
        except openai.APITimeoutError as e:  # the aiohttp client reports a refused connection as a timeout
            raise self.connection_error(e, f"openai request timed out after {self.timeout:g}s") from e
        except openai.APIConnectionError as e:
            raise self.connection_error(e, f"openai connection failed: {e.__cause__ or e}") from e
        except (ValueError, openai.OpenAIError) as e:
            raise RetryableError(f"openai returned an unreadable response: {e}") from e
        try:
            return self.to_response(completion)
        except (KeyError, TypeError, AttributeError, IndexError) as e:
            raise RetryableError(f"openai returned an unexpected completion shape: {e!r}") from e

    def to_response(self, completion: ChatCompletion) -> ChatResponse:
        """The SDK's ChatCompletion to a ChatResponse."""
        if not completion.choices:
            raise RetryableError("openai returned no choices")
        choice = completion.choices[0]
        message = choice.message
        calls = []
        for call in message.tool_calls or []:
            fn = call.function  # type: ignore[union-attr]  # function tool calls: the only kind requested
            raw = fn.arguments or ""
            try:
                args: dict[str, Any] | str = json.loads(raw) if raw else {}
            except ValueError:
                args = raw
            calls.append(ToolCall(id=call.id, name=fn.name, arguments=args))
        usage = Usage()
        u = completion.usage
        if u:
            details = u.prompt_tokens_details
            usage = Usage(
                input_tokens=u.prompt_tokens or 0,
                output_tokens=u.completion_tokens or 0,
                cached_tokens=(details and details.cached_tokens) or 0,
                # not in OpenAI's schema; some compatible servers report it, and the SDK keeps unknown fields
                cache_write_tokens=getattr(details, "cache_write_tokens", None) or 0,
            )
        return ChatResponse(
            text=message.content or "",
            tool_calls=calls,
            usage=usage,
            model=completion.model or self.model,
            provider=self.name,
            stop_reason=choice.finish_reason,
        )

    async def aclose(self) -> None:
        client = self._client.peek()
        self._client.clear()
        if client is not None:
            await client.close()


def _error_text(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(e, "message", None) or e)


def _rejects_format(e: openai.BadRequestError) -> bool:
    text = _error_text(e).lower()
    return "response_format" in text or "json_schema" in text or "json_object" in text


def to_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.name,
                                "arguments": c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments),
                            },
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out
