"""Read a JSON document item by item, so a large top-level array never sits in memory whole.

`iter_json(path)` yields `(index, item)` for each element of a top-level array, streamed by ijson,
or `(None, value)` once for any other document (read whole by `json`). For an array, memory is
bounded by its largest element plus one read of `_CHUNK` bytes, whatever the rest of the file holds.

The first problem ends the read with one `JsonStreamError` line naming its byte offset; the
elements before it have already been yielded. ijson cannot resume after a syntax error, so nothing
after it is read: the file is reported broken from that point on. The problems: invalid JSON, bytes
that are not UTF-8 (never replaced: each read is checked with the codec's incremental decoder before
ijson sees it) and nesting deeper than `MAX_DEPTH` (see `_Guard`). ijson tells a syntax error per
read, not per byte, so its byte is found by feeding the file again to a fresh parser, the read that
failed one byte at a time.

ijson reads standard JSON only: in an array, `NaN`/`Infinity` (which Python's `json.dumps` writes by
default) and integers beyond 64 bits are errors, while a single document, read by `json`, has them.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import ijson

__all__ = ["MAX_DEPTH", "JsonStreamError", "iter_json", "peek"]

_CHUNK = 1 << 16
_WS = b" \t\r\n"
MAX_DEPTH = 512
"""Deepest nesting of lists and objects read in an array (see `_Guard`); Python's `json` stops near 1,000."""


class JsonStreamError(ValueError):
    """Invalid JSON or UTF-8 at byte `offset` of the file, after `read` elements of a top-level array."""

    def __init__(self, message: str, offset: int, read: int | None = None) -> None:
        if read is not None:
            elements = "no element" if read == 0 else "1 element" if read == 1 else f"{read:,} elements"
            message += f"; {elements} of the top-level array read before it, nothing after it"
        super().__init__(message)
        self.offset = offset
        self.read = read


