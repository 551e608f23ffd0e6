"""Spreadsheet outputs scored cell by cell against golden workbooks, as SpreadsheetBench does.

Reference: `{"answer_position": "A3:D32", "answer_sheet": "LISTS" or null, "cases": [{"output":
"1_13-1_output.xlsx", "golden": "/abs/path/1_13-1_golden.xlsx"}]}`; the candidate's
`files[case["output"]]` holds the output workbook's bytes. Every cell of the answer ranges must hold
the golden's computed value: numbers within abs 1e-6 or rel 1e-9 (an int equals the same float, a
bool is only a bool), an empty string equals an empty cell, strings are compared after stripping,
dates and times as points in time (a date also equals its Excel serial number). Score: the share of
cases that pass; passed: all of them. A reference with `exclude` (the dataset's own note that the
task is broken) is refused rather than scored.

The feedback names cells, never their values, and says when the output holds formulas that were
never calculated (openpyxl saves formulas without values, and such a cell reads as empty).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import Candidate, Evaluation, clip_feedback, hide_reference
from trace2skill.evaluators.xlsx_books import Book, Bounds, golden_book, openpyxl_module, output_book
from trace2skill.evaluators.xlsx_ranges import (
    AnswerRange,
    column_letter,
    parse_answer_position,
    parse_answer_sheets,
    pick_sheet,
)

__all__ = ["XlsxCells", "same_cell_value"]

_SHOWN = 10
_EPOCH = dt.datetime(1899, 12, 30)
_MILLISECOND_DAYS = 1e-3 / 86_400


def _days(value: Any) -> float | None:
    """A date, time, duration or number as Excel sees it: days since 1899-12-30."""
    if isinstance(value, dt.datetime):
        return (value.replace(tzinfo=None) - _EPOCH).total_seconds() / 86_400
    if isinstance(value, dt.date):
        return (dt.datetime.combine(value, dt.time()) - _EPOCH).total_seconds() / 86_400
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86_400
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86_400
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _blank(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def same_cell_value(want: Any, got: Any, *, abs_tol: float = 1e-6, rel_tol: float = 1e-9) -> bool:
    """Whether an output cell holds the golden cell's value, by the rules in the module docstring."""
    a, b = _blank(want), _blank(got)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
    moments = (dt.date, dt.time, dt.timedelta)
    if isinstance(a, moments) or isinstance(b, moments):
        x, y = _days(a), _days(b)
        return x is not None and y is not None and math.isclose(x, y, rel_tol=0, abs_tol=_MILLISECOND_DAYS)
    return bool(a == b)


