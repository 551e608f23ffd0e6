"""Ids of trajectories, runs and benchmarks: a short prefix and a lowercase ULID (python-ulid).

`t_` + 26 characters of Crockford base32: 10 of the millisecond timestamp, 16 of randomness (the
ULID spec), so ids are unique, URL-safe and sort by creation time. python-ulid's generator is
monotonic: ULIDs of one millisecond count up from the first one's random part. It reads the clock
before taking its own lock, though, so threads minting at once could interleave an earlier
millisecond after a later one; minting under our lock keeps each thread's ids, and each batch, in
minting order. Lowercase, as ids of earlier versions were (`t_` + the same 10 timestamp characters
+ 8 random ones): those stay valid and sort among these by time.
"""

from __future__ import annotations

import threading

from ulid import ULIDGenerator

__all__ = ["ID_PREFIX", "new_id", "new_ids"]

ID_PREFIX = "t_"

_GENERATOR = ULIDGenerator()
_LOCK = threading.Lock()


def new_id(prefix: str = ID_PREFIX, now_ms: int | None = None) -> str:
    """A fresh id such as `t_01kbn5d3rk7s5zqk3jgx0b4c9w`; `now_ms` sets its time (milliseconds since the epoch)."""
    with _LOCK:
        ulid = _GENERATOR.generate(now_ms)
    return prefix + str(ulid).lower()


def new_ids(count: int, prefix: str = ID_PREFIX) -> list[str]:
    """`count` fresh ids, in minting order."""
    with _LOCK:
        ulids = [_GENERATOR.generate() for _ in range(count)]
    return [prefix + str(ulid).lower() for ulid in ulids]
