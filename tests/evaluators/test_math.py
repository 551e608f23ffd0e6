from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate, Evaluation, get_evaluator
from trace2skill.evaluators.math import MathAnswer, final_number, read_number


async def _score(answer: str | None, reference: object) -> Evaluation:
    return await MathAnswer().evaluate(Candidate(answer=answer), reference)


@pytest.mark.parametrize(
    ("answer", "final"),
    [
        ("First 3 + 4 = 7, so the answer is \\boxed{42}. Check: 42 - 2 = 40.", ("42", "\\boxed{}")),
        ("\\boxed{\\frac{3}{4}}", ("(3)/(4)", "\\boxed{}")),
        ("so x = \\boxed{x = 12}", ("12", "\\boxed{}")),
        ("\\boxed{\\$1{,}234.50}", ("$1,234.50", "\\boxed{}")),
        ("She pays $5 a day for 7 days, $35 in all.", ("$35", "the last number in the answer")),
        ("Sales grew from 1,000 to 1,234.5.", ("1,234.5", "the last number in the answer")),
        ("The temperature fell to -3.", ("-3", "the last number in the answer")),
        ("Between 5-3 and 2", ("2", "the last number in the answer")),
        ("A share of 3/4 of the cake", ("3/4", "the last number in the answer")),
        ("It rose by 12%.", ("12%", "the last number in the answer")),
        ("no digits here", None),
    ],
)
def test_the_final_number_is_the_last_boxed_value_else_the_last_number(
    answer: str, final: tuple[str, str] | None
) -> None:
    assert final_number(answer) == final


@pytest.mark.parametrize(
    ("text", "value"),
    [("3/4", 0.75), ("(3)/(4)", 0.75), ("\\frac{1}{8}", 0.125), ("$1,234.50", 1234.5), ("-3", -3.0), ("42.", 42.0)],
)
def test_read_number_reads_fractions_and_latex_too(text: str, value: float) -> None:
    parsed = read_number(text)
    assert parsed is not None and parsed.value == pytest.approx(value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "reference"),
    [
        ("Adding up, she has \\boxed{18} apples.", 18),
        ("The total is 1,234.50 dollars.", "1234.5"),
        ("So 3/4 of them.", 0.75),
        ("That is 12%.", "0.12"),
        ("\\boxed{42}", "Natalia sold 48/2 = 24 clips in May.\nAltogether she sold 48+24 = 72 clips.\n#### 42"),
        ("\\boxed{1000}", "#### 1,000"),
        ("\\boxed{0.5}", "\\frac{1}{2}"),
        ("\\boxed{7}", [6, 7]),
        ("The answer is 100.4", {"answer": 100, "rel_tol": 0.01}),
    ],
)
async def test_the_same_final_number_passes(answer: str, reference: object) -> None:
    result = await _score(answer, reference)
    assert result.passed and result.score == 1.0 and result.feedback == ""


@pytest.mark.anyio
async def test_a_wrong_final_number_fails_without_the_reference_or_a_direction() -> None:
    result = await _score("Working: 40 + 2 gives \\boxed{41}", "#### 42")
    assert not result.passed and result.score == 0.0
    assert result.feedback == (
        "- answer: the final number '41' (read from \\boxed{}) does not match (tolerance rel 1e-06, abs 1e-09)"
    )
    higher = await _score("\\boxed{43}", "#### 42")
    assert higher.feedback.replace("43", "41") == result.feedback


@pytest.mark.anyio
async def test_an_answer_without_a_number_or_without_text_says_so() -> None:
    assert (await _score("I could not work it out.", 42)).feedback.startswith("- answer: no final number found")
    assert (await _score(None, 42)).feedback == MISSING_ANSWER


@pytest.mark.anyio
async def test_a_reference_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(InvalidInput, match="numeric reference"):
        await _score("\\boxed{1}", "a triangle")
    with pytest.raises(InvalidInput):
        await _score("\\boxed{1}", None)
    assert get_evaluator("math").name == "math"
