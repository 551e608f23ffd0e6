"""Request bodies as JSON bytes, with the shared system prefix encoded once, not once per call.

Every call of one kind in an evolution run carries the same large system text (instructions and
the frozen skill, tens of kilobytes). Providers send their body through the SDK's generic request
path as ready bytes (`content=`), which skips the SDK's deep copy of the body and its pure-Python
JSON encoding; the system fragment comes from a small cache keyed by the system text itself (a
string's hash is computed once, so a hit costs a dictionary lookup). Encoding is pydantic-core's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from pydantic_core import to_json

__all__ = ["FragmentCache", "encode", "prepend_member"]

encode: Callable[[Any], bytes] = to_json
"""Compact UTF-8 JSON of plain data (dicts, lists, strings, numbers)."""


class FragmentCache:
    """Encoded JSON fragments by key; forgets everything when full (a run uses a handful)."""

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._items: dict[Hashable, bytes] = {}

    def get(self, key: Hashable, make: Callable[[], Any]) -> bytes:
        found = self._items.get(key)
        if found is None:
            if len(self._items) >= self.limit:
                self._items.clear()
            found = self._items[key] = encode(make())
        return found


def prepend_member(name: bytes, fragment: bytes, rest: bytes) -> bytes:
    """`{"name": fragment, ...rest's members}` from the encoded object `rest` (which must not be `{}`)."""
    return b'{"' + name + b'":' + fragment + b"," + rest[1:]
