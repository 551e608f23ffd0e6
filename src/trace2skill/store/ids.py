"""Trajectory ids: short, URL-safe, unique, and sortable by creation time.

`t_` + 10 characters of the millisecond timestamp + 8 characters of randomness, in lowercase
Crockford base32 (no i, l, o, u). Ids minted in one process within the same millisecond count up
from the first one's random part, so they sort in minting order there too.
"""

from __future__ import annotations

import secrets
import threading
import time

__all__ = ["ID_PREFIX", "new_id", "new_ids"]

ID_PREFIX = "t_"
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 10
_RANDOM_CHARS = 8
_RANDOM_BITS = 5 * _RANDOM_CHARS

_lock = threading.Lock()
_last_ms = -1
_last_random = 0
_last_prefix = ""


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
"""Every 10-bit value as two characters: encoding takes a few table look-ups, not a loop per character."""


def _encode(value: int, width: int) -> str:
    """`value` as `width` (even) base32 characters, most significant first."""
    return "".join(_PAIRS[(value >> shift) & 1023] for shift in range(5 * (width - 2), -1, -10))


def new_id(prefix: str = ID_PREFIX, now_ms: int | None = None) -> str:
    """A fresh id such as `t_01jf3k2m9x4b7c2d8e9f`."""
    global _last_ms, _last_random, _last_prefix
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms and _last_random + 1 < (1 << _RANDOM_BITS):
            ms, rand = _last_ms, _last_random + 1
        else:
            # Leave headroom so a burst within one millisecond keeps counting up without wrapping.
            rand = secrets.randbits(_RANDOM_BITS - 1)
        if ms != _last_ms or not _last_prefix:
            _last_prefix = _encode(ms, _TIME_CHARS)
        _last_ms, _last_random = ms, rand
        time_part = _last_prefix
    return prefix + time_part + _encode(rand, _RANDOM_CHARS)


def new_ids(count: int, prefix: str = ID_PREFIX) -> list[str]:
    """`count` fresh ids, as `count` calls of `new_id` would mint them, with one clock read and one lock."""
    global _last_ms, _last_random, _last_prefix
    if count <= 0:
        return []
    ms = time.time_ns() // 1_000_000
    head = ""
    with _lock:
        if ms > _last_ms:
            first = secrets.randbits(_RANDOM_BITS - 1)
        elif _last_random + count < (1 << _RANDOM_BITS):
            ms, first = _last_ms, _last_random + 1
        else:  # pragma: no cover - some 2**39 ids within one millisecond
            first = -1
        if first >= 0:
            if ms != _last_ms or not _last_prefix:
                _last_prefix = _encode(ms, _TIME_CHARS)
            _last_ms, _last_random = ms, first + count - 1
            head = prefix + _last_prefix
    if first < 0:  # pragma: no cover
        return [new_id(prefix) for _ in range(count)]
    pairs = _PAIRS  # the 8 random characters as 4 table look-ups, spelled out: this runs once per row
    return [
        head + pairs[(r >> 30) & 1023] + pairs[(r >> 20) & 1023] + pairs[(r >> 10) & 1023] + pairs[r & 1023]
        for r in range(first, first + count)
    ]


assert _RANDOM_CHARS == 8, "new_ids spells out the encoding of 8 random characters"
