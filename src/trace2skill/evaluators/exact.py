"""Exact match of an answer and of text files, after collapsing whitespace (and case, by default).

The feedback says which part fails and where (a file's first differing line and line counts), never
the expected text: the error analyst must find the fix, not copy it.
"""

from __future__ import annotations

import re
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import (
    MISSING_ANSWER,
    Candidate,
    Evaluation,
    clip_feedback,
    hide_reference,
    reference_leaves,
)

__all__ = ["ExactMatch"]


def _norm(value: Any, *, case_sensitive: bool) -> str:
    text = value if isinstance(value, str) else str(value)
    text = re.sub(r"\s+", " ", text).strip()
    return text if case_sensitive else text.casefold()


def _text(data: str | bytes) -> str | None:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class ExactMatch:
    """Exact comparison after collapsing whitespace (and case, unless `case_sensitive`).

    Reference forms: a scalar compared with the answer; a list of acceptable answers; or a dict with
    `answer` (scalar or list) and/or `files` ({name: text}) compared file by file.
    """

    name = "exact"

    def __init__(self, *, case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive

    @property
    def _how(self) -> str:
        return f"compared case-{'sensitively' if self.case_sensitive else 'insensitively'}, whitespace collapsed"

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation:
        if reference is None:
            raise InvalidInput("this trajectory has no reference to evaluate against")
        if isinstance(reference, dict) and ("answer" in reference or "files" in reference):
            want_answer, want_files = reference.get("answer"), reference.get("files") or {}
        else:
            want_answer, want_files = reference, {}
        results: list[str | None] = []
        if want_answer is not None:
            results.append(self._check_answer(candidate.answer, want_answer))
        for name, expected in sorted(want_files.items()):
            results.append(self._check_file(name, candidate.files.get(name), str(expected)))
        if not results:
            raise InvalidInput("the reference names neither an answer nor files")
        failed = [line for line in results if line]
        feedback = hide_reference("\n".join(failed), reference_leaves(want_answer))
        return Evaluation(passed=not failed, score=1.0 - len(failed) / len(results), feedback=clip_feedback(feedback))

    def _same(self, got: Any, want: Any) -> bool:
        return _norm(got, case_sensitive=self.case_sensitive) == _norm(want, case_sensitive=self.case_sensitive)

    def _check_answer(self, got: str | None, want: Any) -> str | None:
        if got is None:
            return MISSING_ANSWER
        options = want if isinstance(want, list) else [want]
        if any(self._same(got, option) for option in options):
            return None
        return f"- answer: does not match the expected answer ({self._how})"

    def _check_file(self, name: str, got: str | bytes | None, want: str) -> str | None:
        if got is None:
            return f"- {name}: missing from the candidate's files"
        text = _text(got)
        if text is None:
            return f"- {name}: binary content where a text file is expected"
        if self._same(text, want):
            return None
        mine = [_norm(line, case_sensitive=self.case_sensitive) for line in text.splitlines()]
        theirs = [_norm(line, case_sensitive=self.case_sensitive) for line in want.splitlines()]
        first = next(
            (i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), min(len(mine), len(theirs))
        )
        return (
            f"- {name}: differs from the expected file from line {first + 1} "
            f"({len(theirs)} lines expected, {len(mine)} given; {self._how})"
        )
