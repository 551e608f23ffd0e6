"""The small interface through which analysts reach a task's checker.

An evaluator scores a candidate (an answer, output files, or both) against a trajectory's reference
and says pass or fail, a score, and a readable diff. The error analyst calls it to confirm that a
proposed fix really passes; it is the only way the reference reaches an analyst, and then only as
a diff. `ExactMatch` is the scorer that ships here; the evaluators module registers richer ones
(numeric, table denotation, spreadsheet cells, LLM judge) under their own names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.models import Trajectory

__all__ = [
    "Candidate",
    "Evaluation",
    "Evaluator",
    "EvaluatorResolver",
    "ExactMatch",
    "evaluator_names",
    "get_evaluator",
    "register_evaluator",
    "resolver_for",
]

_DIFF_CHARS = 2_000


class Candidate(BaseModel):
    """What an analyst proposes as the fixed result: a final answer, output files, or both."""

    answer: str | None = None
    files: dict[str, str] = Field(default_factory=dict)


class Evaluation(BaseModel):
    passed: bool
    score: float = 0.0
    diff: str = Field(default="", description="Readable differences; empty when the candidate passes.")

    def render(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} (score {self.score:.3g})"
        return f"{head}\n{self.diff}" if self.diff else head


@runtime_checkable
class Evaluator(Protocol):
    """Scores a candidate against a reference. Async so that an LLM judge fits the same shape."""

    name: str

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation: ...


def _norm(value: Any, *, case_sensitive: bool) -> str:
    text = value if isinstance(value, str) else str(value)
    text = re.sub(r"\s+", " ", text).strip()
    return text if case_sensitive else text.casefold()


def _clip(text: str) -> str:
    return text if len(text) <= _DIFF_CHARS else text[:_DIFF_CHARS] + "\n... (diff truncated)"


class ExactMatch:
    """Exact comparison after collapsing whitespace (and case, unless `case_sensitive`).

    Reference forms: a scalar compared with the answer; a list of acceptable answers; or a dict with
    `answer` (scalar or list) and/or `files` ({name: text}) compared file by file.
    """

    name = "exact"

    def __init__(self, *, case_sensitive: bool = False) -> None:
        self.case_sensitive = case_sensitive

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation:
        if reference is None:
            raise InvalidInput("this trajectory has no reference to evaluate against")
        if isinstance(reference, dict) and ("answer" in reference or "files" in reference):
            want_answer, want_files = reference.get("answer"), reference.get("files") or {}
        else:
            want_answer, want_files = reference, {}
        results: list[list[str]] = []
        if want_answer is not None:
            results.append(self._check_answer(candidate.answer, want_answer))
        for name, expected in sorted(want_files.items()):
            results.append(self._check_file(name, candidate.files.get(name), str(expected)))
        if not results:
            raise InvalidInput("the reference names neither an answer nor files")
        failed = [lines for lines in results if lines]
        score = 1.0 - len(failed) / len(results)
        return Evaluation(passed=not failed, score=score, diff=_clip("\n".join(line for f in failed for line in f)))

    def _check_answer(self, got: str | None, want: Any) -> list[str]:
        options = want if isinstance(want, list) else [want]
        if got is not None:
            mine = _norm(got, case_sensitive=self.case_sensitive)
            if any(mine == _norm(o, case_sensitive=self.case_sensitive) for o in options):
                return []
        shown = " | ".join(repr(str(o)) for o in options)
        return [
            f"- answer: expected {shown}, got {got!r}" if got is not None else f"- answer: missing, expected {shown}"
        ]

    def _check_file(self, name: str, got: str | None, want: str) -> list[str]:
        if got is None:
            return [f"- {name}: file missing from the candidate"]
        if _norm(got, case_sensitive=self.case_sensitive) == _norm(want, case_sensitive=self.case_sensitive):
            return []
        lines = difflib.unified_diff(
            want.splitlines(), got.splitlines(), f"{name} (expected)", f"{name} (candidate)", lineterm="", n=1
        )
        return [f"- {name}: differs", *lines]


_REGISTRY: dict[str, Callable[[], Evaluator]] = {"exact": ExactMatch}


def register_evaluator(name: str, factory: Callable[[], Evaluator]) -> None:
    """Make a scorer available by name (trajectory metadata `evaluator`, or the run's default)."""
    _REGISTRY[name] = factory


def _load_builtin_evaluators() -> None:
    """Register the scorers in `trace2skill.evaluators` (numeric, wikitq) on first need; late import avoids a cycle."""
    import trace2skill.evaluators  # noqa: F401


def evaluator_names() -> list[str]:
    _load_builtin_evaluators()
    return sorted(_REGISTRY)


def get_evaluator(name: str) -> Evaluator:
    if name not in _REGISTRY:
        _load_builtin_evaluators()
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise NotFound(f"no evaluator named {name!r} (known: {', '.join(evaluator_names())})") from None


EvaluatorResolver = Callable[[Trajectory], Evaluator | None]


def resolver_for(default: str | None = None) -> EvaluatorResolver:
    """The usual rule: a trajectory with a reference uses `metadata.evaluator`, else `default`.

    Trajectories without a reference get no evaluator, so their error analysis runs in one call.
    """
    cache: dict[str, Evaluator] = {}

    def resolve(trajectory: Trajectory) -> Evaluator | None:
        if trajectory.reference is None:
            return None
        name = trajectory.metadata.get("evaluator") or default
        if not isinstance(name, str) or not name:
            return None
        if name not in cache:
            cache[name] = get_evaluator(name)
        return cache[name]

    return resolve
