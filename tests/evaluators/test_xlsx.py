from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.base import Candidate, Evaluation, get_evaluator
from trace2skill.evaluators.xlsx import XlsxCells, same_cell_value
from trace2skill.evaluators.xlsx_ranges import parse_answer_position, parse_answer_sheets, pick_sheet

Sheets = dict[str, dict[str, Any]]

GOLDEN: Sheets = {
    "Data": {"A1": "input", "B1": 1},
    "Out": {
        "A1": "Region",
        "B1": "Total",
        "A2": "North",
        "B2": 1250.5,
        "A3": "South",
        "B3": 75,
        "C2": dt.datetime(2024, 3, 1),
        "C3": True,
        "A4": "Secret Label",
        "B4": 98765,
    },
}


def _book(sheets: Sheets, *, formulas: dict[str, dict[str, str]] | None = None) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, cells in sheets.items():
        ws = wb.create_sheet(title)
        for address, value in cells.items():
            ws[address] = value
        for address, formula in (formulas or {}).get(title, {}).items():
            ws[address] = formula
    data = io.BytesIO()
    wb.save(data)
    return data.getvalue()


def _changed(sheets: Sheets, title: str, **cells: Any) -> Sheets:
    return {**sheets, title: {**sheets[title], **cells}}


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    path = tmp_path / "1_golden.xlsx"
    path.write_bytes(_book(GOLDEN))
    return path


def _reference(golden: Path, position: str = "'Out'!A1:C4", **extra: Any) -> dict[str, Any]:
    return {"answer_position": position, "cases": [{"output": "out.xlsx", "golden": str(golden)}], **extra}


async def _score(data: bytes | str | None, reference: dict[str, Any]) -> Evaluation:
    files = {} if data is None else {"out.xlsx": data}
    return await XlsxCells().evaluate(Candidate(files=files), reference)


@pytest.mark.anyio
async def test_the_golden_workbook_passes_against_itself(golden: Path) -> None:
    result = await _score(golden.read_bytes(), _reference(golden))
    assert result.passed and result.score == 1.0 and result.feedback == ""
    assert get_evaluator("xlsx-cells").name == "xlsx-cells"


@pytest.mark.anyio
async def test_values_written_differently_but_equal_pass(golden: Path) -> None:
    serial = (dt.datetime(2024, 3, 1) - dt.datetime(1899, 12, 30)).days
    output = _changed(GOLDEN, "Out", B2=1250.5 + 1e-9, B3=75.0, A2="  North ", C2=serial, D9="")
    assert (await _score(_book(output), _reference(golden, "'Out'!A1:D9"))).passed


@pytest.mark.parametrize(
    ("want", "got", "same"),
    [
        (None, "", True),
        ("", "   ", True),
        (3, 3.0, True),
        (1.0, 1.0 + 1e-7, True),
        (1e12, 1e12 + 1, True),
        (1.0, 1.001, False),
        (True, 1, False),
        (True, True, True),
        ("Abc", "abc", False),
        (dt.datetime(2024, 3, 1, 12), dt.datetime(2024, 3, 1, 12, 0, 0, 400), True),
        (dt.datetime(2024, 3, 1), dt.date(2024, 3, 1), True),
        (dt.time(12, 30), 0.5208333333333334, True),
        (dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2), False),
        ("12", 12, False),
    ],
)
def test_cell_values_compare_as_values(want: Any, got: Any, same: bool) -> None:
    assert same_cell_value(want, got) is same


@pytest.mark.anyio
async def test_a_failure_names_the_cells_that_differ_but_never_their_values(golden: Path) -> None:
    output = _changed(GOLDEN, "Out", B2=1250, A4="Wrong Label", B4=98766, C3=1)
    result = await _score(_book(output), _reference(golden))
    assert not result.passed and result.score == 0.0
    assert result.feedback == "- out.xlsx: sheet 'Out': 4 of 12 cells in A1:C4 differ: B2, C3, A4, B4"
    for value in ("1250.5", "Secret", "98765", "True"):
        assert value not in result.feedback


