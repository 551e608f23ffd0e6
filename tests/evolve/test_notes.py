"""A report's notes say each thing once: repeats carry a count, per-run failures of one cause are one note."""

from __future__ import annotations

from trace2skill.evolve.recorder import collapse_notes


def test_identical_notes_are_said_once_with_a_count() -> None:
    notes = ["merge level 1 group 0 piece 1 failed, its inputs kept unmerged: HTTP 500"] * 42 + ["no edit applied"]
    assert collapse_notes(notes) == [
        "merge level 1 group 0 piece 1 failed, its inputs kept unmerged: HTTP 500 (×42)",
        "no edit applied",
    ]


def test_runs_that_failed_for_one_reason_are_one_note_naming_them() -> None:
    cause = "openai:m failed after 6 attempts: HTTP 503: overloaded"
    notes = [f"analysis of t_{i} failed: {cause}" for i in range(7)] + [
        "analysis of t_x failed: something else",
        f"proposal for t_1 failed: {cause}",
    ]
    assert collapse_notes(notes) == [
        f"analysis of 7 runs failed (t_0, t_1, t_2, t_3, t_4 and 2 more): {cause}",
        "analysis of t_x failed: something else",
        f"proposal for t_1 failed: {cause}",
    ]
