from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evaluators import NumericMatch, parse_number
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate, get_evaluator


@pytest.mark.parametrize(
    ("text", "value", "percent"),
    [
        ("1,234.5", 1234.5, False),
        ("12%", 12.0, True),
        ("$3.50", 3.5, False),
        ("-$3.50", -3.5, False),
        ("-7", -7.0, False),
        ("\u22127", -7.0, False),
        ("1.5e-3", 0.0015, False),
        ("  42 ", 42.0, False),
        (".5", 0.5, False),
        (3, 3.0, False),
    ],
)
def test_parse_number_reads_common_ways_of_writing_a_number(text: object, value: float, percent: bool) -> None:
    parsed = parse_number(text)
    assert parsed is not None and parsed.value == pytest.approx(value) and parsed.percent is percent


@pytest.mark.parametrize("text", ["12 apples", "1,23", "3 4", "abc", "", "nan", "1.2.3", True])
def test_parse_number_rejects_text_that_is_not_exactly_one_number(text: object) -> None:
    assert parse_number(text) is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "reference"),
    [("1234.5", "1,234.50"), ("$3.5", 3.5), ("1e3", "1000"), ("12%", 0.12), ("0.12", "12%"), ("-7", "−7.0")],
)
async def test_numeric_match_passes_the_same_number_written_differently(answer: str, reference: object) -> None:
    result = await NumericMatch().evaluate(Candidate(answer=answer), reference)
    assert result.passed and result.score == 1.0 and result.feedback == ""


@pytest.mark.anyio
async def test_numeric_match_failure_says_the_number_does_not_match_without_the_value_or_a_direction() -> None:
    result = await NumericMatch().evaluate(Candidate(answer="12.5"), "1,234.5")
    assert not result.passed and result.score == 0.0
    assert result.feedback == "- answer: '12.5' is a number but does not match (tolerance rel 1e-06, abs 1e-09)"
    low = await NumericMatch().evaluate(Candidate(answer="1230"), "1,234.5")
    high = await NumericMatch().evaluate(Candidate(answer="1240"), "1,234.5")
    assert low.feedback.replace("1230", "N") == high.feedback.replace("1240", "N")


@pytest.mark.anyio
async def test_numeric_match_honours_tolerances_from_the_reference() -> None:
    loose = {"answer": 100, "rel_tol": 0.01}
    assert (await NumericMatch().evaluate(Candidate(answer="100.5"), loose)).passed
    assert not (await NumericMatch().evaluate(Candidate(answer="100.5"), 100)).passed
    assert (await NumericMatch(abs_tol=1.0).evaluate(Candidate(answer="100.5"), 100)).passed


@pytest.mark.anyio
async def test_numeric_match_falls_back_to_normalised_text() -> None:
    assert (await NumericMatch().evaluate(Candidate(answer="  New   York"), "new york")).passed
    result = await NumericMatch().evaluate(Candidate(answer="twelve"), "12")
    assert not result.passed and "only one side is a number" in result.feedback and "12" not in result.feedback
    text = await NumericMatch().evaluate(Candidate(answer="Boston"), "New York")
    assert (
        text.feedback
        == "- answer: 'Boston' does not match (compared as text, case-insensitively, whitespace collapsed)"
    )


@pytest.mark.anyio
async def test_numeric_match_accepts_any_listed_alternative_and_reports_one_miss() -> None:
    assert (await NumericMatch().evaluate(Candidate(answer="2.0"), ["1", "2"])).passed
    result = await NumericMatch().evaluate(Candidate(answer="3"), ["10", "20"])
    assert result.feedback.count("- answer:") == 1 and "10" not in result.feedback and "20" not in result.feedback


@pytest.mark.anyio
async def test_numeric_match_reports_a_missing_answer_and_rejects_bad_references() -> None:
    result = await NumericMatch().evaluate(Candidate(), 5)
    assert not result.passed and result.feedback == MISSING_ANSWER
    with pytest.raises(InvalidInput):
        await NumericMatch().evaluate(Candidate(answer="5"), None)
    with pytest.raises(InvalidInput):
        await NumericMatch().evaluate(Candidate(answer="5"), {"files": {"a.txt": "5"}})
    with pytest.raises(InvalidInput):
        NumericMatch(rel_tol=-1)


def test_the_engine_finds_numeric_and_wikitq_by_name() -> None:
    assert get_evaluator("numeric").name == "numeric"
    assert get_evaluator("wikitq").name == "wikitq"
