"""USD prices per million tokens, and the cost of one call's usage.

Prices are found by exact model id. A dated snapshot takes its family's price only where it is listed
as an alias (`BUILTIN_ALIASES`), so a newer model never silently takes an older one's price (as
matching by name prefix did: `claude-opus-4-6` would have cost what `claude-opus-4` costs). Users
extend or override the table with `<home>/prices.json`, the `prices=` argument, or `--price IN/OUT`,
shaped like `{"openai:qwen2.5-7b": {"input": 0.1, "output": 0.2, "cached_input": 0.05,
"cache_write": 0.1, "aliases": ["qwen2.5-7b-instruct"]}}` (keys are `provider:model` or a bare
model name). A model with no price costs 0 with one warning, and a dollar budget refuses it
(`LLM.require_price`): a budget that counts nothing binds nothing.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.llm.types import Usage

__all__ = ["BUILTIN_ALIASES", "BUILTIN_PRICES", "Price", "PriceTable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Price:
    """USD per million tokens. Cached reads and cache writes default to the input price.

    `source` says where the price came from (built-in, prices.json, --price) for reports."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    source: str = field(default="built-in", compare=False)

    def cost(self, usage: Usage) -> float:
        cached = usage.cached_tokens
        written = usage.cache_write_tokens
        fresh = max(0, usage.input_tokens - cached - written)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        return (
            fresh * self.input + cached * cached_price + written * write_price + usage.output_tokens * self.output
        ) / 1_000_000

    def describe(self) -> str:
        """`$3.00 in / $15.00 out per million tokens (built-in)`."""
        return f"${self.input:g} in / ${self.output:g} out per million tokens ({self.source})"


def _anthropic(inp: float, out: float) -> Price:
    return Price(inp, out, cached_input=inp / 10, cache_write=inp * 1.25)


BUILTIN_PRICES: dict[str, Price] = {
    "anthropic:claude-opus-4-5": _anthropic(5, 25),
    "anthropic:claude-opus-4-1": _anthropic(15, 75),
    "anthropic:claude-opus-4": _anthropic(15, 75),
    "anthropic:claude-sonnet-4-5": _anthropic(3, 15),
    "anthropic:claude-sonnet-4": _anthropic(3, 15),
    "anthropic:claude-3-7-sonnet": _anthropic(3, 15),
    "anthropic:claude-haiku-4-5": _anthropic(1, 5),
    "anthropic:claude-3-5-haiku": _anthropic(0.8, 4),
    "openai:gpt-5": Price(1.25, 10, cached_input=0.125),
    "openai:gpt-5-mini": Price(0.25, 2, cached_input=0.025),
    "openai:gpt-5-nano": Price(0.05, 0.4, cached_input=0.005),
    "openai:gpt-4.1": Price(2, 8, cached_input=0.5),
    "openai:gpt-4.1-mini": Price(0.4, 1.6, cached_input=0.1),
    "openai:gpt-4.1-nano": Price(0.1, 0.4, cached_input=0.025),
    "openai:gpt-4o": Price(2.5, 10, cached_input=1.25),
    "openai:gpt-4o-mini": Price(0.15, 0.6, cached_input=0.075),
    "openai:o3": Price(2, 8, cached_input=0.5),
    "openai:o4-mini": Price(1.1, 4.4, cached_input=0.275),
}

BUILTIN_ALIASES: dict[str, str] = {
    "anthropic:claude-opus-4-5-20251101": "anthropic:claude-opus-4-5",
    "anthropic:claude-opus-4-1-20250805": "anthropic:claude-opus-4-1",
    "anthropic:claude-opus-4-20250514": "anthropic:claude-opus-4",
    "anthropic:claude-opus-4-0": "anthropic:claude-opus-4",
    "anthropic:claude-sonnet-4-5-20250929": "anthropic:claude-sonnet-4-5",
    "anthropic:claude-sonnet-4-20250514": "anthropic:claude-sonnet-4",
    "anthropic:claude-sonnet-4-0": "anthropic:claude-sonnet-4",
    "anthropic:claude-3-7-sonnet-20250219": "anthropic:claude-3-7-sonnet",
    "anthropic:claude-3-7-sonnet-latest": "anthropic:claude-3-7-sonnet",
    "anthropic:claude-haiku-4-5-20251001": "anthropic:claude-haiku-4-5",
    "anthropic:claude-3-5-haiku-20241022": "anthropic:claude-3-5-haiku",
    "anthropic:claude-3-5-haiku-latest": "anthropic:claude-3-5-haiku",
    "openai:gpt-5-2025-08-07": "openai:gpt-5",
    "openai:gpt-5-mini-2025-08-07": "openai:gpt-5-mini",
    "openai:gpt-5-nano-2025-08-07": "openai:gpt-5-nano",
    "openai:gpt-4.1-2025-04-14": "openai:gpt-4.1",
    "openai:gpt-4.1-mini-2025-04-14": "openai:gpt-4.1-mini",
    "openai:gpt-4.1-nano-2025-04-14": "openai:gpt-4.1-nano",
    "openai:gpt-4o-2024-08-06": "openai:gpt-4o",
    "openai:gpt-4o-2024-11-20": "openai:gpt-4o",
    "openai:gpt-4o-mini-2024-07-18": "openai:gpt-4o-mini",
    "openai:o3-2025-04-16": "openai:o3",
    "openai:o4-mini-2025-04-16": "openai:o4-mini",
}
"""Dated snapshots (and `-latest`/`-0` names) that cost what their family costs; nothing else is inferred.
(`gpt-4o-2024-05-13` is not here on purpose: it cost $5/$15, not gpt-4o's $2.50/$10.)"""


