"""Numeric answers compared as numbers within a tolerance, so "1,234.50" and "1234.5" agree.

Math and finance tasks state the same number many ways (thousands separators, currency signs,
percentages, scientific notation). Text that is not a number falls back to a normalised exact
comparison, so one scorer serves mixed answer sets.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate, Evaluation, hide_reference, reference_leaves

__all__ = ["NumericMatch", "ParsedNumber", "numbers_match", "parse_number", "tolerance_note"]

_CURRENCY = "$€£¥₹"
_MINUSES = "−–—‒"  # unicode minus and dashes written as a leading minus sign
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


@dataclass(frozen=True)
class ParsedNumber:
    """A number read from text; `percent` remembers a trailing % so "12%" can also match 0.12."""

    value: float
    percent: bool = False


def parse_number(text: Any) -> ParsedNumber | None:
    """Read one number from `text`, or None when it is not exactly one number.

    Accepts "1,234.5", "12%", "$3.50", "-$3.50", "-7", "+7", "1.5e-3", "−7" (unicode minus), and
    surrounding spaces. Rejects anything with other words ("12 apples"), so text answers stay text.
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return ParsedNumber(float(text)) if math.isfinite(float(text)) else None
    s = str(text).replace("\u00a0", " ").strip().lower()
    for dash in _MINUSES:
        s = s.replace(dash, "-")
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    sign = ""
    if s[:1] in "+-" and s:
        sign, s = s[0], s[1:]
    if s[:1] and s[0] in _CURRENCY:
        s = s[1:]
    elif s[-1:] and s[-1] in _CURRENCY:
        s = s[:-1]
    s = s.strip()
    if s[:1] in "+-" and s and not sign:  # "$-3.50"
        sign, s = s[0], s[1:]
    s = sign + s.strip()
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    elif not _PLAIN.fullmatch(s):
        return None
    value = float(s)
    return ParsedNumber(value, percent) if math.isfinite(value) else None


def _text(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().casefold()


def numbers_match(got: ParsedNumber, want: ParsedNumber, *, rel_tol: float, abs_tol: float) -> bool:
    """Equal within the tolerances; a percentage on one side only is also read as a fraction."""
    readings = [(got.value, want.value)]
    if got.percent != want.percent:  # "12%" vs 0.12
        readings.append(
            (got.value / 100 if got.percent else got.value, want.value / 100 if want.percent else want.value)
        )
    return any(math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol) for a, b in readings)


def tolerance_note(rel_tol: float, abs_tol: float) -> str:
    return f"tolerance rel {rel_tol:g}, abs {abs_tol:g}"


class NumericMatch:
    """Numbers equal within `rel_tol`/`abs_tol` (as `math.isclose`); other text compared exactly.

    Reference forms, as for `exact`: a scalar, a list of acceptable answers, or a dict with `answer`
    (scalar or list) and optional per-task `rel_tol` / `abs_tol`. A percentage on one side only is
    read both ways: "12%" matches 12 and 0.12. The feedback says how the answer was read and that it
    does not match, never the expected value nor whether the answer is too high or too low.
    """

    name = "numeric"

    def __init__(self, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        if rel_tol < 0 or abs_tol < 0:
            raise InvalidInput("numeric tolerances must be zero or more")
        self.rel_tol, self.abs_tol = rel_tol, abs_tol

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation:
        options, rel_tol, abs_tol = self._options(reference)
        got = candidate.answer
        if got is None:
            return Evaluation(passed=False, score=0.0, feedback=MISSING_ANSWER)
        mine = parse_number(got)
        if any(self._matches(got, mine, option, rel_tol, abs_tol) for option in options):
            return Evaluation(passed=True, score=1.0)
        numeric = [parse_number(o) is not None for o in options]
        shown = _clip(got)
        if mine is not None and any(numeric):
            line = f"{shown!r} is a number but does not match ({tolerance_note(rel_tol, abs_tol)})"
        elif mine is not None:
            line = (
                f"{shown!r} is a number but the expected answer is text (compared as text: only one side is a number)"
            )
        elif any(numeric):
            line = f"{shown!r} is not read as a number but a number is expected (only one side is a number)"
        else:
            line = f"{shown!r} does not match (compared as text, case-insensitively, whitespace collapsed)"
        feedback = hide_reference(f"- answer: {line}", reference_leaves(options))
        return Evaluation(passed=False, score=0.0, feedback=feedback)

    def _options(self, reference: Any) -> tuple[list[Any], float, float]:
        rel_tol, abs_tol = self.rel_tol, self.abs_tol
        if isinstance(reference, dict):
            if reference.get("files"):
                raise InvalidInput("the numeric evaluator compares answers only; use 'exact' for files")
            if "answer" not in reference:
                raise InvalidInput("the reference has no 'answer' to compare numerically")
            rel_tol = float(reference.get("rel_tol", rel_tol))
            abs_tol = float(reference.get("abs_tol", abs_tol))
            reference = reference["answer"]
        if reference is None:
            raise InvalidInput("this trajectory has no reference to evaluate against")
        options = reference if isinstance(reference, list) else [reference]
        if not options:
            raise InvalidInput("the reference lists no acceptable answers")
        return options, rel_tol, abs_tol

    @staticmethod
    def _matches(got: str, mine: ParsedNumber | None, want: Any, rel_tol: float, abs_tol: float) -> bool:
        theirs = parse_number(want)
        if mine is None or theirs is None:
            return _text(got) == _text(want)
        return numbers_match(mine, theirs, rel_tol=rel_tol, abs_tol=abs_tol)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
