"""`open_llm("provider:model[@base_url]")`: one string names a model; this builds the middleware-wrapped LLM.

Forms: `anthropic:claude-sonnet-4-5`, `anthropic:NAME@http://127.0.0.1:PORT`, `openai:gpt-5-mini`,
`openai:qwen2.5-7b@http://127.0.0.1:8000/v1`, `local:qwen2.5-coder-1.5b`, `local:/path/m.gguf` and
`sampling` (the MCP client's model). Credentials come from the providers'
usual environment variables (ANTHROPIC_API_KEY, OPENAI_API_KEY); a base URL of your own needs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.home import Home
from trace2skill.llm.aliases import resolve_alias
from trace2skill.llm.budget import Budget
from trace2skill.llm.calllog import CallLogSink
from trace2skill.llm.client import LLM
from trace2skill.llm.prices import PriceTable
from trace2skill.llm.provider import Provider
from trace2skill.llm.retry import RetryPolicy
from trace2skill.llm.sampling import CreateMessage

__all__ = ["ModelSpec", "make_provider", "open_llm", "parse_model"]

PROVIDERS = ("anthropic", "openai", "local", "sampling")


@dataclass(frozen=True)
class ModelSpec:
    provider: str
    model: str
    base_url: str | None = None


def parse_model(text: str) -> ModelSpec:
    """Split a model string (a built-in alias such as `sonnet` first becomes its full name, `llm.aliases`);
    a clear InvalidInput for anything else."""
    text = resolve_alias(text or "")
    provider, sep, rest = text.partition(":")
    if provider == "sampling":
        return ModelSpec(provider, rest or provider)
    if not sep or provider not in PROVIDERS or not rest:
        raise InvalidInput(
            f"model {text!r} is not of the form provider:model; e.g. anthropic:claude-sonnet-4-5, openai:gpt-5-mini, "
            "openai:NAME@http://127.0.0.1:8000/v1, local:qwen2.5-coder-1.5b, sampling, or an alias "
            "(sonnet, opus, haiku, gpt-5-mini, local; `trace2skill config list`)"
        )
    base_url = None
    if provider in ("anthropic", "openai") and "@" in rest:
        rest, base_url = rest.split("@", 1)
        if not base_url.startswith(("http://", "https://")) or not rest:
            raise InvalidInput(f"model {text!r}: expected NAME@http(s)://host:port after {provider}:")
    return ModelSpec(provider, rest, base_url)


def make_provider(
    spec: ModelSpec,
    *,
    home: Home | None = None,
    sampling: CreateMessage | None = None,
    timeout: float = 600.0,
    stream: bool = False,
) -> Provider:
    if spec.provider == "anthropic":
        from trace2skill.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(spec.model, base_url=spec.base_url, timeout=timeout, stream=stream)
    if spec.provider == "openai":
        from trace2skill.llm.openai_provider import OpenAIProvider

        return OpenAIProvider(spec.model, base_url=spec.base_url, timeout=timeout, stream=stream)
    if spec.provider == "local":
        from trace2skill.llm.local import LocalProvider, resolve_model_path

        return LocalProvider(resolve_model_path(spec.model, (home or Home.resolve()).models_dir))
    if sampling is None:
        raise InvalidInput("model 'sampling' needs the MCP client's sampling callable (sampling=...)")
    from trace2skill.llm.sampling import SamplingProvider

    return SamplingProvider(sampling, model=spec.model)


def open_llm(
    model: str,
    *,
    call_log: CallLogSink | None = None,
    cache_dir: str | Path | None = None,
    budget: Budget | None = None,
    concurrency: int | None = None,
    sampling: CreateMessage | None = None,
    retry: RetryPolicy | None = None,
    prices: PriceTable | Mapping[str, Any] | str | Path | None = None,
    price: tuple[float, float] | None = None,
    timeout: float = 600.0,
    stream: bool = False,
    home: Home | None = None,
) -> LLM:
    """An LLM for a model string. `cache_dir=None` means no response cache (pass `home.cache_dir` for one).

    `price` is this model's (input, output) USD per million tokens, over the price table (`--price`). A
    `budget` with a dollar limit needs the model priced (or free): InvalidInput otherwise, before any call."""
    spec = parse_model(model)
    provider = make_provider(spec, home=home, sampling=sampling, timeout=timeout, stream=stream)
    if not isinstance(prices, PriceTable):
        prices = PriceTable.load((home or Home.resolve()).root, prices)
    if price is not None:
        prices.set_price(spec.provider, spec.model, price)
    llm = LLM(
        provider,
        concurrency=concurrency,
        retry=retry or RetryPolicy(),
        budget=budget,
        cache=cache_dir,
        call_log=call_log,
        prices=prices,
    )
    if budget is not None and budget.usd is not None:
        llm.require_price(f"the budget of ${budget.usd:g}")  # before any connection: nothing to close
    return llm
