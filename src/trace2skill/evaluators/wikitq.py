"""WikiTableQuestions denotation match: answers compared as sets of normalised values.

Follows the dataset's own scoring (Pasupat & Liang 2015): each value is normalised (accents,
case, quotes, citations, spacing, a final period), numbers compare numerically ("1,000" = "1000",
"2.0" = "2") and dates by their parts ("March 3, 2001" = "2001-03-03"). The predicted and target
lists must agree as sets.

Predicted answers: a JSON list, or a string split on `|` only. We do not split on ", " because
many single WikiTQ values contain a comma ("New Delhi, India", "12,467").
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate, Evaluation, hide_reference
from trace2skill.evaluators.numeric import parse_number

__all__ = ["WikiTQDenotation", "WikiValue", "normalize", "parse_date", "split_answer", "unescape_tsv"]

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ISO = re.compile(r"(\d{4}|xx)-(\d{1,2}|xx)(?:-(\d{1,2}|xx))?")
_MDY = re.compile(_MONTH + r"(?: (\d{1,2})(?:st|nd|rd|th)?,?)? (\d{4})")
_DMY = re.compile(r"(\d{1,2})(?:st|nd|rd|th)? " + _MONTH + r",? (\d{4})")
_SURROUNDING = ",;:!?"  # quotes only in balanced pairs ("'n Sync"); not "." (".5") nor brackets ("(a) x")


def unescape_tsv(text: str) -> str:
    r"""Undo the WikiTQ TSV escapes inside one value: `\n` newline, `\p` pipe, `\\` backslash."""
    return re.sub(r"\\([np\\])", lambda m: {"n": "\n", "p": "|", "\\": "\\"}[m.group(1)], text)


def normalize(text: str) -> str:
    """The dataset's string normalisation: compare what a reader would call the same value."""
    x = "".join(c for c in unicodedata.normalize("NFKD", str(text)) if unicodedata.category(c) != "Mn")
    x = re.sub(r"[‘’´`]", "'", x)
    x = re.sub(r"[“”]", '"', x)
    x = re.sub(r"[‐‑‒–—−]", "-", x)
    while True:
        old = x
        x = re.sub(r"((?<!^)\[[^\]]*\]|\[\d+\]|[•♦†‡*#+])*$", "", x.strip())  # citations, footnote marks
        x = re.sub(r"(?<!^)( \([^)]*\))*$", "", x.strip())  # trailing "(details)"
        x = re.sub(r'^"([^"]*)"$', r"\1", x.strip())  # outermost quotes
        x = re.sub(r"^'([^']*)'$", r"\1", x.strip())
        if x == old:
            break
    if x.endswith("."):
        x = x[:-1]
    x = re.sub(r"\s+", " ", x).lower().strip()
    return x.strip(_SURROUNDING + " ") or x


def _part(text: str | None) -> int | None:
    return None if text is None or text == "xx" else int(text)


def parse_date(text: str) -> tuple[int | None, int | None, int | None] | None:
    """(year, month, day) with None for parts not given, or None when `text` is not a date.

    Reads ISO ("2001-03-03", "2001-03", with WikiTQ's "xx" for unknown parts), "March 3, 2001",
    "3 March 2001" and "March 2001". A bare year stays a number; `WikiValue.matches` pairs the two.
    """
    s = normalize(text)
    if m := _ISO.fullmatch(s):
        y, mo, d = _part(m.group(1)), _part(m.group(2)), _part(m.group(3))
    elif m := _MDY.fullmatch(s):
        y, mo, d = int(m.group(3)), _MONTHS[m.group(1)], _part(m.group(2))
    elif m := _DMY.fullmatch(s):
        y, mo, d = int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1))
    else:
        return None
    if (mo is not None and not 1 <= mo <= 12) or (d is not None and not 1 <= d <= 31):
        return None
    if y is None and mo is None and d is None:
        return None
    return (y, mo, d)


