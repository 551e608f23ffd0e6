"""Reading SpreadsheetBench's `answer_position` and `answer_sheet`, quoting mistakes and all.

The published positions are hand-written: "A3:D32", "B6", "'Sheet1'!A1:B82", several ranges joined
by commas ("G4:G6, G11:G13"), sheet names with commas inside quotes ("'b2b, sez, de'!A5:V10"), and
broken quoting ("OUT CAS'!A2:C1529", "'Sheet1!'A1:A50", "'Sheet1'!'A2:A85", a leading no-break
space). Ranges may be whole columns ("A:G"), whole rows ("2:12") or miss their end column
("BD2:308" means BD2:BD308). Quotes only ever wrap a sheet name (Excel forbids them at either end
of one), so they are dropped; a comma splits ranges unless it sits inside quotes that open a part,
and a piece that is not a range on its own is joined with the next one.

A range without a sheet is on the answer sheet: the first name in `answer_sheet` that the golden
workbook has, else the golden's first sheet (SpreadsheetBench's own evaluation always uses the
first sheet; task 13-1 shows `answer_sheet` is right when they differ).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trace2skill.errors import InvalidInput

__all__ = ["AnswerRange", "column_letter", "parse_answer_position", "parse_answer_sheets", "pick_sheet"]

_RANGE = re.compile(r"([A-Z]{1,3})?(\d+)?(?::([A-Z]{1,3})?(\d+)?)?")
_MAX_COLUMN, _MAX_ROW = 16_384, 1_048_576


def _column(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number


def column_letter(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class AnswerRange:
    """One rectangle to compare; None bounds are open (whole columns or rows) until bounded by the sheets."""

    sheet: str | None
    text: str
    min_col: int | None
    min_row: int | None
    max_col: int | None
    max_row: int | None

    def bounded(self, max_row: int, max_col: int) -> tuple[int, int, int, int]:
        """(min_row, max_row, min_col, max_col), open ends closed at the used size of the sheets."""
        return (self.min_row or 1, self.max_row or max(max_row, 1), self.min_col or 1, self.max_col or max(max_col, 1))


def _parse_range(text: str, sheet: str | None) -> AnswerRange | None:
    m = _RANGE.fullmatch(text)
    if not text or m is None:
        return None
    c1, r1, c2, r2 = m.groups()
    if ":" not in text:
        if not (c1 and r1):
            return None
        c2, r2 = c1, r1
    elif c1 and r1 and r2 and not c2:  # "BD2:308"
        c2 = c1
    elif bool(c1) != bool(c2) or bool(r1) != bool(r2) or not (c1 or r1):
        return None
    cols = sorted((_column(c1), _column(c2))) if c1 and c2 else [None, None]
    rows = sorted((int(r1), int(r2))) if r1 and r2 else [None, None]
    if (cols[1] or 1) > _MAX_COLUMN or (rows[1] or 1) > _MAX_ROW or rows[0] == 0:
        return None
    return AnswerRange(sheet, text, cols[0], rows[0], cols[1], rows[1])


def _clean_sheet(name: str) -> str:
    return name.strip().strip("'").strip().replace("''", "'")


def _parse_part(part: str) -> AnswerRange | None:
    sheet = None
    if "!" in part:
        name, part = part.rsplit("!", 1)
        sheet = _clean_sheet(name)
        if not sheet:
            return None
    text = part.strip().strip("'\"").replace("$", "").replace(" ", "").upper()
    return _parse_range(text, sheet)


def _split(text: str) -> list[str]:
    """Split on commas, except inside a quote that opens a part ("'b2b, sez, de'!A5")."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'" and (quoted or not "".join(current).strip()):
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _normalise(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\uff1a", ":").strip()


def parse_answer_position(text: str) -> list[AnswerRange]:
    """The ranges of an `answer_position`, in order; InvalidInput when a piece is not a range."""
    ranges: list[AnswerRange] = []
    pending = ""
    for part in _split(_normalise(str(text))):
        pending = f"{pending},{part}" if pending else part
        parsed = _parse_part(pending)
        if parsed is not None:
            ranges.append(parsed)
            pending = ""
    if pending.strip() or not ranges:
        raise InvalidInput(f"cannot read the answer position {text!r} as cell ranges")
    return ranges


def parse_answer_sheets(text: str | None) -> list[str]:
    """Candidate names in an `answer_sheet`: the whole text first ("b2b, sez, de"), then its comma-separated parts."""
    if not text or not str(text).strip():
        return []
    whole = _clean_sheet(_normalise(str(text)))
    names = [whole] + [_clean_sheet(p) for p in _split(_normalise(str(text)))]
    return list(dict.fromkeys(name for name in names if name))


def pick_sheet(name: str, sheetnames: list[str]) -> str | None:
    """The sheet called `name`: exactly, else ignoring case, else ignoring case and spacing; None if absent."""
    if name in sheetnames:
        return name
    for fold in (str.casefold, lambda s: re.sub(r"\s+", "", s).casefold()):
        matches = [s for s in sheetnames if fold(s) == fold(name)]
        if matches:
            return matches[0]
    return None