class PriceTable:
    """Looks a model up by exact id: `provider:model`, then bare `model`, each directly or as a listed alias."""

    def __init__(self, prices: Mapping[str, Price] | None = None, aliases: Mapping[str, str] | None = None) -> None:
        self.builtin: dict[str, Price] = dict(BUILTIN_PRICES if prices is None else prices)
        self.builtin_aliases: dict[str, str] = dict(BUILTIN_ALIASES if prices is None else aliases or {})
        self.user: dict[str, Price] = {}  # consulted first: a user's bare `model` beats a built-in `provider:model`
        self.user_aliases: dict[str, str] = {}
        self._found: dict[tuple[str, str], Price | None] = {}
        self._warned: set[tuple[str, str]] = set()

    @classmethod
    def load(cls, home: Path | None = None, extra: Mapping[str, Any] | str | Path | None = None) -> PriceTable:
        """Built-ins, then `<home>/prices.json` if present, then `extra` (a mapping or a JSON file)."""
        table = cls()
        if home is not None and (home / "prices.json").is_file():
            table.update(home / "prices.json")
        if extra is not None:
            table.update(extra)
        return table

    def update(self, source: Mapping[str, Any] | str | Path, *, origin: str | None = None) -> None:
        """Add entries (`model -> {input, output[, cached_input, cache_write, aliases]}` or Price)."""
        if isinstance(source, str | Path):
            origin = origin or Path(source).name
            try:
                source = json.loads(Path(source).read_text())
            except (OSError, ValueError, RecursionError) as e:
                raise InvalidInput(f"cannot read price table {source}: {e}") from e
        if not isinstance(source, Mapping):
            raise InvalidInput("a price table is a JSON object of model -> {input, output, ...}")
        for key, value in source.items():
            if not isinstance(key, str) or not key.strip():
                raise InvalidInput(f"a price table key must be a model name, got {key!r}")
            if isinstance(value, Price):
                self.user[key] = value if origin is None else replace(value, source=origin)
                continue
            self.user[key] = _price(key, value, origin or "prices")
            aliases = value.get("aliases") or []
            if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
                raise InvalidInput(f"price for {key!r}: 'aliases' is a list of model names")
            provider = key.split(":", 1)[0] + ":" if ":" in key else ""
            for alias in aliases:
                self.user_aliases[alias if ":" in alias else provider + alias] = key
        self._found.clear()

    def set_price(self, provider: str, model: str, price: tuple[float, float], source: str = "--price") -> None:
        """The (input, output) price of one model, over everything else (what `--price IN/OUT` does)."""
        self.update({f"{provider}:{model}": {"input": price[0], "output": price[1]}}, origin=source)

    def lookup(self, provider: str, model: str) -> Price | None:
        key = (provider, model)
        if key not in self._found:
            self._found[key] = self._lookup(provider, model)
        return self._found[key]

    def _lookup(self, provider: str, model: str) -> Price | None:
        for prices, aliases in ((self.user, self.user_aliases), (self.builtin, self.builtin_aliases)):
            for name in (f"{provider}:{model}", model):
                found = prices.get(name)
                if found is None and name in aliases:
                    found = prices.get(aliases[name])
                if found is not None:
                    return found
        return None

    def cost(
        self, provider: str, model: str, usage: Usage, *, free: bool = False, requested: str | None = None
    ) -> float:
        """USD for the usage; the answering model's price, else the requested model's (a server may name a
        snapshot of what was asked for); 0 for an unknown model, with one warning unless the provider is free."""
        price = self.lookup(provider, model)
        if price is None and requested and requested != model:
            price = self.lookup(provider, requested)
        if price is None:
            if not free and (provider, model) not in self._warned:
                self._warned.add((provider, model))
                log.warning(
                    "no price known for %s:%s; counting its calls as $0 (add it to prices.json or pass --price IN/OUT)",
                    provider,
                    model,
                )
            return 0.0
        return price.cost(usage)


def _price(key: str, value: Any, origin: str) -> Price:
    try:
        numbers = {
            name: None if value.get(name) is None else float(value[name])
            for name in ("input", "output", "cached_input", "cache_write")
        }
        if numbers["input"] is None or numbers["output"] is None:
            raise KeyError("input" if numbers["input"] is None else "output")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InvalidInput(
            f"price for {key!r} needs numeric 'input' and 'output' (USD per million tokens): {e}"
        ) from None
    for name, number in numbers.items():
        if number is not None and (not math.isfinite(number) or number < 0):
            raise InvalidInput(f"price for {key!r}: {name} must be a finite number of dollars, 0 or more")
    return Price(
        input=numbers["input"],
        output=numbers["output"],
        cached_input=numbers["cached_input"],
        cache_write=numbers["cache_write"],
        source=origin,
    )
