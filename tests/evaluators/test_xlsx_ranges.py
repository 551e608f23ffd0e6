from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evaluators.xlsx_ranges import (
    AnswerRange,
    column_letter,
    parse_answer_position,
    parse_answer_sheets,
    pick_sheet,
)


def _read(text: str) -> list[tuple[str | None, str]]:
    return [(r.sheet, r.text) for r in parse_answer_position(text)]


@pytest.mark.parametrize(
    ("position", "ranges"),
    [
        ("A3:D32", [(None, "A3:D32")]),
        ("B6", [(None, "B6")]),
        ("'Sheet1'!A1:B82", [("Sheet1", "A1:B82")]),
        ("Sheet1!B2:B6", [("Sheet1", "B2:B6")]),
        ("G4:G6, G11:G13, G20:G22", [(None, "G4:G6"), (None, "G11:G13"), (None, "G20:G22")]),
        ("D1,D5,D9", [(None, "D1"), (None, "D5"), (None, "D9")]),
        ("'b2b, sez, de'!A5:V10", [("b2b, sez, de", "A5:V10")]),
        ("OUT CAS'!A2:C1529,'OUT CAS'!E2:G586", [("OUT CAS", "A2:C1529"), ("OUT CAS", "E2:G586")]),
        ("Sheet3'!A:G,'Sheet4'!A:G", [("Sheet3", "A:G"), ("Sheet4", "A:G")]),
        (
            "'Sheet1!'A1:A50,'Sheet2!'A1:E20,'Sheet3!'A1:A50'",
            [("Sheet1", "A1:A50"), ("Sheet2", "A1:E20"), ("Sheet3", "A1:A50")],
        ),
        ("'99250!A1:F9','99251!A1:F9'", [("99250", "A1:F9"), ("99251", "A1:F9")]),
        ("'Sheet1'!'A2:A85", [("Sheet1", "A2:A85")]),
        ("\u00a0'Sheet1'!C2:C3", [("Sheet1", "C2:C3")]),
        ("'Bob''s'!$A$1:$B$2", [("Bob's", "A1:B2")]),
        ("'工作表1'!I2:J7", [("工作表1", "I2:J7")]),
    ],
)
def test_answer_positions_are_read_whatever_their_quoting(position: str, ranges: list[tuple[str | None, str]]) -> None:
    assert _read(position) == ranges


def test_a_range_knows_its_rectangle_and_which_ends_are_open() -> None:
    (box,) = parse_answer_position("B3:D5")
    assert (box.min_col, box.min_row, box.max_col, box.max_row) == (2, 3, 4, 5)
    (columns,) = parse_answer_position("A:G")
    assert (columns.min_row, columns.max_row) == (None, None) and columns.bounded(308, 9) == (1, 308, 1, 7)
    (rows,) = parse_answer_position("2:12")
    assert rows.bounded(20, 7) == (2, 12, 1, 7)
    (cell,) = parse_answer_position("GK29")
    assert (cell.min_col, cell.min_row, cell.max_col, cell.max_row) == (193, 29, 193, 29)


def test_a_range_missing_its_end_column_stays_in_its_column() -> None:
    assert parse_answer_position("'Sheet1'!BD2:308") == [AnswerRange("Sheet1", "BD2:308", 56, 2, 56, 308)]


def test_a_reversed_range_is_put_in_order() -> None:
    assert parse_answer_position("D32:A3")[0].bounded(1, 1) == (3, 32, 1, 4)


@pytest.mark.parametrize("position", ["", "Sheet1!", "hello", "A1:B2:C3", "A0", "XFE1", "!A1"])
def test_what_is_not_a_range_is_refused_with_the_position_quoted(position: str) -> None:
    with pytest.raises(InvalidInput, match="cannot read the answer position"):
        parse_answer_position(position)


@pytest.mark.parametrize(
    ("answer_sheet", "names"),
    [
        (None, []),
        ("LISTS", ["LISTS"]),
        ("'Sheet1','Sheet2'", ["Sheet1','Sheet2", "Sheet1", "Sheet2"]),
        (
            "Consolidated Tracker,Existing Task",
            ["Consolidated Tracker,Existing Task", "Consolidated Tracker", "Existing Task"],
        ),
        ("b2b, sez, de", ["b2b, sez, de", "b2b", "sez", "de"]),
    ],
)
def test_answer_sheets_offer_the_whole_text_first_then_its_parts(answer_sheet: str | None, names: list[str]) -> None:
    assert parse_answer_sheets(answer_sheet) == names


def test_a_sheet_is_found_by_exact_name_first_then_ignoring_case_and_spacing() -> None:
    names = ["SHEET1", "Sheet1", "After  Insert Row"]
    assert pick_sheet("Sheet1", names) == "Sheet1"
    assert pick_sheet("sheet1", names) == "SHEET1"
    assert pick_sheet("After Insert Row", names) == "After  Insert Row"
    assert pick_sheet("Sheet2", names) is None


def test_column_letters_round_trip() -> None:
    assert [column_letter(n) for n in (1, 26, 27, 56, 1593, 16384)] == ["A", "Z", "AA", "BD", "BIG", "XFD"]
