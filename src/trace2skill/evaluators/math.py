"""Math word problems: the final number of a worked answer against the reference number.

Models show their work, so the answer is long and full of intermediate numbers; the final one is the
last `\\boxed{...}` when there is one, else the last number in the text ("1,234.5", "-3", "3/4", "$5",
"12%"). Numbers compare as in `numeric` (tolerance; a percentage on one side only is also read as a
fraction). References: a number, a numeric string, a LaTeX value ("\\frac{3}{4}", "\\boxed{42}"), a
GSM8K answer ("... #### 42"), a list of acceptable ones, or a dict with `answer` and optional
`rel_tol` / `abs_tol`.
"""

from __future__ import annotations

import re
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate, Evaluation, hide_reference, reference_leaves
from trace2skill.evaluators.numeric import ParsedNumber, numbers_match, parse_number, tolerance_note

__all__ = ["MathAnswer", "final_number", "read_number"]

_NUMBER = re.compile(
    r"(?<![\w.])-?\$?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:\s*/\s*\d+(?:\.\d+)?)?\s?%?"
)
_LATEX = [
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\text\s*\{([^{}]*)\}"), r" \1 "),
    (re.compile(r"\{,\}"), ","),
    (re.compile(r"\\[,;:! ]|\\left|\\right|\^\s*\{?\\circ\}?"), ""),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\\$"), "$"),
]


def _boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), braces balanced; None when there is none."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        j += 1
    return text[i : j - 1] if depth == 0 else text[i:]


def _delatex(text: str) -> str:
    for pattern, replacement in _LATEX:
        text = pattern.sub(replacement, text)
    return text.strip().rstrip(".")


def read_number(text: Any) -> ParsedNumber | None:
    """One number written alone: what `numeric.parse_number` reads, plus fractions ("3/4", "(3)/(4)") and LaTeX."""
    if not isinstance(text, str):
        return parse_number(text)
    s = _delatex(text).replace(" ", "")
    if "/" in s:
        top, _, bottom = s.partition("/")
        percent = bottom.endswith("%")
        a, b = parse_number(top.strip("()")), parse_number(bottom.rstrip("%").strip("()"))
        if a is None or b is None or b.value == 0:
            return None
        return ParsedNumber(a.value / b.value, percent)
    return parse_number(s)


def final_number(answer: str) -> tuple[str, str] | None:
    """(the final number as written, where it was found) or None: the last \\boxed{} first, else the last number."""
    boxed = _boxed(answer)
    if boxed is not None:
        inside = _delatex(boxed)
        if read_number(inside) is not None:
            return inside, "\\boxed{}"
        found = _NUMBER.findall(inside)
        if found:
            return found[-1].strip(), "\\boxed{}"
    found = _NUMBER.findall(_delatex(answer))
    return (found[-1].strip(), "the last number in the answer") if found else None


def _reference_number(value: Any) -> ParsedNumber:
    text = value
    if isinstance(value, str):
        text = value.rsplit("####", 1)[1] if "####" in value else value
        boxed = _boxed(text)
        text = boxed if boxed is not None else text
    parsed = read_number(text)
    if parsed is None:
        raise InvalidInput("the math evaluator needs a numeric reference, and this one is not a number")
    return parsed


class MathAnswer:
    """Passes when the answer's final number equals a reference number within the tolerances."""

    name = "math"

    def __init__(self, *, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        if rel_tol < 0 or abs_tol < 0:
            raise InvalidInput("math tolerances must be zero or more")
        self.rel_tol, self.abs_tol = rel_tol, abs_tol

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation:
        rel_tol, abs_tol = self.rel_tol, self.abs_tol
        if isinstance(reference, dict):
            if "answer" not in reference:
                raise InvalidInput("the reference has no 'answer' for the math evaluator")
            rel_tol = float(reference.get("rel_tol", rel_tol))
            abs_tol = float(reference.get("abs_tol", abs_tol))
            reference = reference["answer"]
        if reference is None or reference == []:
            raise InvalidInput("this trajectory has no reference to evaluate against")
        wanted = [_reference_number(v) for v in (reference if isinstance(reference, list) else [reference])]
        if candidate.answer is None:
            return Evaluation(passed=False, score=0.0, feedback=MISSING_ANSWER)
        found = final_number(candidate.answer)
        if found is None:
            line = "- answer: no final number found; give it as \\boxed{...} or end the answer with it"
            return Evaluation(passed=False, score=0.0, feedback=line)
        text, where = found
        mine = read_number(text)
        if mine is not None and any(numbers_match(mine, w, rel_tol=rel_tol, abs_tol=abs_tol) for w in wanted):
            return Evaluation(passed=True, score=1.0)
        note = tolerance_note(rel_tol, abs_tol)
        line = f"- answer: the final number {text!r} (read from {where}) does not match ({note})"
        hidden = [*reference_leaves(reference), *(w.value for w in wanted)]
        return Evaluation(passed=False, score=0.0, feedback=hide_reference(line, hidden))
