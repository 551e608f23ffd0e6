"""Reading workbooks for `xlsx-cells`: read-only openpyxl, rectangles of values, golden workbooks kept open.

Read-only mode parses a sheet only when it is read and stops at the last row asked for, so a few
cells of a big workbook are cheap; opening one still parses its styles, which can take seconds. A
golden workbook is the same file for every run of its task, so the last few stay open (keyed by
their content) and their rectangles are remembered.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from pathlib import Path
from types import ModuleType
from typing import Any

from trace2skill.errors import InvalidInput

__all__ = ["Book", "Bounds", "golden_book", "openpyxl_module", "output_book"]

Bounds = tuple[int, int, int, int]
"""(min_row, max_row, min_col, max_col), 1-based and inclusive."""

_KEEP_OPEN = 16


def openpyxl_module() -> ModuleType:
    try:
        import openpyxl
    except ImportError:
        raise InvalidInput("the xlsx-cells evaluator needs openpyxl: pip install 'trace2skill[bench]'") from None
    return openpyxl


class Book:
    """One workbook opened read-only, computed values by default: sheet names, used size, rectangles."""

    def __init__(self, source: Path | bytes) -> None:
        self._source = source
        self.wb = self._open(data_only=True)
        self.sheetnames: list[str] = list(self.wb.sheetnames)
        self._formulas: Any = None
        self._lock = threading.Lock()

    def _open(self, *, data_only: bool) -> Any:
        data = io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source
        return openpyxl_module().load_workbook(data, read_only=True, data_only=data_only)

    def _rows(self, title: str, bounds: Bounds, formulas: bool) -> list[tuple[Any, ...]]:
        """Read-only sheets parse on every read and take `data_only` from the workbook (its private
        `_data_only`), so one open serves both readings; a second open is the fallback."""
        min_row, max_row, min_col, max_col = bounds
        wb = self.wb
        if formulas and not hasattr(wb, "_data_only"):
            self._formulas = self._formulas or self._open(data_only=False)
            wb = self._formulas
        elif formulas:
            wb._data_only = False
        try:
            return [tuple(row) for row in wb[title].iter_rows(min_row, max_row, min_col, max_col, values_only=True)]
        finally:
            if wb is self.wb:
                wb._data_only = True

    def size(self, title: str) -> tuple[int, int]:
        """(rows, columns) the sheet uses, from its stored dimension or, when it has none, by reading it."""
        with self._lock:
            ws = self.wb[title]
            if ws.max_row is None or ws.max_column is None:
                try:
                    ws.calculate_dimension(force=True)
                except (ValueError, UnboundLocalError):  # a sheet with no rows at all
                    return 0, 0
            return ws.max_row or 0, ws.max_column or 0

    def grid(self, title: str, bounds: Bounds, *, formulas: bool = False) -> list[tuple[Any, ...]]:
        """Values of the rectangle row by row, padded where the sheet has no row or cell; with `formulas`,
        a formula cell gives its formula instead of its cached value."""
        min_row, max_row, _, max_col = bounds
        width = max_col - bounds[2] + 1
        with self._lock:
            rows = [row + (None,) * (width - len(row)) for row in self._rows(title, bounds, formulas)]
        return rows + [(None,) * width] * (max_row - min_row + 1 - len(rows))

    def close(self) -> None:
        self.wb.close()
        if self._formulas is not None:
            self._formulas.close()


class _Golden(Book):
    """A golden workbook, shared while it stays open: remembers the rectangles read from it."""

    def __init__(self, source: bytes) -> None:
        super().__init__(source)
        self._grids: dict[tuple[str, Bounds], list[tuple[Any, ...]]] = {}

    def grid(self, title: str, bounds: Bounds, *, formulas: bool = False) -> list[tuple[Any, ...]]:
        if formulas:
            return super().grid(title, bounds, formulas=True)
        key = (title, bounds)
        if key not in self._grids:
            self._grids[key] = super().grid(title, bounds)
        return self._grids[key]

    def close(self) -> None:
        """Kept open for the next scoring; dropped from the cache, it closes when collected."""


_OPEN: OrderedDict[str, _Golden] = OrderedDict()
_OPEN_LOCK = threading.Lock()


def _shared(digest: str) -> _Golden | None:
    with _OPEN_LOCK:
        if digest in _OPEN:
            _OPEN.move_to_end(digest)
            return _OPEN[digest]
    return None


def golden_book(path: Path) -> Book:
    """The golden workbook at `path`, opened once per content and kept among the last few."""
    try:
        data = path.read_bytes()
    except OSError:
        raise InvalidInput(f"the golden workbook {path.name} cannot be read") from None
    digest = hashlib.sha256(data).hexdigest()
    if (book := _shared(digest)) is not None:
        return book
    try:
        book = _Golden(data)
    except Exception as e:
        raise InvalidInput(f"cannot read the golden workbook {path.name}: {type(e).__name__}") from None
    with _OPEN_LOCK:
        _OPEN[digest] = book
        while len(_OPEN) > _KEEP_OPEN:  # not closed here: a scoring in another thread may still read it
            _OPEN.popitem(last=False)
    return book


def output_book(data: bytes) -> Book:
    """An output workbook; one byte for byte equal to an open golden workbook is read through that one."""
    return _shared(hashlib.sha256(data).hexdigest()) or Book(data)
