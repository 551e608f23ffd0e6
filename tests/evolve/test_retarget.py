"""Edits aimed at files the skill does not have are repaired, in order of what the model most likely meant."""

from __future__ import annotations

from typing import Any

from tests.doubles.simulated import make_skill

from trace2skill.evolve.guardrails import check_patch
from trace2skill.evolve.retarget import retarget_missing
from trace2skill.models import Edit, Patch


def _edit(i: int, **fields: Any) -> Edit:
    return Edit(id=f"a0.e{i}", support=[f"t{i}"], **fields)


def test_an_append_to_a_file_the_patch_creates_is_folded_into_the_create_with_its_support() -> None:
    create = _edit(1, file="references/dates.md", op="create", content="# Dates\n\nKeep the original column.\n")
    more = _edit(2, file="references/dates.md", op="append_to_section", target_section="## Formats", content="Use ISO.")
    link = _edit(
        3, file="SKILL.md", op="append_to_section", target_section="## Tips", content="- See references/dates.md."
    )
    patch, notes = retarget_missing(make_skill(), Patch(edits=[more, create, link]))
    assert [e.id for e in patch.edits] == ["a0.e1", "a0.e3"]
    assert patch.edits[0].content == "# Dates\n\nKeep the original column.\n\n## Formats\n\nUse ISO.\n"
    assert patch.edits[0].support == ["t1", "t2"] and "folded into the create" in notes[0]
    assert check_patch(make_skill(), patch).dropped == []


def test_an_edit_whose_anchor_is_in_another_existing_file_moves_to_that_file() -> None:
    typo = _edit(
        1, file="reference/api.md", op="insert_after", target_text="- read_sheet(path)", content="- list_sheets(path)"
    )
    patch, notes = retarget_missing(make_skill(), Patch(edits=[typo]))
    assert patch.edits[0].file == "references/api.md" and "references/api.md" in notes[0]
    assert check_patch(make_skill(), patch).patch.edits == patch.edits


def test_what_cannot_be_meant_elsewhere_is_left_for_the_guardrails_to_drop_with_a_reason() -> None:
    gone = _edit(1, file="references/gone.md", op="delete_file")
    replace = _edit(2, file="references/gone.md", op="replace_in_section", old_text="no such text", content="x")
    escape = _edit(3, file="../outside.md", op="append_to_section", target_section="## Tips", content="x")
    patch, notes = retarget_missing(make_skill(), Patch(edits=[gone, replace, escape]))
    assert patch.edits == [gone, replace, escape] and notes == []
    assert len(check_patch(make_skill(), patch).dropped) == 3


def test_files_that_exist_are_never_touched() -> None:
    fine = _edit(1, file="SKILL.md", op="append_to_section", target_section="## Nowhere", content="- x")
    assert retarget_missing(make_skill(), Patch(edits=[fine])) == (Patch(edits=[fine]), [])
