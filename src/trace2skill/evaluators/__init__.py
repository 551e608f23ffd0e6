"""Task scorers, found by name: the error analyst checks fixes with them, the benchmarks score runs.

    from trace2skill.evaluators import Candidate, get_evaluator
    result = await get_evaluator("numeric").evaluate(Candidate(answer="1,234.5"), "1234.50")
    result.passed, result.score, result.feedback

Importing this package registers the built-ins: `exact`, `numeric` (numbers within a tolerance),
`wikitq` (WikiTableQuestions denotation), `xlsx-cells` (SpreadsheetBench cell comparison, needs
openpyxl), `math` (the final number of a worked answer) and `judge` (an LLM judge; needs `llm=`).
No scorer's feedback reveals the reference. This package depends on `errors` and `models` only
(and, inside the judge, on `llm`), so anything may depend on it.
"""

from __future__ import annotations

from trace2skill.evaluators.base import (
    Candidate,
    Evaluation,
    Evaluator,
    EvaluatorResolver,
    evaluator_names,
    get_evaluator,
    hide_reference,
    register_evaluator,
    resolver_for,
)
from trace2skill.evaluators.exact import ExactMatch
from trace2skill.evaluators.judge import JudgeEvaluator
from trace2skill.evaluators.math import MathAnswer
from trace2skill.evaluators.numeric import NumericMatch, parse_number
from trace2skill.evaluators.wikitq import WikiTQDenotation, normalize, split_answer
from trace2skill.evaluators.xlsx import XlsxCells

__all__ = [
    "Candidate",
    "Evaluation",
    "Evaluator",
    "EvaluatorResolver",
    "ExactMatch",
    "JudgeEvaluator",
    "MathAnswer",
    "NumericMatch",
    "WikiTQDenotation",
    "XlsxCells",
    "evaluator_names",
    "get_evaluator",
    "hide_reference",
    "normalize",
    "parse_number",
    "register_evaluator",
    "resolver_for",
    "split_answer",
]

for _scorer in (ExactMatch, NumericMatch, WikiTQDenotation, XlsxCells, MathAnswer, JudgeEvaluator):
    register_evaluator(_scorer.name, _scorer)