@dataclass(frozen=True)
class WikiValue:
    """One answer value with the readings the denotation match compares."""

    raw: str
    text: str
    number: float | None
    date: tuple[int | None, int | None, int | None] | None

    @classmethod
    def of(cls, raw: Any) -> WikiValue:
        raw = "" if raw is None else str(raw)
        text = normalize(raw)
        parsed = parse_number(text)
        number = parsed.value if parsed is not None and not parsed.percent else None
        return cls(raw, text, number, parse_date(raw))

    def matches(self, other: WikiValue) -> bool:
        if self.text == other.text:
            return True
        if self.number is not None and other.number is not None:
            return math.isclose(self.number, other.number, rel_tol=1e-9, abs_tol=1e-6)
        if self.date is not None and other.date is not None:
            return self.date == other.date
        for value, date in ((self, other), (other, self)):  # a bare year against a year-only date
            if value.number is not None and date.date is not None and date.date[1:] == (None, None):
                return value.number == date.date[0]
        return False


def split_answer(answer: Any) -> list[str]:
    """A predicted answer as a list of values: a JSON list as is, else a string split on `|`."""
    if isinstance(answer, list):
        return ["" if v is None else str(v) for v in answer]
    text = str(answer).strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            loaded = None
        if isinstance(loaded, list):
            return ["" if v is None else str(v) for v in loaded]
    return [part.strip() for part in text.split("|")] if text else []


def _reference_values(reference: Any) -> list[str]:
    """Target values: a list, or a WikiTQ targetValue string (split on `|`, TSV escapes undone)."""
    if isinstance(reference, dict):
        if reference.get("files"):
            raise InvalidInput("the wikitq evaluator compares answers only; use 'exact' for files")
        reference = reference.get("answer")
    if reference is None:
        raise InvalidInput("this trajectory has no reference to evaluate against")
    if isinstance(reference, list):
        values = [str(v) for v in reference]
    else:
        values = [unescape_tsv(part) for part in str(reference).split("|")]
    if not values:
        raise InvalidInput("the reference lists no target values")
    return values


def _values(count: int) -> str:
    return f"{count} value{'' if count == 1 else 's'}"


class WikiTQDenotation:
    """Passes when the predicted values and the target values match one another as sets.

    Reference: a targetValue string as in the TSV ("a|b", escapes allowed), a list of values, or a
    dict with `answer` holding either. Score: the share of values on both sides that found a match.
    The feedback counts the values given, quotes those of the candidate's own that match no target,
    and says how many target values are missing, never which. Its fixed words are chosen so that
    none is a WikiTQ answer ("no" and "none" are), since masking one would give it away.
    """

    name = "wikitq"

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation:
        targets = [WikiValue.of(v) for v in _reference_values(reference)]
        if candidate.answer is None:
            return Evaluation(passed=False, score=0.0, feedback=MISSING_ANSWER)
        predicted = [WikiValue.of(v) for v in split_answer(candidate.answer)]
        missing = [t for t in targets if not any(t.matches(p) for p in predicted)]
        extra = [p for p in predicted if not any(p.matches(t) for t in targets)]
        total = len(targets) + len(predicted)
        if not missing and not extra:
            return Evaluation(passed=True, score=1.0)
        lines = [
            f"- answer: {_values(len(predicted))} given, compared as a set with the expected values "
            "(case, accents, quotes and spacing normalised; numbers and dates compared by value)"
        ]
        lines += [f"  - {p.raw[:200]!r} is not among the expected values" for p in extra[:20]]
        if len(extra) > 20:
            lines.append(f"  - and {len(extra) - 20} more values that are not among them")
        if missing:
            lines.append(f"  - {_values(len(missing))} expected but not given")
        hidden = [value for t in targets for value in (t.raw, t.text)]
        feedback = hide_reference("\n".join(lines), hidden)
        return Evaluation(passed=False, score=(total - len(missing) - len(extra)) / total, feedback=feedback)
