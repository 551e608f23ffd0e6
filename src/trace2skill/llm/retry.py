"""When to try a failed call again: exponential backoff with jitter, or exactly what the server asked.

The SDKs' own retries are off (`max_retries=0`), so this is the one retry policy and it is testable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from trace2skill.errors import InvalidInput

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """`max_attempts` counts the first try. A Retry-After from the server wins over the backoff schedule.

    A connection that cannot be made at all (refused, unknown host, TLS) to an endpoint that has not
    answered yet gets `connect_attempts` quick tries instead: a typo in a URL or a server that is not
    running should end a run in a second, not after minutes of backoff per call."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5  # backoff is scaled by a random factor in [1 - jitter, 1]
    max_retry_after: float = 300.0  # a longer Retry-After is capped to this
    connect_attempts: int = 3  # while the endpoint has never answered: a refused connection is not a busy server
    connect_delay: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.connect_attempts < 1:
            raise InvalidInput(f"retry attempts must be >= 1, got {self.max_attempts} and {self.connect_attempts}")
        if not 0 <= self.jitter <= 1:
            raise InvalidInput(f"retry jitter must be within [0, 1], got {self.jitter}")

    def delay(self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based).

        With a Retry-After the wait is never shorter than asked (plus up to 10% so that a burst of
        clients told the same time do not return together); otherwise exponential backoff with jitter.
        """
        r = (rng or random).random()
        if retry_after is not None:
            return min(retry_after, self.max_retry_after) * (1 + 0.1 * r)
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return backoff * (1 - self.jitter * r)
