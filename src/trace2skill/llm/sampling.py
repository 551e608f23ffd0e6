"""MCP sampling: the connected client's own model answers.

The MCP server passes an async callable that turns a ChatRequest into a sampling request and the
client's result back into a ChatResponse. Sampling has no structured-output switch, so a structured
request also carries the JSON schema as an instruction at the end of the system prompt.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from trace2skill.llm.provider import Provider
from trace2skill.llm.types import ChatRequest, ChatResponse

__all__ = ["CreateMessage", "SamplingProvider"]

CreateMessage = Callable[[ChatRequest], Awaitable[ChatResponse]]


class SamplingProvider(Provider):
    name = "sampling"
    default_concurrency = 4
    free = True

    def __init__(self, create_message: CreateMessage, *, model: str = "client") -> None:
        self.create_message = create_message
        self.model = model

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if request.response_schema is not None:
            instruction = (
                "Reply with only a JSON object (no prose, no code fence) that matches this JSON schema:\n"
                + json.dumps(request.response_schema)
            )
            system = f"{request.system}\n\n{instruction}" if request.system else instruction
            request = request.model_copy(update={"system": system})
        response = await self.create_message(request)
        response.provider = self.name
        response.model = response.model or self.model
        return response
