"""Read a JSON document item by item, so a large top-level array never sits in memory whole.

`iter_json(path)` yields `(index, item)` for each element of a top-level array, or `(None, value)`
once for any other document. Memory is bounded by the largest single element (plus one read chunk),
not by the file. A malformed element ends the array with a `JsonStreamError` naming the byte offset;
the elements before it have already been yielded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["JsonStreamError", "iter_json", "peek"]

_CHUNK = 1 << 20
_DECODER = json.JSONDecoder()
_WS = " \t\r\n"


class JsonStreamError(ValueError):
    """Invalid JSON at `offset` (characters from the start of the file)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at character {offset:,}")
        self.offset = offset


def peek(path: Path, size: int = 65536) -> str:
    """The first `size` characters of a file (for format detection)."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.read(size)


def iter_json(path: Path) -> Iterator[tuple[int | None, Any]]:
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        buffer = handle.read(_CHUNK)
        pos = _skip_ws(buffer, 0)
        consumed = 0  # characters dropped from the front of buffer so far
        if pos >= len(buffer) or buffer[pos] != "[":
            rest = buffer + handle.read()
            try:
                value = json.loads(rest)
            except json.JSONDecodeError as e:
                raise JsonStreamError(e.msg, e.pos) from None
            yield None, value
            return
        pos += 1
        index = 0
        eof = False
        expect_item = True
        while True:
            pos = _skip_ws(buffer, pos)
            while pos >= len(buffer) and not eof:
                buffer, pos, consumed, eof = _refill(handle, buffer, pos, consumed)
                pos = _skip_ws(buffer, pos)
            if pos >= len(buffer):
                raise JsonStreamError("unexpected end of file inside the top-level array", consumed + pos)
            char = buffer[pos]
            if char == "]":
                return
            if char == ",":
                if expect_item:
                    raise JsonStreamError("unexpected ','", consumed + pos)
                pos += 1
                expect_item = True
                continue
            if not expect_item:
                raise JsonStreamError("expected ',' or ']'", consumed + pos)
            while True:
                try:
                    item, end = _DECODER.raw_decode(buffer, pos)
                except json.JSONDecodeError as e:
                    if eof:
                        raise JsonStreamError(e.msg, consumed + e.pos) from None
                    # Probably cut off by the chunk boundary: read more (doubling) and retry.
                    buffer, pos, consumed, eof = _refill(handle, buffer, pos, consumed, grow=True)
                    continue
                if end >= len(buffer) and not eof:
                    # A number or literal may continue past the chunk: make sure it is complete.
                    buffer, pos, consumed, eof = _refill(handle, buffer, pos, consumed)
                    continue
                break
            yield index, item
            index += 1
            pos = end
            expect_item = False


def _skip_ws(buffer: str, pos: int) -> int:
    while pos < len(buffer) and buffer[pos] in _WS:
        pos += 1
    return pos


def _refill(handle: Any, buffer: str, pos: int, consumed: int, grow: bool = False) -> tuple[str, int, int, bool]:
    """Drop what is parsed, read more; with `grow`, read at least as much again as is pending."""
    pending = buffer[pos:]
    want = max(_CHUNK, len(pending)) if grow else _CHUNK
    more = handle.read(want)
    return pending + more, 0, consumed + pos, not more