def _is_formula(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("=")
    return type(value).__name__ in {"ArrayFormula", "DataTableFormula"}


@dataclass(frozen=True)
class _Spec:
    ranges: list[AnswerRange]
    sheets: list[str]
    cases: list[tuple[str, Path]]


def _spec(reference: Any) -> _Spec:
    if not isinstance(reference, dict) or "answer_position" not in reference:
        raise InvalidInput("the xlsx-cells reference must be an object with 'answer_position' and 'cases'")
    if reference.get("exclude"):
        raise InvalidInput(f"this task is excluded from scoring by its dataset: {str(reference['exclude'])[:200]}")
    cases = reference.get("cases")
    if not isinstance(cases, list) or not cases:
        raise InvalidInput("the xlsx-cells reference lists no test cases")
    pairs = []
    for case in cases:
        if not isinstance(case, dict) or not isinstance(case.get("output"), str) or not case.get("golden"):
            raise InvalidInput("each xlsx-cells test case needs 'output' (a file name) and 'golden' (a path)")
        pairs.append((case["output"], Path(str(case["golden"]))))
    ranges = parse_answer_position(reference["answer_position"])
    return _Spec(ranges, parse_answer_sheets(reference.get("answer_sheet")), pairs)


def _answer_sheet(names: list[str], sheetnames: list[str]) -> str:
    for name in names:
        if (found := pick_sheet(name, sheetnames)) is not None:
            return found
    if not sheetnames:
        raise InvalidInput("the golden workbook has no sheets")
    return sheetnames[0]


@dataclass(frozen=True)
class _Mismatch:
    """The failing cells of one answer range; counts are left out where they would read as a golden value."""

    sheet: str
    where: str
    total: int
    cells: list[tuple[int, int]]
    uncalculated: list[tuple[int, int]]

    @staticmethod
    def _addresses(cells: list[tuple[int, int]], counts: bool) -> str:
        shown = ", ".join(f"{column_letter(c)}{r}" for r, c in cells[:_SHOWN])
        if len(cells) <= _SHOWN:
            return shown
        return shown + (f" ... (first {_SHOWN})" if counts else " ... (more not shown)")

    def lines(self, *, counts: bool) -> list[str]:
        many = f"{len(self.cells)} of {self.total} cells" if counts else "cells"
        lines = [f"sheet {self.sheet!r}: {many} in {self.where} differ: {self._addresses(self.cells, counts)}"]
        if self.uncalculated:
            some = f"{len(self.uncalculated)} of those cells" if counts else "some of those cells"
            lines.append(
                f"sheet {self.sheet!r}: {some} hold formulas without computed values "
                f"({self._addresses(self.uncalculated, counts)}): the workbook was saved without calculating them, "
                "so they read as empty; recalculate it (open and save it in LibreOffice or Excel) or write the values"
            )
        return lines


_Problem = str | _Mismatch


class XlsxCells:
    """Output workbooks against golden workbooks, cell by cell over the answer ranges (see the module docstring)."""

    name = "xlsx-cells"

    def __init__(self, *, abs_tol: float = 1e-6, rel_tol: float = 1e-9) -> None:
        if abs_tol < 0 or rel_tol < 0:
            raise InvalidInput("xlsx-cells tolerances must be zero or more")
        self.abs_tol, self.rel_tol = abs_tol, rel_tol

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation:
        spec = _spec(reference)
        openpyxl_module()
        return await anyio.to_thread.run_sync(self._score, candidate, spec)

    def _score(self, candidate: Candidate, spec: _Spec) -> Evaluation:
        problems: list[tuple[str, _Problem]] = []
        golden_values: list[Any] = []
        passed = 0
        for output, golden in spec.cases:
            found = self._case(candidate.files.get(output), golden, spec, golden_values)
            passed += not found
            problems += [(output, problem) for problem in found]
        feedback = _render(problems, counts=True)
        if hide_reference(feedback, golden_values) != feedback:  # a count that reads as a golden value
            feedback = _render(problems, counts=False)
        feedback = clip_feedback(hide_reference(feedback, golden_values))
        return Evaluation(passed=passed == len(spec.cases), score=passed / len(spec.cases), feedback=feedback)

    def _case(self, data: str | bytes | None, golden: Path, spec: _Spec, seen: list[Any]) -> list[_Problem]:
        """Problems of one test case (none when it passes); the golden values it compared go to `seen`."""
        if data is None:
            return ["missing from the candidate's files"]
        if isinstance(data, str):
            return ["given as text; an .xlsx output must be the workbook's bytes"]
        want = golden_book(golden)
        try:
            got = output_book(data)
        except Exception as e:
            return [f"not a readable .xlsx workbook ({type(e).__name__})"]
        try:
            return self._compare(want, got, spec, seen)
        finally:
            got.close()

    def _compare(self, want: Book, got: Book, spec: _Spec, seen: list[Any]) -> list[_Problem]:
        problems: list[_Problem] = []
        default = _answer_sheet(spec.sheets, want.sheetnames)
        for rng in spec.ranges:
            title = pick_sheet(rng.sheet or default, want.sheetnames)
            if title is None:
                raise InvalidInput(f"the golden workbook has no sheet {rng.sheet!r}")
            mine = pick_sheet(title, got.sheetnames)
            if mine is None:
                missing = f"sheet {title!r} is missing (the output has {', '.join(map(repr, got.sheetnames[:10]))})"
                problems += [missing] if missing not in problems else []
                continue
            (rows_a, cols_a), (rows_b, cols_b) = want.size(title), got.size(mine)
            bounds = rng.bounded(max(rows_a, rows_b), max(cols_a, cols_b))
            expected, actual = want.grid(title, bounds), got.grid(mine, bounds)
            seen.extend(value for row in expected for value in row)
            differing = self._differing(expected, actual, bounds)
            if not differing:
                continue
            empty = [(r, c) for r, c in differing if _blank(actual[r - bounds[0]][c - bounds[2]]) is None]
            raw = got.grid(mine, bounds, formulas=True) if empty else []
            uncalculated = [(r, c) for r, c in empty if _is_formula(raw[r - bounds[0]][c - bounds[2]])]
            total = len(expected) * (bounds[3] - bounds[2] + 1)
            problems.append(_Mismatch(title, rng.text, total, differing, uncalculated))
        return problems

    def _differing(
        self, expected: list[tuple[Any, ...]], actual: list[tuple[Any, ...]], bounds: Bounds
    ) -> list[tuple[int, int]]:
        """(row, column) of every cell whose values differ, in reading order."""
        min_row, _, min_col, _ = bounds
        same = same_cell_value
        return [
            (min_row + i, min_col + j)
            for i, (want_row, got_row) in enumerate(zip(expected, actual, strict=True))
            for j, (a, b) in enumerate(zip(want_row, got_row, strict=True))
            if not (a == b and type(a) is type(b)) and not same(a, b, abs_tol=self.abs_tol, rel_tol=self.rel_tol)
        ]


def _render(problems: list[tuple[str, _Problem]], *, counts: bool) -> str:
    lines = []
    for output, problem in problems:
        texts = [problem] if isinstance(problem, str) else problem.lines(counts=counts)
        lines += [f"- {output}: {text}" for text in texts]
    return "\n".join(lines)
