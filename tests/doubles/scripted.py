"""A provider that answers from a script: for tests of the layers above the LLM.

Replies come from a queue (ChatResponse, str, a dict or pydantic model for a structured answer, or
an Exception to raise), then from a handler that inspects the request (`request.purpose`, its
messages). Every request received is kept in `requests`. Token usage, when a reply does not state
it, is estimated at four characters a token so budgets behave as with a real model.
"""

from __future__ import annotations

import inspect
import json
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pydantic import BaseModel

from trace2skill.errors import ProviderError
from trace2skill.llm.provider import Provider
from trace2skill.llm.types import ChatRequest, ChatResponse, Usage

__all__ = ["ScriptedProvider", "ScriptedReply", "estimate_tokens"]

ScriptedReply = ChatResponse | str | dict[str, Any] | BaseModel | BaseException
Handler = Callable[[ChatRequest], ScriptedReply | Awaitable[ScriptedReply]]


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


class ScriptedProvider(Provider):
    name = "scripted"
    default_concurrency = 64
    free = True

    def __init__(
        self,
        script: Iterable[ScriptedReply] | Handler | None = None,
        *,
        handler: Handler | None = None,
        model: str = "scripted",
    ) -> None:
        self.model = model
        self.requests: list[ChatRequest] = []
        self._queue: deque[ScriptedReply] = deque()
        self.handler = handler
        if callable(script):
            self.handler = script
        elif script is not None:
            self._queue.extend(script)

    def push(self, *replies: ScriptedReply) -> None:
        """Queue more replies; they are used before the handler."""
        self._queue.extend(replies)

    @property
    def remaining(self) -> int:
        return len(self._queue)

    async def chat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self._queue:
            item: Any = self._queue.popleft()
        elif self.handler is not None:
            item = self.handler(request)
            if inspect.isawaitable(item):
                item = await item
        else:
            raise ProviderError(
                f"scripted provider has no reply left for request #{len(self.requests)} (purpose={request.purpose!r})"
            )
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ChatResponse):
            response = item.model_copy(deep=True)
        elif isinstance(item, str):
            response = ChatResponse(text=item)
        elif isinstance(item, BaseModel):
            response = ChatResponse(text=item.model_dump_json())
        elif isinstance(item, dict):
            response = ChatResponse(text=json.dumps(item))
        else:
            raise TypeError(f"scripted reply of type {type(item).__name__}; expected ChatResponse, str, dict or model")
        if response.usage == Usage():
            response.usage = Usage(
                input_tokens=estimate_tokens(request.system + "".join(m.content for m in request.messages)),
                output_tokens=estimate_tokens(response.text + "".join(str(c.arguments) for c in response.tool_calls)),
            )
        response.provider = self.name
        response.model = response.model or request.model or self.model
        return response
