"""Task scorers beyond exact match, registered by name for the evolve engine's error analyst.

Importing this package registers `numeric` (numbers within a tolerance) and `wikitq`
(WikiTableQuestions denotation). `trace2skill.evolve.evaluator.get_evaluator` imports it on demand,
so a trajectory's `metadata.evaluator` can name them without the caller importing anything.
"""

from __future__ import annotations

from trace2skill.evaluators.numeric import NumericMatch, parse_number
from trace2skill.evaluators.wikitq import WikiTQDenotation, normalize, split_answer
from trace2skill.evolve.evaluator import register_evaluator

__all__ = ["NumericMatch", "WikiTQDenotation", "normalize", "parse_number", "split_answer"]

register_evaluator(NumericMatch.name, NumericMatch)
register_evaluator(WikiTQDenotation.name, WikiTQDenotation)
