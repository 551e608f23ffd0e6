"""A local GGUF model through llama-cpp-python (the `local` extra), for runs with no network or key.

The model runs in a worker thread, one call at a time (one model uses both cores). Structured
output is constrained by the schema (`response_format={"type": "json_object", "schema": ...}`);
the Qwen models wrap free answers in a ```json fence, which is stripped.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import anyio

from trace2skill.errors import ProviderError
from trace2skill.llm.provider import Provider
from trace2skill.llm.structured import answer_tool_name, extract_json
from trace2skill.llm.types import ChatRequest, ChatResponse, ToolCall, Usage

__all__ = ["LocalProvider", "resolve_model_path"]


def resolve_model_path(model: str, models_dir: Path) -> Path:
    """`NAME` (installed with `trace2skill models install NAME`) or a path to a .gguf file."""
    if model.endswith(".gguf") or os.sep in model or "/" in model:
        path = Path(model).expanduser()
        if not path.is_file():
            raise ProviderError(f"local model file not found: {path}")
        return path
    path = models_dir / f"{model}.gguf"
    if not path.is_file():
        raise ProviderError(f"local model {model!r} is not installed: run `trace2skill models install {model}`")
    return path


class LocalProvider(Provider):
    name = "local"
    default_concurrency = 1
    free = True

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 16384,
        n_threads: int | None = None,
        seed: int = 0,
        max_output_tokens: int = 2048,
    ) -> None:
        self.path = Path(path)
        self.model = self.path.stem
        self.n_ctx = n_ctx
        self.max_output_tokens = max_output_tokens
        self.n_threads = n_threads or min(2, os.cpu_count() or 1)
        self.seed = seed
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def identity(self) -> str:
        return f"local:{self.path}"

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ProviderError(
                    "llama-cpp-python is not installed: pip install 'trace2skill[local]' (compiles in ~5 minutes)"
                ) from e
            self._llama = Llama(
                model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False, seed=self.seed
            )
        return self._llama

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await anyio.to_thread.run_sync(self._chat, request)

    def _chat(self, request: ChatRequest) -> ChatResponse:
        schema, forced = _answer_schema(request)
        kwargs: dict[str, Any] = {
            "messages": to_messages(request, forced is None),
            "temperature": 0.0 if request.temperature is None else request.temperature,
            # A small model on two cores that runs on for a 16k-token merge budget costs half an hour per call
            # (seen: a merge still going after 22 minutes); a longer answer is cut off and handled as one.
            "max_tokens": min(request.max_tokens, self.max_output_tokens),
        }
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        with self._lock:
            try:
                out = self._load().create_chat_completion(**kwargs)
            except ProviderError:
                raise
            except Exception as e:  # llama.cpp raises ValueError for a prompt longer than n_ctx, among others
                raise ProviderError(f"local model {self.model} failed: {e}") from e
        choice = out["choices"][0]
        text = choice["message"].get("content") or ""
        calls: list[ToolCall] = []
        if schema is not None:
            text = _unfence(text)
            if forced is not None:
                try:
                    args = extract_json(text)
                except ValueError:
                    args = text
                calls.append(ToolCall(id="call_local_0", name=forced, arguments=args))
                text = ""
        usage = out.get("usage") or {}
        return ChatResponse(
            text=text,
            tool_calls=calls,
            usage=Usage(input_tokens=usage.get("prompt_tokens", 0), output_tokens=usage.get("completion_tokens", 0)),
            model=self.model,
            provider=self.name,
            stop_reason=choice.get("finish_reason"),
        )

    async def aclose(self) -> None:
        with self._lock:
            llama, self._llama = self._llama, None
        if llama is not None and hasattr(llama, "close"):
            llama.close()


def _answer_schema(request: ChatRequest) -> tuple[dict[str, Any] | None, str | None]:
    """(schema to constrain the output to, name of a forced tool whose call it is)."""
    if request.response_schema is not None:
        return request.response_schema, None
    choice = request.tool_choice
    if choice and choice not in ("auto", "none", "required"):
        for tool in request.tools:
            if tool.name == choice:
                return tool.input_schema, tool.name
    return None, None


def _unfence(text: str) -> str:
    try:
        return json.dumps(extract_json(text))
    except ValueError:
        return text


def to_messages(request: ChatRequest, describe_tools: bool) -> list[dict[str, str]]:
    """Plain role/content messages: chat templates of small models know no tool roles."""
    system = request.system
    if describe_tools and request.tools:
        listing = "\n".join(f"- {t.name}: {t.description}" for t in request.tools)
        system = f"{system}\n\nTools you may mention (they cannot be called here):\n{listing}".strip()
    if request.response_schema is not None:
        name = answer_tool_name(request.response_schema_name)
        schema = json.dumps(request.response_schema)
        system = f"{system}\n\nAnswer with one JSON object ({name}) matching this schema:\n{schema}".strip()
    out = [{"role": "system", "content": system}] if system else []
    for m in request.messages:
        if m.role == "tool":
            out.append({"role": "user", "content": f"Tool result ({m.tool_call_id}):\n{m.content}"})
        elif m.role == "assistant" and m.tool_calls:
            calls = "; ".join(f"{c.name}({json.dumps(c.arguments)})" for c in m.tool_calls)
            out.append({"role": "assistant", "content": f"{m.content}\n[called {calls}]".strip()})
        else:
            out.append({"role": m.role, "content": m.content})
    return out
