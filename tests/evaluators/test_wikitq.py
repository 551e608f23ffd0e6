from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import MISSING_ANSWER, Candidate, Evaluation
from trace2skill.evaluators.numeric import parse_number
from trace2skill.evaluators.wikitq import (
    WikiTQDenotation,
    normalize,
    parse_date,
    split_answer,
    unescape_tsv,
)


async def _score(answer: str | None, reference: object) -> Evaluation:
    return await WikiTQDenotation().evaluate(Candidate(answer=answer), reference)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Café  Noir", "cafe noir"),
        ('"Hello"', "hello"),
        ("Wolfe Tones.", "wolfe tones"),
        ("Smith[1]", "smith"),
        ("Boston (MA)", "boston"),
        ("‘quoted’", "quoted"),
        ("‘quoted’ name", "'quoted' name"),
        (" 'single' ", "single"),
        ("1998–99", "1998-99"),
        (".5", ".5"),
        ("'n Sync", "'n sync"),
        ("Yes, ", "yes"),
    ],
)
def test_normalize_folds_accents_case_quotes_citations_and_final_period(raw: str, normal: str) -> None:
    assert normalize(raw) == normal


def test_unescape_tsv_restores_newline_pipe_and_backslash() -> None:
    assert unescape_tsv(r"a\pb\nc\\d") == "a|b\nc\\d"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("2001-03-03", (2001, 3, 3)),
        ("March 3, 2001", (2001, 3, 3)),
        ("3 March 2001", (2001, 3, 3)),
        ("Sept. 3rd, 2001", (2001, 9, 3)),
        ("March 2001", (2001, 3, None)),
        ("2001-xx-xx", (2001, None, None)),
        ("xx-03-03", (None, 3, 3)),
        ("2001", None),
        ("2001-13-01", None),
        ("Marchmont", None),
    ],
)
def test_parse_date_reads_parts_that_are_given(text: str, parts: tuple[int | None, ...] | None) -> None:
    assert parse_date(text) == parts


def test_split_answer_splits_on_pipe_only_and_reads_json_lists() -> None:
    assert split_answer("New Delhi, India") == ["New Delhi, India"]
    assert split_answer("a | b") == ["a", "b"]
    assert split_answer('["x|y", 2]') == ["x|y", "2"]
    assert split_answer("[not json") == ["[not json"]
    assert split_answer("") == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "target"),
    [
        ("1000", "1,000"),
        ("2", "2.0"),
        ("2001-03-03", "March 3, 2001"),
        ("2001", "2001"),
        ("2001", "2001-xx-xx"),
        (
            "campbell college|royal belfast academical institution",
            r"Royal Belfast Academical Institution|Campbell College",
        ),
        ('["a|b"]', r"a\pb"),
        ("Crème brûlée.", "creme brulee"),
    ],
)
async def test_wikitq_matches_the_same_denotation_written_differently(answer: str, target: str) -> None:
    result = await _score(answer, target)
    assert result.passed and result.score == 1.0 and result.feedback == ""


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer", "target"),
    [
        ("1001", "1,000"),
        ("2001-03-04", "March 3, 2001"),
        ("March 2001", "2001-03-03"),
        ("2002", "2001-xx-xx"),
        ("a", "a|b"),
        ("a, b", "a|b"),
        ("33", "33 years"),
    ],
)
async def test_wikitq_rejects_a_different_denotation(answer: str, target: str) -> None:
    assert not (await _score(answer, target)).passed


@pytest.mark.anyio
async def test_wikitq_feedback_quotes_the_candidates_unmatched_values_and_counts_the_missing_ones() -> None:
    result = await _score("Alpha|Gamma", "alpha|Beta|Delta")
    assert not result.passed and result.score == pytest.approx(2 / 5)
    assert result.feedback.splitlines() == [
        "- answer: 2 values given, compared as a set with the expected values "
        "(case, accents, quotes and spacing normalised; numbers and dates compared by value)",
        "  - 'Gamma' is not among the expected values",
        "  - 2 values expected but not given",
    ]


@pytest.mark.anyio
async def test_wikitq_masks_a_candidate_value_that_contains_a_target_value() -> None:
    result = await _score("Alpha|Beta Gamma", "alpha|Beta")
    assert "'[hidden] Gamma' is not among the expected values" in result.feedback


