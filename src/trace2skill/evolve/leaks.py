"""Keeping the reference out of lessons: code that backs up what the prompts ask for.

The reference (ground truth) never reaches an analyst: the evaluator says what is wrong, not what
is expected. But an analyst may still work the answer out, and a lesson that quotes it would teach
the agent one task's answer instead of a method. Every string atom of
the reference is searched as a whole word, case-insensitively; atoms shorter than three characters
(two for numbers) are too common to tell a leak from ordinary prose and are not searched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["ReferenceGuard"]

_MIN_CHARS = 3
_MIN_DIGITS = 2
_LONG_ATOM = 200
_MIN_LINE = 12


def _atoms(value: Any) -> Iterable[str]:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, dict):
        for v in value.values():
            yield from _atoms(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _atoms(v)
    elif isinstance(value, int | float):
        yield json.dumps(value)
    else:
        text = str(value).strip()
        if len(text) > _LONG_ATOM:
            yield from (line.strip() for line in text.splitlines() if len(line.strip()) >= _MIN_LINE)
        else:
            yield text


def _searchable(atom: str) -> bool:
    if re.fullmatch(r"-?[\d.,]+", atom):
        return sum(c.isdigit() for c in atom) >= _MIN_DIGITS
    return len(atom) >= _MIN_CHARS


_BEFORE = r"(?<!\w)"
_AFTER = r"(?!\w)"


def _pattern(atom: str) -> str:
    """Whole-word match on each side of the atom that is a word character."""
    head = _BEFORE if atom[0].isalnum() or atom[0] == "_" else ""
    tail = _AFTER if atom[-1].isalnum() or atom[-1] == "_" else ""
    return head + re.escape(atom) + tail


class ReferenceGuard:
    """Finds and masks a trajectory's reference values in text."""

    def __init__(self, reference: Any) -> None:
        atoms = sorted({a for a in _atoms(reference) if _searchable(a)}, key=len, reverse=True)
        self._re = re.compile("|".join(_pattern(a) for a in atoms), re.IGNORECASE) if atoms else None

    def leaks(self, text: str | None) -> bool:
        return bool(self._re and text and self._re.search(text))

    def mask(self, text: str) -> str:
        return self._re.sub("<expected value>", text) if self._re else text