@pytest.mark.anyio
async def test_only_the_first_ten_differing_cells_are_listed(golden: Path) -> None:
    output = _changed(GOLDEN, "Out", **{f"{c}{r}": "x" for c in "ABC" for r in range(1, 5)})
    result = await _score(_book(output), _reference(golden))
    assert result.feedback.endswith("A1, B1, C1, A2, B2, C2, A3, B3, C3, A4 ... (first 10)")


@pytest.mark.anyio
async def test_formulas_saved_without_values_get_their_own_line(golden: Path) -> None:
    output = _book(
        _changed(GOLDEN, "Out", B2=None, B3=None), formulas={"Out": {"B2": "=1000+250.5", "B3": "=SUM(1,2)"}}
    )
    result = await _score(output, _reference(golden))
    lines = result.feedback.splitlines()
    assert lines[0] == "- out.xlsx: sheet 'Out': 2 of 12 cells in A1:C4 differ: B2, B3"
    assert lines[1].startswith(
        "- out.xlsx: sheet 'Out': 2 of those cells hold formulas without computed values (B2, B3)"
    )
    assert "recalculate it" in lines[1] and "or write the values" in lines[1]


@pytest.mark.anyio
async def test_an_empty_cell_without_a_formula_is_just_a_difference(golden: Path) -> None:
    result = await _score(_book(_changed(GOLDEN, "Out", B2=None)), _reference(golden))
    assert result.feedback == "- out.xlsx: sheet 'Out': 1 of 12 cells in A1:C4 differ: B2"


@pytest.mark.anyio
async def test_a_count_that_equals_a_golden_value_is_left_out_rather_than_masked(tmp_path: Path) -> None:
    path = tmp_path / "golden.xlsx"
    path.write_bytes(_book({"S": {f"A{r}": 12 for r in range(1, 13)}}))
    result = await _score(_book({"S": {"A1": 0}}), _reference(path, "A1:A12"))
    assert "12" not in result.feedback.replace("A12", "") and "[hidden]" not in result.feedback
    assert result.feedback.startswith("- out.xlsx: sheet 'S': cells in A1:A12 differ: A1, A2")
    assert result.feedback.endswith("A10 ... (more not shown)")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (None, "missing from the candidate's files"),
        ("a text file", "given as text; an .xlsx output must be the workbook's bytes"),
        (b"not a zip file", "not a readable .xlsx workbook (BadZipFile)"),
    ],
)
async def test_an_output_that_cannot_be_compared_says_why(golden: Path, data: Any, problem: str) -> None:
    result = await _score(data, _reference(golden))
    assert not result.passed and result.feedback == f"- out.xlsx: {problem}"


@pytest.mark.anyio
async def test_a_missing_sheet_is_named_with_the_sheets_the_output_has(golden: Path) -> None:
    result = await _score(_book({"Data": GOLDEN["Data"], "Other": {}}), _reference(golden))
    assert result.feedback == "- out.xlsx: sheet 'Out' is missing (the output has 'Data', 'Other')"


@pytest.mark.anyio
async def test_an_output_sheet_is_found_ignoring_case(golden: Path) -> None:
    assert (await _score(_book({"Data": GOLDEN["Data"], "OUT": GOLDEN["Out"]}), _reference(golden))).passed


