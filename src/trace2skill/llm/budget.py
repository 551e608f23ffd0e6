"""A spending limit for a run, in USD and/or tokens.

Accounting is after the fact: a call may start only while the budget is not spent, and a call
already in flight finishes and is counted when it returns. The overshoot is therefore bounded by the
calls in flight when the limit is crossed (at most the concurrency limit times one call's cost); in
exchange no call is ever refused on a guess of its size. Cache hits cost nothing and count nothing.
"""

from __future__ import annotations

import threading

from trace2skill.errors import BudgetExceeded, InvalidInput

__all__ = ["Budget"]


class Budget:
    """Limits are optional; `Budget()` only counts. Share one Budget between LLMs to cap them together."""

    def __init__(self, usd: float | None = None, tokens: int | None = None) -> None:
        if usd is not None and usd < 0:
            raise InvalidInput(f"budget usd must be >= 0, got {usd}")
        if tokens is not None and tokens < 0:
            raise InvalidInput(f"budget tokens must be >= 0, got {tokens}")
        self.usd = usd
        self.tokens = tokens
        self.spent_usd = 0.0
        self.spent_tokens = 0
        self.calls = 0
        self.refused = 0
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return (self.usd is not None and self.spent_usd >= self.usd) or (
            self.tokens is not None and self.spent_tokens >= self.tokens
        )

    def check(self) -> None:
        """Raise BudgetExceeded if no new call may start."""
        if self.exhausted:
            with self._lock:
                self.refused += 1
            raise BudgetExceeded(f"budget spent: {self.report()}; no new LLM calls start")

    def charge(self, tokens: int, usd: float) -> None:
        with self._lock:
            self.spent_tokens += tokens
            self.spent_usd += usd
            self.calls += 1

    def report(self) -> str:
        """What was spent against what was allowed, on one line."""
        parts = []
        usd = f"${self.spent_usd:.4f}"
        parts.append(f"{usd} of ${self.usd:.4f}" if self.usd is not None else usd)
        tokens = f"{self.spent_tokens:,} tokens"
        parts.append(f"{tokens} of {self.tokens:,}" if self.tokens is not None else tokens)
        parts.append(f"{self.calls} calls")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"Budget(usd={self.usd}, tokens={self.tokens}; spent {self.report()})"
