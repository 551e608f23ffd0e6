"""The scorer interface: what a candidate is, what a verdict says, and how scorers are found by name.

An evaluator scores a candidate (an answer, output files, or both) against a trajectory's reference
and says pass or fail, a score, and feedback. The error analyst calls it to check a proposed fix, so
the feedback says what is wrong and where, never what the reference holds: an analyst who could read
the expected value would copy it back and "pass". `hide_reference` is the last line of defence
every built-in scorer applies to its feedback.

This module imports nothing of the project but `errors` and `models`, so the evolve engine, the
benchmark harness and the scorers can all depend on it without a cycle.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from trace2skill.errors import NotFound
from trace2skill.models import Trajectory

__all__ = [
    "HIDDEN",
    "MISSING_ANSWER",
    "Candidate",
    "Evaluation",
    "Evaluator",
    "EvaluatorResolver",
    "clip_feedback",
    "evaluator_names",
    "get_evaluator",
    "hide_reference",
    "reference_leaves",
    "register_evaluator",
    "resolver_for",
]

HIDDEN = "[hidden]"
MISSING_ANSWER = "- answer: missing from the candidate"
"""Feedback for a candidate with no answer (worded without "no" or "none", which are answers too)."""
_FEEDBACK_CHARS = 2_000


class Candidate(BaseModel):
    """What is scored: a final answer, output files by relative name (bytes for binary ones), or both."""

    answer: str | None = None
    files: dict[str, str | bytes] = Field(default_factory=dict)


class Evaluation(BaseModel):
    passed: bool
    score: float = 0.0
    feedback: str = Field(default="", description="What is wrong and where (never the reference); empty on a pass.")

    def render(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} (score {self.score:.3g})"
        return f"{head}\n{self.feedback}" if self.feedback else head


@runtime_checkable
class Evaluator(Protocol):
    """Scores a candidate against a reference. Async so that an LLM judge fits the same shape."""

    name: str

    async def evaluate(self, candidate: Candidate, reference: Any) -> Evaluation: ...


_REGISTRY: dict[str, Callable[..., Evaluator]] = {}


def register_evaluator(name: str, factory: Callable[..., Evaluator]) -> None:
    """Make a scorer available by name (trajectory metadata `evaluator`, a suite's tasks, or a run's default)."""
    _REGISTRY[name] = factory


def evaluator_names() -> list[str]:
    return sorted(_REGISTRY)


def _accepted(factory: Callable[..., Evaluator], options: dict[str, Any]) -> dict[str, Any]:
    """The options `factory` takes: one set (say the judge's `llm`) can then serve every scorer of a suite."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return options
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return options
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in options.items() if k in names}


def get_evaluator(name: str, **options: Any) -> Evaluator:
    """A new scorer by name; `options` go to its factory, leaving out those it does not take."""
    factory = _REGISTRY.get(name)
    if factory is None:
        raise NotFound(f"no evaluator named {name!r} (known: {', '.join(evaluator_names())})")
    return factory(**_accepted(factory, options))


EvaluatorResolver = Callable[[Trajectory], Evaluator | None]


def resolver_for(default: str | None = None, **options: Any) -> EvaluatorResolver:
    """The usual rule: a trajectory with a reference uses `metadata.evaluator`, else `default`.

    Trajectories without a reference get no evaluator, so their error analysis runs in one call.
    `options` go to every scorer the resolver makes (each takes the ones it knows).
    """
    cache: dict[str, Evaluator] = {}

    def resolve(trajectory: Trajectory) -> Evaluator | None:
        if trajectory.reference is None:
            return None
        name = trajectory.metadata.get("evaluator") or default
        if not isinstance(name, str) or not name:
            return None
        if name not in cache:
            cache[name] = get_evaluator(name, **options)
        return cache[name]

    return resolve


def clip_feedback(text: str, limit: int = _FEEDBACK_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n... (feedback truncated)"


def reference_leaves(reference: Any) -> list[Any]:
    """Every scalar inside a reference (dict values, list items), the values `hide_reference` masks."""
    if isinstance(reference, dict):
        return [leaf for value in reference.values() for leaf in reference_leaves(value)]
    if isinstance(reference, list | tuple | set | frozenset):
        return [leaf for value in reference for leaf in reference_leaves(value)]
    return [] if reference is None else [reference]


_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:e[-+]?\d+)?%?", re.IGNORECASE)


def _number_forms(value: float) -> set[str]:
    if not math.isfinite(value):
        return set()
    forms = {str(value), f"{value:.12g}"}
    if float(value).is_integer():
        forms.add(str(int(value)))
    return forms


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _forms(values: Iterable[Any]) -> set[str]:
    """The text forms of reference values worth masking: lower case, spacing collapsed, two characters or more."""
    forms: set[str] = set()
    for value in values:
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            forms |= _number_forms(float(value)) if isinstance(value, float) else {str(value)}
        elif isinstance(value, dt.datetime):
            forms |= {str(value), value.isoformat(), value.date().isoformat()}
        elif isinstance(value, dt.date | dt.time):
            forms |= {str(value), value.isoformat()}
        else:
            forms.add(str(value))
    cleaned = {_squash(form) for form in forms}
    return {form for form in cleaned if len(form) >= 2}


def _pattern(form: str) -> str:
    """`form` as a whole word: no letter or digit right before or after it (so '12' is not masked in 'B12')."""
    core = r"\s+".join(re.escape(word) for word in form.split(" "))
    before = r"(?<![^\W_])" if form[0].isalnum() else ""
    after = r"(?![^\W_])" if form[-1].isalnum() else ""
    if _NUMBER.fullmatch(form):  # '12' is not in '12.5', '0.12' nor '1,012'; '-5' is not in '10-5'
        before += r"(?<!\d[.,])" + (r"(?<!\d)" if form[0] in "+-" else "")
        after += r"(?![.,]\d)"
    return before + core + after


def hide_reference(text: str, values: Iterable[Any]) -> str:
    """`text` with every reference value that still appears in it (as a whole word, any case) masked.

    Strings of two characters or more and numbers as the reference writes them (also as integers and
    to 12 significant digits). Scorers never write the reference on purpose; this catches the accident
    and the LLM judge that quotes it anyway.
    """
    if not text:
        return text
    low = _squash(text)
    hits = sorted((f for f in _forms(values) if f in low), key=len, reverse=True)
    for form in hits:
        text = re.sub(_pattern(form), HIDDEN, text, flags=re.IGNORECASE)
    return text