@pytest.mark.anyio
async def test_wikitq_takes_list_and_dict_references_and_rejects_empty_ones() -> None:
    assert (await _score("x|y", ["y", "x"])).passed
    assert (await _score("7", {"answer": "7.00"})).passed
    missing = await _score(None, "7")
    assert not missing.passed and missing.feedback == MISSING_ANSWER
    with pytest.raises(InvalidInput):
        await _score("7", None)
    with pytest.raises(InvalidInput):
        await _score("7", {"files": {"out.csv": "7"}})


def _reformat(value: str) -> str | None:
    """The same number written differently: thousands separators and a trailing ".0", or None."""
    parsed = parse_number(value)
    if parsed is None or parsed.percent:
        return None
    number = parsed.value
    text = f"{number:,.1f}" if number.is_integer() else f"{number:,}0"
    return text if text != value else None


def _dev_rows(shared_data: Path) -> list[tuple[str, str]]:
    lines = (shared_data / "wikitablequestions" / "random-split-1-dev.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    assert header == ["id", "utterance", "context", "targetValue"]
    return [(cols[0], cols[3]) for cols in (line.split("\t") for line in lines[1:])]


@pytest.mark.anyio
async def test_every_dev_target_matches_itself_and_reformatted_numbers_and_dates_but_not_a_different_value(
    shared_data: Path,
) -> None:
    rows = _dev_rows(shared_data)
    assert len(rows) == 2831
    scorer, reformatted, dates = WikiTQDenotation(), 0, 0
    for qid, target in rows:
        values = [unescape_tsv(v) for v in target.split("|")]
        assert (await scorer.evaluate(Candidate(answer=json.dumps(values)), target)).passed, qid
        assert not (await scorer.evaluate(Candidate(answer=json.dumps([*values, "zz-not-an-answer"])), target)).passed
        first = parse_number(normalize(values[0]))
        different = f"{first.value + 1:.15g}" if first is not None else values[0] + " zz"
        wrong = json.dumps([different, *values[1:]])
        assert not (await scorer.evaluate(Candidate(answer=wrong), target)).passed, qid
        if len(values) == 1 and (alt := _reformat(values[0])) is not None:
            reformatted += 1
            assert (await scorer.evaluate(Candidate(answer=alt), target)).passed, (qid, alt)
        if len(values) == 1 and (parts := parse_date(values[0])) and None not in parts:
            dates += 1
            iso = "{:04d}-{:02d}-{:02d}".format(*parts)
            assert (await scorer.evaluate(Candidate(answer=iso), target)).passed, (qid, iso)
    assert reformatted > 500 and dates > 20


def _rows(shared_data: Path, name: str) -> list[tuple[str, str]]:
    lines = (shared_data / "wikitablequestions" / name).read_text(encoding="utf-8").splitlines()
    return [(cols[0], cols[3]) for cols in (line.split("\t") for line in lines[1:])]


def _reveals(feedback: str, value: str, own: str) -> bool:
    """Whether `feedback` shows `value` (raw or normalised, two characters or more) as a whole word, once
    the candidate's own quoted value is taken out: quoting what the candidate wrote reveals nothing."""
    text = feedback.replace(repr(own), "''").lower()
    for form in {normalize(value), value.strip().lower()}:
        head = r"(?<![^\W_])" if form[:1].isalnum() else ""
        tail = r"(?![^\W_])" if form[-1:].isalnum() else ""
        if len(form) >= 2 and re.search(head + re.escape(form) + tail, text):
            return True
    return False


@pytest.mark.anyio
@pytest.mark.parametrize("split", ["random-split-1-dev.tsv", "pristine-unseen-tables.tsv"])
async def test_no_feedback_on_a_dev_or_test_question_reveals_a_target_value(shared_data: Path, split: str) -> None:
    scorer, wrong = WikiTQDenotation(), "zzz-wrong"
    for qid, target in _rows(shared_data, split):
        values = [unescape_tsv(v) for v in target.split("|")]
        assert (await scorer.evaluate(Candidate(answer=json.dumps(values)), target)).passed, qid
        for answer in (wrong, "", json.dumps([*values, wrong])):
            result = await scorer.evaluate(Candidate(answer=answer), target)
            assert not result.passed, (qid, answer)
            leaked = [v for v in values if _reveals(result.feedback, v, wrong)]
            assert not leaked, (qid, answer, leaked, result.feedback)
