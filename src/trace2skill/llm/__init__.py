"""The `llm` module: one provider-neutral interface for chat and structured calls, with shared middleware.

    llm = open_llm("anthropic:claude-sonnet-4-5", call_log=store.log_calls, cache_dir=home.cache_dir,
                   budget=Budget(usd=2.0))
    response = await llm.chat(ChatRequest(system=..., messages=[ChatMessage(role="user", content=...)]))
    patch, response = await llm.structured(request, Patch)
    await llm.aclose()

Nothing here knows what a skill is.
"""

from trace2skill.llm.accounting import UsageTotals
from trace2skill.llm.budget import Budget
from trace2skill.llm.cache import ResponseCache
from trace2skill.llm.calllog import CALL_LOG_KEYS, CallLogBuffer
from trace2skill.llm.client import LLM
from trace2skill.llm.factory import ModelSpec, open_llm, parse_model
from trace2skill.llm.prices import Price, PriceTable
from trace2skill.llm.provider import Provider, RetryableError
from trace2skill.llm.retry import RetryPolicy
from trace2skill.llm.sampling import SamplingProvider
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolCall, ToolSpec, Usage

__all__ = [
    "CALL_LOG_KEYS",
    "LLM",
    "Budget",
    "CallLogBuffer",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "ModelSpec",
    "Price",
    "PriceTable",
    "Provider",
    "ResponseCache",
    "RetryPolicy",
    "RetryableError",
    "SamplingProvider",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "UsageTotals",
    "open_llm",
    "parse_model",
]