def peek(path: Path, size: int = 65536) -> str:
    """The first `size` characters of a file, for format detection only (`iter_json` reports bad bytes)."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.read(size)


def iter_json(path: Path) -> Iterator[tuple[int | None, Any]]:
    """`(index, element)` for each element of a top-level array, or `(None, value)` for any other document."""
    with path.open("rb") as handle:
        head = handle.read(_CHUNK)
        while not head.lstrip(codecs.BOM_UTF8 + _WS) and (more := handle.read(_CHUNK)):
            head += more
        start = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        if not head[start:].lstrip(_WS).startswith(b"["):
            yield None, _document(head + handle.read(), start)
            return
        yield from _elements(path, handle, head[start:], start)


def _document(raw: bytes, start: int) -> Any:
    try:
        text = raw[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonStreamError(f"invalid UTF-8 at byte {start + e.start:,}", start + e.start) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        offset = start + len(text[: e.pos].encode("utf-8"))
        raise JsonStreamError(f"{e.msg} at byte {offset:,} (line {e.lineno}, column {e.colno})", offset) from None


def _elements(path: Path, handle: BinaryIO, head: bytes, offset: int) -> Iterator[tuple[int, Any]]:
    """The array's elements; `head` holds the file's first bytes from `offset` (after any BOM) on."""
    reader = _CheckedReader(path, handle, head, offset)
    index = 0
    try:
        for item in ijson.items(reader, "item", use_float=True, buf_size=_CHUNK):
            yield index, item
            index += 1
    except _Stop:
        at, reason = reader.problem or (reader.offset, "malformed JSON")
        raise JsonStreamError(f"{reason} at byte {at:,}", at, index) from None
    except ijson.JSONError as e:  # pragma: no cover - the guard saw these bytes first
        raise JsonStreamError(f"{_reason(e)} near byte {reader.offset:,}", reader.offset, index) from None


class _Stop(Exception):
    """Raised by `_CheckedReader.read` after it has handed over the bytes before a problem."""


class _CheckedReader:
    """The file as ijson reads it: each read is checked (UTF-8, then `_Guard`) before ijson sees it.

    At the first problem only the bytes before it are handed over, so ijson yields the elements they
    complete; the next read raises `_Stop`, and `problem` says where and what.
    """

    def __init__(self, path: Path, handle: BinaryIO, head: bytes, offset: int) -> None:
        self._path = path
        self._handle = handle
        self._pending = head
        self._start = offset
        self.offset = offset
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._guard = _Guard()
        self.problem: tuple[int, str] | None = None

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if self.problem is not None:
            raise _Stop
        size = size if size > 0 else _CHUNK  # ijson asks for its buf_size
        if self._pending:
            chunk, self._pending = self._pending[:size], self._pending[size:]
        else:
            chunk = self._handle.read(size)
        last = not chunk
        bad = _invalid_utf8(self._utf8, chunk, last)
        good = chunk if bad is None else chunk[: max(bad, 0)]
        try:
            self._guard.send(good, final=last and bad is None)
        except (ijson.JSONError, _TooDeep):
            self.problem = _locate(self._path, self._start, self.offset, self.offset + len(good), last and bad is None)
            good = good[: self.problem[0] - self.offset]
        if bad is not None and self.problem is None:
            self.problem = (self.offset + bad, "invalid UTF-8")
        self.offset += len(chunk)
        if not good and self.problem is not None:
            raise _Stop
        return good


def _invalid_utf8(decoder: codecs.IncrementalDecoder, chunk: bytes, final: bool) -> int | None:
    """Where the first invalid UTF-8 in `chunk` starts (negative: in the bytes held back from the read before)."""
    held = len(decoder.getstate()[0])
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError as e:
        return e.start - held
    return None


class _TooDeep(Exception):
    """Nesting past `MAX_DEPTH`."""


class _Guard:
    """A second ijson parser over the same bytes, ahead of the one building elements, that stops at `MAX_DEPTH`.

    Its basic events cost memory linear in the nesting; ijson's prefixes, which `items` needs, cost it
    quadratic (20,000 levels, a 40 KB file, take 1 GB). The depth is counted with `list.count` over
    slices of events; only a slice that could pass the limit is walked event by event.
    """

    _OPEN = (("start_map", None), ("start_array", None))
    _CLOSE = (("end_map", None), ("end_array", None))
    _SLICE = MAX_DEPTH // 2

    def __init__(self) -> None:
        self._events = ijson.sendable_list()
        self._parser = ijson.basic_parse_coro(self._events, use_float=True)
        self._depth = 0

    def send(self, data: bytes, final: bool = False) -> None:
        """Raises ijson.JSONError where the JSON is invalid, `_TooDeep` where it nests deeper than `MAX_DEPTH`."""
        if data:
            self._parser.send(data)
        if final:
            self._parser.close()
        events = self._events
        for first in range(0, len(events), self._SLICE):
            part = events[first : first + self._SLICE]
            opened = part.count(self._OPEN[0]) + part.count(self._OPEN[1])
            if self._depth + opened <= MAX_DEPTH:
                self._depth += opened - part.count(self._CLOSE[0]) - part.count(self._CLOSE[1])
                continue
            for event in part:
                self._depth += (event in self._OPEN) - (event in self._CLOSE)
                if self._depth > MAX_DEPTH:
                    raise _TooDeep
        del events[:]


def _locate(path: Path, start: int, good_from: int, good_to: int, final: bool) -> tuple[int, str]:
    """(byte, reason) where a fresh guard stops, fed the file from `start` to `good_from` whole, then byte by byte."""
    guard = _Guard()
    position = start
    with path.open("rb") as handle:
        handle.seek(start)
        try:
            while position < good_from:
                piece = handle.read(min(_CHUNK, good_from - position))
                guard.send(piece)
                position += len(piece)
            for byte in handle.read(good_to - good_from):
                guard.send(bytes((byte,)))
                position += 1
            guard.send(b"", final)
        except ijson.JSONError as e:
            return position, _reason(e)
        except _TooDeep:
            return position, f"lists and objects nested deeper than {MAX_DEPTH} levels"
    return good_to, "malformed JSON"  # pragma: no cover - the first guard failed where this one did not


def _reason(error: ijson.JSONError) -> str:
    """The first line of ijson's message (the next ones quote the file, which may hold secrets)."""
    return (str(error).splitlines() or ["malformed JSON"])[0].rstrip(".")
