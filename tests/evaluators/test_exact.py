from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate
from trace2skill.evaluators.exact import ExactMatch


@pytest.mark.anyio
async def test_exact_match_passes_on_the_same_answer_ignoring_case_and_spacing() -> None:
    result = await ExactMatch().evaluate(Candidate(answer="  New   York "), "new york")
    assert result.passed and result.score == 1.0 and result.feedback == ""


@pytest.mark.anyio
async def test_exact_match_failure_says_what_differs_but_not_the_expected_answer() -> None:
    result = await ExactMatch().evaluate(Candidate(answer="2003"), 2004)
    assert not result.passed and result.score == 0.0
    assert result.feedback == (
        "- answer: does not match the expected answer (compared case-insensitively, whitespace collapsed)"
    )
    assert "2004" not in result.render() and result.render().startswith("FAIL")


@pytest.mark.anyio
async def test_exact_match_accepts_any_listed_alternative() -> None:
    assert (await ExactMatch().evaluate(Candidate(answer="NYC"), ["New York", "nyc"])).passed


@pytest.mark.anyio
async def test_exact_match_case_sensitive_mode_tells_case_apart_and_says_so() -> None:
    result = await ExactMatch(case_sensitive=True).evaluate(Candidate(answer="abc"), "ABC")
    assert not result.passed and "case-sensitively" in result.feedback


@pytest.mark.anyio
async def test_exact_match_reports_a_missing_answer() -> None:
    result = await ExactMatch().evaluate(Candidate(), "secret")
    assert result.feedback == MISSING_ANSWER


@pytest.mark.anyio
async def test_exact_match_names_a_files_first_differing_line_and_line_counts_without_its_text() -> None:
    expected = "a,b\n" + "\n".join(f"{i},{i * 2}" for i in range(1, 40)) + "\n"
    given = expected.replace("12,24", "12,25").rsplit("\n", 3)[0] + "\n"
    reference = {"answer": "3", "files": {"out.csv": expected, "log.txt": "ok"}}
    result = await ExactMatch().evaluate(Candidate(answer="3", files={"out.csv": given}), reference)
    assert not result.passed and result.score == pytest.approx(1 / 3)
    assert result.feedback.splitlines() == [
        "- log.txt: missing from the candidate's files",
        "- out.csv: differs from the expected file from line 13 (40 lines expected, 38 given; "
        "compared case-insensitively, whitespace collapsed)",
    ]
    assert "12,24" not in result.feedback


@pytest.mark.anyio
async def test_exact_match_reads_utf8_bytes_as_text_and_refuses_binary_for_a_text_file() -> None:
    reference = {"files": {"a.txt": "héllo"}}
    assert (await ExactMatch().evaluate(Candidate(files={"a.txt": "héllo".encode()}), reference)).passed
    binary = await ExactMatch().evaluate(Candidate(files={"a.txt": b"\xff\xfe\x00"}), reference)
    assert not binary.passed and "binary content" in binary.feedback


@pytest.mark.anyio
async def test_exact_match_refuses_a_missing_reference() -> None:
    with pytest.raises(InvalidInput):
        await ExactMatch().evaluate(Candidate(answer="x"), None)
    with pytest.raises(InvalidInput):
        await ExactMatch().evaluate(Candidate(answer="x"), {"answer": None, "files": {}})
