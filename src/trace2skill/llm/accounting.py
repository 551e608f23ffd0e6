"""Running totals of what an LLM spent: calls, tokens, cost, per run and overall."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["UsageTotals"]


@dataclass
class UsageTotals:
    calls: int = 0  # every call asked for, whatever its outcome
    ok: int = 0
    errors: int = 0
    cache_hits: int = 0
    refused: int = 0  # refused because the budget was spent
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0

    def add(self, record: dict[str, Any]) -> None:
        """Count one call-log record."""
        self.calls += 1
        outcome = record["outcome"]
        if outcome == "ok":
            self.ok += 1
        elif outcome == "error":
            self.errors += 1
        elif outcome == "cache_hit":
            self.cache_hits += 1
        elif outcome == "budget":
            self.refused += 1
        self.input_tokens += record["input_tokens"]
        self.output_tokens += record["output_tokens"]
        self.cached_tokens += record["cached_tokens"]
        self.cache_write_tokens += record["cache_write_tokens"]
        self.cost_usd += record["cost_usd"]
        self.latency_s += record["latency_s"]

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens": self.tokens}
