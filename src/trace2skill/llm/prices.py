"""USD prices per million tokens, and the cost of one call's usage.

The built-in table covers common hosted models; users extend or override it with
`<home>/prices.json` or the `prices=` argument, both shaped like
`{"openai:qwen2.5-7b": {"input": 0.1, "output": 0.2, "cached_input": 0.05, "cache_write": 0.1}}`
(keys are `provider:model` or a bare model name). A model with no price costs 0, with one warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.llm.types import Usage

__all__ = ["BUILTIN_PRICES", "Price", "PriceTable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Price:
    """USD per million tokens. Cached reads and cache writes default to the input price."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        cached = usage.cached_tokens
        written = usage.cache_write_tokens
        fresh = max(0, usage.input_tokens - cached - written)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        return (
            fresh * self.input + cached * cached_price + written * write_price + usage.output_tokens * self.output
        ) / 1_000_000


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


class PriceTable:
    """Looks a model up by `provider:model`, then bare `model`, then the longest dated-name prefix."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self.builtin: dict[str, Price] = dict(BUILTIN_PRICES if prices is None else prices)
        self.user: dict[str, Price] = {}  # consulted first: a user's bare `model` beats a built-in `provider:model`
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

    def update(self, source: Mapping[str, Any] | str | Path) -> None:
        if isinstance(source, str | Path):
            try:
                source = json.loads(Path(source).read_text())
            except (OSError, ValueError) as e:
                raise InvalidInput(f"cannot read price table {source}: {e}") from e
        if not isinstance(source, Mapping):
            raise InvalidInput("a price table is a JSON object of model -> {input, output, ...}")
        for key, value in source.items():
            if isinstance(value, Price):
                self.user[key] = value
                continue
            try:
                self.user[key] = Price(
                    input=float(value["input"]),
                    output=float(value["output"]),
                    cached_input=None if value.get("cached_input") is None else float(value["cached_input"]),
                    cache_write=None if value.get("cache_write") is None else float(value["cache_write"]),
                )
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise InvalidInput(
                    f"price for {key!r} needs numeric 'input' and 'output' (USD per million tokens): {e}"
                ) from e
        self._found.clear()

    def lookup(self, provider: str, model: str) -> Price | None:
        key = (provider, model)
        if key not in self._found:
            self._found[key] = self._lookup(provider, model)
        return self._found[key]

    def _lookup(self, provider: str, model: str) -> Price | None:
        for layer in (self.user, self.builtin):
            found = self._exact(layer, provider, model) or self._prefix(layer, provider, model)
            if found is not None:
                return found
        return None

    @staticmethod
    def _exact(layer: dict[str, Price], provider: str, model: str) -> Price | None:
        return layer.get(f"{provider}:{model}") or layer.get(model)

    @staticmethod
    def _prefix(layer: dict[str, Price], provider: str, model: str) -> Price | None:
        best: tuple[int, Price] | None = None
        for name, price in layer.items():
            bare = name.split(":", 1)[1] if name.startswith(f"{provider}:") else name
            if ":" in bare:
                continue
            boundary = model.startswith(bare) and (len(model) == len(bare) or model[len(bare)] in "-@.")
            if boundary and (best is None or len(bare) > best[0]):
                best = (len(bare), price)
        return best[1] if best else None

    def cost(self, provider: str, model: str, usage: Usage, *, free: bool = False) -> float:
        """USD for the usage; 0 for an unknown model, with one warning unless the provider is free."""
        price = self.lookup(provider, model)
        if price is None:
            if not free and (provider, model) not in self._warned:
                self._warned.add((provider, model))
                log.warning(
                    "no price known for %s:%s; counting its calls as $0 (add it to prices.json)", provider, model
                )
            return 0.0
        return price.cost(usage)