@pytest.mark.anyio
async def test_a_range_without_a_sheet_is_on_the_answer_sheet_else_the_goldens_first_sheet(golden: Path) -> None:
    output = _book(_changed(GOLDEN, "Data", B1=2))
    assert not (await _score(output, _reference(golden, "A1:B1"))).passed
    assert (await _score(output, _reference(golden, "A1:B1", answer_sheet="Out"))).passed
    assert (await _score(output, _reference(golden, "A1:B1", answer_sheet="'Out','Data'"))).passed
    assert not (await _score(output, _reference(golden, "A1:B1", answer_sheet="Nope"))).passed


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("position", "where"),
    [
        ("Out'!B2:B4", "1 of 3 cells in B2:B4"),
        ("'Out!'B2:B4", "1 of 3 cells in B2:B4"),
        ("'Out'!'B2:B4", "1 of 3 cells in B2:B4"),
        ("'Out'!B2, 'Out'!B3:B4", "1 of 2 cells in B3:B4"),
    ],
)
async def test_broken_quoting_in_the_position_still_finds_the_cells(golden: Path, position: str, where: str) -> None:
    result = await _score(_book(_changed(GOLDEN, "Out", B3=76)), _reference(golden, position))
    assert result.feedback == f"- out.xlsx: sheet 'Out': {where} differ: B3"


@pytest.mark.anyio
async def test_whole_columns_are_bounded_by_the_rows_either_workbook_uses(tmp_path: Path) -> None:
    path = tmp_path / "golden.xlsx"
    sheets = {"Sheet3": {"A1": "h", "G2": 5}, "Sheet4": {"A1": "h"}}
    path.write_bytes(_book(sheets))
    reference = _reference(path, "Sheet3'!A:G,'Sheet4'!A:G")
    assert (await _score(_book(sheets), reference)).passed
    longer = _book(_changed(sheets, "Sheet4", A5="extra row"))
    result = await _score(longer, reference)
    assert result.feedback == "- out.xlsx: sheet 'Sheet4': 1 of 35 cells in A:G differ: A5"


@pytest.mark.anyio
async def test_the_score_is_the_share_of_test_cases_that_pass(golden: Path) -> None:
    reference = {
        "answer_position": "'Out'!A1:C4",
        "cases": [{"output": "1_out.xlsx", "golden": str(golden)}, {"output": "2_out.xlsx", "golden": str(golden)}],
    }
    files: dict[str, str | bytes] = {"1_out.xlsx": golden.read_bytes(), "2_out.xlsx": _book({"Out": {}})}
    result = await XlsxCells().evaluate(Candidate(files=files), reference)
    assert not result.passed and result.score == 0.5 and result.feedback.startswith("- 2_out.xlsx: sheet 'Out':")


@pytest.mark.anyio
async def test_a_task_its_dataset_excludes_is_refused_with_the_reason(golden: Path) -> None:
    with pytest.raises(InvalidInput, match="excluded from scoring by its dataset: golden is wrong"):
        await _score(golden.read_bytes(), _reference(golden, exclude="golden is wrong"))


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("A1", "must be an object"),
        ({"answer_position": "A1", "cases": []}, "lists no test cases"),
        ({"answer_position": "A1", "cases": [{"output": "o.xlsx"}]}, "needs 'output'"),
        ({"answer_position": "A1", "cases": [{"output": "o.xlsx", "golden": "/nowhere/g.xlsx"}]}, "cannot be read"),
    ],
)
async def test_a_malformed_reference_is_refused(reference: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        await XlsxCells().evaluate(Candidate(files={"o.xlsx": b""}), reference)


@pytest.mark.anyio
async def test_without_openpyxl_the_scorer_says_how_to_install_it(
    golden: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(InvalidInput, match=re.escape("pip install 'trace2skill[bench]'")):
        await _score(golden.read_bytes(), _reference(golden))


# --- SpreadsheetBench-Verified, all 400 tasks ----------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """The test's own reading of 'equal cells': blank alike, numbers close, strings stripped, else ==."""
    a, b = (v.strip() or None if isinstance(v, str) else v for v in (a, b))
    if (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return type(a) is type(b) and a == b


def _cells(ws: Any, box: tuple[int, int, int, int]) -> list[Any]:
    min_row, max_row, min_col, max_col = box
    values: dict[tuple[int, int], Any] = {
        (r, c): None for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)
    }
    for line in ws.iter_rows(min_row, max_row, min_col, max_col):
        for cell in line:
            if hasattr(cell, "row"):  # read-only mode pads gaps with coordinate-less empty cells
                values[(cell.row, cell.column)] = cell.value
    return list(values.values())


def _answer_cells(golden: Any, init: Any, row: dict[str, Any]) -> tuple[list[Any], list[Any] | None]:
    """Golden and init values of every answer cell, read with openpyxl directly (init None: a sheet is missing)."""
    named = (pick_sheet(name, golden.sheetnames) for name in parse_answer_sheets(row.get("answer_sheet")))
    default = next((title for title in named if title), golden.sheetnames[0])
    want: list[Any] = []
    got: list[Any] = []
    for rng in parse_answer_position(row["answer_position"]):
        title = pick_sheet(rng.sheet or default, golden.sheetnames)
        other = pick_sheet(title or "", init.sheetnames)
        assert title is not None, (row["id"], rng)
        if other is None:
            return want, None
        a, b = golden[title], init[other]
        box = rng.bounded(max(a.max_row or 0, b.max_row or 0), max(a.max_column or 0, b.max_column or 0))
        want += _cells(a, box)
        got += _cells(b, box)
    return want, got


def _reveals(feedback: str, value: Any) -> bool:
    """Whether a golden value (as text, three characters or more) shows in the feedback as a whole word."""
    forms = {str(value)} | ({str(int(value))} if isinstance(value, float) and value.is_integer() else set())
    for form in forms:
        form = form.strip()
        head = r"(?<![^\W_])(?<!\d[.,])" if form[:1].isalnum() else ""
        tail = r"(?![^\W_])(?![.,]\d)" if form[-1:].isalnum() else ""
        if len(form) >= 3 and re.search(head + re.escape(form) + tail, feedback, flags=re.IGNORECASE):
            return True
    return False


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:Data Validation extension is not supported:UserWarning")
async def test_every_spreadsheetbench_task_passes_its_golden_fails_a_changed_input_and_hides_the_golden(
    shared_data: Path,
) -> None:
    root = shared_data / "spreadsheetbench-verified"
    rows = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    assert len(rows) == 400
    scorer, passing_inits, failing_inits, excluded = XlsxCells(), 0, 0, 0
    for row in rows:
        folder = root / row["spreadsheet_path"]
        (golden,) = sorted(folder.glob("*golden.xlsx"))
        (init,) = sorted(folder.glob("*init*.xlsx"))
        reference = {
            "answer_position": row["answer_position"],
            "answer_sheet": row.get("answer_sheet"),
            "cases": [{"output": f"1_{row['id']}_output.xlsx", "golden": str(golden)}],
        }
        if "exclude" in row:
            excluded += 1
            with pytest.raises(InvalidInput, match="excluded from scoring"):
                await scorer.evaluate(Candidate(files={}), {**reference, "exclude": row["exclude"]})
            continue
        mine = await scorer.evaluate(Candidate(files={f"1_{row['id']}_output.xlsx": golden.read_bytes()}), reference)
        assert mine.passed and mine.feedback == "", row["id"]

        books = [openpyxl.load_workbook(path, read_only=True, data_only=True) for path in (golden, init)]
        try:
            want, got = _answer_cells(*books, row)
        finally:
            for book in books:
                book.close()
        differs = got is None or any(not _same(a, b) for a, b in zip(want, got, strict=True))
        result = await scorer.evaluate(Candidate(files={f"1_{row['id']}_output.xlsx": init.read_bytes()}), reference)
        assert result.passed is not differs, (row["id"], result.feedback)
        failing_inits += differs
        passing_inits += not differs
        shown = [v for v in want if v is not None and _reveals(result.feedback, v)]
        assert not shown, (row["id"], shown, result.feedback)
    assert excluded == 2 and failing_inits > 350 and passing_inits >= 1
