from __future__ import annotations

import pytest

from trace2skill.evolve.apply import (
    ApplyResult,
    Span,
    apply_patch,
    find_edit_span,
    is_protected,
    locate_edit,
    unsafe_path_reason,
)
from trace2skill.models import Edit, Patch, Skill

from .conftest import SKILL_MD, make_skill


def run(skill: Skill, *edits: Edit) -> ApplyResult:
    return apply_patch(skill, Patch(edits=list(edits)))


def md(result: ApplyResult) -> str:
    return result.skill.skill_md


def E(op: str, file: str = "SKILL.md", **kw: str | None) -> Edit:
    return Edit(file=file, op=op, **kw)


# --- insert_after / insert_before ---------------------------------------------------------------


def test_insert_after_a_whole_line_adds_a_block_on_the_next_line(skill: Skill) -> None:
    r = run(
        skill, E("insert_after", target_text="Work on a copy of the input workbook.", content="Never edit in place.")
    )
    assert "Work on a copy of the input workbook.\n\nNever edit in place.\n\n## Reading" in md(r)
    assert r.applied and not r.dropped


def test_insert_after_a_list_item_keeps_the_list_tight(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_text="- Open with openpyxl.", content="- Use data_only=False."))
    assert "- Open with openpyxl.\n- Use data_only=False.\n- Inspect every sheet first." in md(r)


def test_insert_after_text_ending_mid_line_is_spliced_inline(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_text="Write formulas", content=" (never hard-coded numbers)"))
    assert "Write formulas (never hard-coded numbers), not values." in md(r)


def test_insert_before_a_line_start_adds_a_block_before_it(skill: Skill) -> None:
    r = run(skill, E("insert_before", target_text="## Checks", content="Save before you check."))
    assert "for charts.\n\nSave before you check.\n\n## Checks" in md(r)


def test_insert_before_mid_line_text_is_spliced_inline(skill: Skill) -> None:
    r = run(skill, E("insert_before", target_text="not values.", content="always "))
    assert "Write formulas, always not values." in md(r)


def test_insert_anchor_is_searched_within_the_named_section(skill: Skill) -> None:
    text = SKILL_MD.replace("## Checks\n", "## Checks\n\nOpen with openpyxl.\n")
    s = make_skill(text)
    # ambiguous in the file, unique in the section
    r = run(s, E("insert_after", target_section="## Checks", target_text="Open with openpyxl.", content="Then run."))
    assert "## Checks\n\nOpen with openpyxl.\n\nThen run.\n" in md(r)
    r = run(s, E("insert_after", target_text="Open with openpyxl.", content="Then run."))
    assert r.dropped[0].reason.startswith("anchor ambiguous")


def test_insert_anchor_in_the_wrong_section_falls_back_to_a_unique_match_in_the_file(skill: Skill) -> None:
    r = run(
        skill, E("insert_after", target_section="## Checks", target_text="Write formulas, not values.", content="X.")
    )
    assert "Write formulas, not values.\n\nX.\n" in md(r)


def test_insert_with_only_a_section_goes_after_the_section_or_before_its_heading(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_section="## Writing", content="After writing."))
    assert "for charts.\n\nAfter writing.\n\n## Checks" in md(r)
    r = run(skill, E("insert_before", target_section="## Reading", content="Before reading."))
    assert "input workbook.\n\nBefore reading.\n\n## Reading" in md(r)


def test_anchor_matching_tolerates_outer_and_inner_whitespace_but_stays_unique(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_text="  Write   formulas,\nnot values.  ", content="Y."))
    assert "Write formulas, not values.\n\nY.\n" in md(r)


def test_a_missing_anchor_is_dropped_not_guessed(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_text="No such line.", content="Z."))
    assert r.skill is skill and not r.applied
    assert r.dropped[0].reason.startswith("anchor not found") and r.dropped[0].stage == "apply"


def test_an_anchor_inside_the_frontmatter_is_never_used_for_insertion(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_text="name: xlsx", content="Z."))
    assert r.dropped[0].reason.startswith("anchor not found")


# --- append_to_section --------------------------------------------------------------------------


def test_append_goes_at_the_end_of_the_sections_own_text_before_its_subsections(skill: Skill) -> None:
    r = run(skill, E("append_to_section", target_section="## Reading", content="Check merged cells."))
    assert "```\n\nCheck merged cells.\n\n### Dates" in md(r)
    r = run(skill, E("insert_after", target_section="## Reading", content="- Check merged cells."))
    assert "```\n\n- Check merged cells.\n\n### Dates" in md(r)


def test_an_appended_subsection_goes_after_the_existing_subsections(skill: Skill) -> None:
    r = run(skill, E("append_to_section", target_section="## Reading", content="### Times\n\nTimes too."))
    assert "datetime objects.\n\n### Times\n\nTimes too.\n\n## Writing" in md(r)


def test_append_without_subsections_goes_before_the_next_equal_heading(skill: Skill) -> None:
    r = run(skill, E("append_to_section", target_section="## Writing", content="Check merged cells."))
    assert "for charts.\n\nCheck merged cells.\n\n## Checks" in md(r)


def test_two_appends_to_one_section_are_combined_in_patch_order(skill: Skill) -> None:
    r = run(
        skill,
        E("append_to_section", target_section="Checks", content="| 2 | read back |"),
        E("append_to_section", target_section="## Checks", content="| 3 | compare |"),
    )
    assert md(r).endswith("| 1 | recalc |\n| 2 | read back |\n| 3 | compare |\n")
    assert len(r.applied) == 2


def test_append_to_the_last_section_ends_the_file_with_one_newline(skill: Skill) -> None:
    r = run(skill, E("append_to_section", target_section="## Checks", content="\n\nDone.\n\n\n"))
    assert md(r).endswith("| 1 | recalc |\n\nDone.\n")


def test_append_to_a_missing_or_ambiguous_section_is_dropped() -> None:
    s = make_skill(SKILL_MD + "\n## Reading\n\nagain\n")
    r = run(s, E("append_to_section", target_section="## Reading", content="x"))
    assert r.dropped[0].reason.startswith("anchor ambiguous")
    r = run(s, E("append_to_section", target_section="## Nope", content="x"))
    assert r.dropped[0].reason.startswith("anchor not found")


# --- replace_in_section -------------------------------------------------------------------------


def test_replace_changes_only_the_old_text(skill: Skill) -> None:
    r = run(skill, E("replace_in_section", target_section="## Writing", old_text="not values", content="never values"))
    assert md(r) == SKILL_MD.replace("not values", "never values")


def test_replace_with_empty_content_deletes_the_text_and_tidies_blank_lines(skill: Skill) -> None:
    r = run(skill, E("replace_in_section", old_text="See [the guide](references/guide.md) for charts.\n", content=""))
    assert "after saving.\n\n## Checks" in md(r)
    assert "\n\n\n" not in md(r)


def test_replace_without_a_section_can_fix_the_frontmatter(skill: Skill) -> None:
    r = run(skill, E("replace_in_section", old_text="name: xlsx", content="name: xlsx-pro"))
    assert md(r).startswith("---\nname: xlsx-pro\n")


def test_replace_prefers_the_body_over_the_frontmatter() -> None:
    s = make_skill(SKILL_MD.replace("Work on a copy", "Read, edit and recalculate. Work on a copy"))
    r = run(s, E("replace_in_section", old_text="Read, edit and recalculate", content="Edit"))
    assert "description: Read, edit and recalculate Excel" in md(r)
    assert "\nEdit. Work on a copy" in md(r)


def test_replace_inside_a_code_block_keeps_its_blank_lines() -> None:
    text = SKILL_MD.replace("wb = openpyxl.load_workbook(path)\n", "a = 1\n\nwb = 2\n\n\nz = 3\n")
    r = run(make_skill(text), E("replace_in_section", old_text="wb = 2", content=""))
    assert "a = 1\n\n\n\n\nz = 3" in md(r)


RULE = (
    "4. Give the answer the way the table writes it: the cell text for names, a plain number for counts\n"
    "   and totals, no units unless the question asks for them.\n"
)


def test_a_replacement_that_repeats_the_text_after_it_replaces_that_text_too() -> None:
    s = make_skill(SKILL_MD + "\n" + RULE)
    r = run(
        s,
        E(
            "replace_in_section",
            old_text="the cell text for names",
            content="the exact cell text for names, a plain number for counts and totals",
        ),
    )
    assert r.applied and (
        "writes it: the exact cell text for names, a plain number for counts and totals, no units unless the question"
    ) in md(r)
    assert md(r).count("a plain number for counts") == 1


def test_a_replacement_that_repeats_the_text_before_it_replaces_that_text_too() -> None:
    s = make_skill(SKILL_MD + "\n" + RULE)
    r = run(s, E("replace_in_section", old_text="no units", content="a plain number for counts and totals, no unit"))
    assert r.applied and "the cell text for names, a plain number for counts and totals, no unit unless" in md(r)
    assert md(r).count("a plain number for counts") == 1


def test_a_replacement_that_only_restates_its_surroundings_is_dropped_as_no_change() -> None:
    """What a 1.5B merger wrote on a real run: the old text plus the text that already follows it."""
    s = make_skill(SKILL_MD + "\n" + RULE)
    content = (
        "the cell text for names, a plain number for counts and totals, no units unless the question asks for them."
    )
    r = run(s, E("replace_in_section", old_text="the cell text for names", content=content))
    assert not r.applied and md(r) == s.skill_md
    assert r.dropped[0].reason == (
        "invalid edit: content only restates the text it replaces and the text around it: no change"
    )


def test_a_short_repeat_next_to_the_old_text_is_left_alone(skill: Skill) -> None:
    r = run(skill, E("replace_in_section", old_text="Work on a copy", content="Work on a copy. Work"))
    assert r.applied and "Work on a copy. Work of the input workbook." in md(r)


# --- add_section / delete_section ---------------------------------------------------------------


def test_add_section_goes_after_the_named_section_and_its_subsections(skill: Skill) -> None:
    r = run(skill, E("add_section", after_section="## Reading", content="## Formulas\n\nPrefer SUM over +."))
    assert "datetime objects.\n\n## Formulas\n\nPrefer SUM over +.\n\n## Writing" in md(r)


def test_add_section_without_anchor_appends_at_the_end(skill: Skill) -> None:
    r = run(skill, E("add_section", content="## Pitfalls\n\n- Merged cells."))
    assert md(r).endswith("| 1 | recalc |\n\n## Pitfalls\n\n- Merged cells.\n")


def test_delete_section_removes_the_heading_and_everything_under_it(skill: Skill) -> None:
    r = run(skill, E("delete_section", target_section="## Reading"))
    assert "## Reading" not in md(r) and "### Dates" not in md(r) and "Open with openpyxl" not in md(r)
    assert "input workbook.\n\n## Writing" in md(r)


def test_delete_of_the_last_section_leaves_one_trailing_newline(skill: Skill) -> None:
    r = run(skill, E("delete_section", target_section="## Checks"))
    assert md(r).endswith("for charts.\n")


def test_section_ops_refuse_non_markdown_files(skill: Skill) -> None:
    r = run(skill, E("append_to_section", file="scripts/recalc.py", target_section="# x", content="y"))
    assert "Markdown" in r.dropped[0].reason


# --- several edits against S0 -------------------------------------------------------------------


def test_edits_are_placed_on_the_original_text_whatever_their_order(skill: Skill) -> None:
    a = E("replace_in_section", old_text="Work on a copy of the input workbook.", content="Copy the input first.")
    b = E("append_to_section", target_section="## Reading", content="- Note hidden sheets.")
    c = E("insert_before", target_text="## Checks", content="### Merged cells\n\nUnmerge first.")
    forward, backward = run(skill, a, b, c), run(skill, c, b, a)
    assert md(forward) == md(backward)
    assert "Copy the input first." in md(forward)
    assert "```\n\n- Note hidden sheets.\n\n### Dates" in md(forward)
    assert "for charts.\n\n### Merged cells\n\nUnmerge first.\n\n## Checks" in md(forward)


def test_insertions_at_one_point_follow_patch_order(skill: Skill) -> None:
    b = E("insert_before", target_text="## Checks", content="First.")
    c = E("insert_before", target_text="## Checks", content="Second.")
    assert "for charts.\n\nFirst.\n\nSecond.\n\n## Checks" in md(run(skill, b, c))
    assert "for charts.\n\nSecond.\n\nFirst.\n\n## Checks" in md(run(skill, c, b))


def test_at_one_point_appends_close_the_section_before_a_new_section_opens(skill: Skill) -> None:
    new = E("add_section", after_section="## Writing", content="## Formulas\n\nPrefer SUM.")
    inserted = E("insert_before", target_text="## Checks", content="Inserted before.")
    appended = E("append_to_section", target_section="## Writing", content="Appended.")
    r = run(skill, new, inserted, appended)
    assert "for charts.\n\nAppended.\n\nInserted before.\n\n## Formulas\n\nPrefer SUM.\n\n## Checks" in md(r)


def test_a_block_inserted_inside_a_code_fence_is_not_padded_with_blank_lines(skill: Skill) -> None:
    r = run(skill, E("insert_after", target_text="wb = openpyxl.load_workbook(path)", content="ws = wb.active"))
    assert "wb = openpyxl.load_workbook(path)\nws = wb.active\n```" in md(r)


def test_apply_keeps_the_first_of_two_overlapping_edits(skill: Skill) -> None:
    first = E("replace_in_section", old_text="Write formulas, not values.", content="A.", id="p1.e1")
    second = E("replace_in_section", old_text="formulas", content="B", id="p1.e2")
    r = run(skill, first, second)
    assert r.applied == [first]
    assert r.dropped[0].reason == "overlaps edit p1.e1"


def test_an_insertion_anchored_on_deleted_text_conflicts(skill: Skill) -> None:
    delete = E("delete_section", target_section="## Reading")
    append = E("append_to_section", target_section="## Reading", content="x")
    assert [d.edit for d in run(skill, delete, append).dropped] == [append]


def test_an_insertion_at_the_edge_of_a_deleted_section_does_not_conflict(skill: Skill) -> None:
    r = run(
        skill,
        E("delete_section", target_section="### Dates"),
        E("append_to_section", target_section="## Reading", content="Read dates as datetimes."),
    )
    assert not r.dropped
    assert "```\n\nRead dates as datetimes.\n\n## Writing" in md(r)


# --- files --------------------------------------------------------------------------------------


def test_create_adds_a_new_file_with_a_final_newline(skill: Skill) -> None:
    r = run(skill, E("create", file="references/pivots.md", content="# Pivots\n\nUse pandas."))
    assert r.skill.file("references/pivots.md").text == "# Pivots\n\nUse pandas.\n"  # type: ignore[union-attr]
    assert r.changed_files == ["references/pivots.md"]


def test_a_created_script_is_never_executable_even_with_a_shebang(skill: Skill) -> None:
    r = run(skill, E("create", file="scripts/check.py", content="#!/usr/bin/env python3\nprint(1)\n"))
    assert r.skill.file("scripts/check.py").executable is False  # type: ignore[union-attr]


def test_an_executable_script_keeps_its_bit_only_while_its_content_is_unchanged(skill: Skill) -> None:
    untouched = run(skill, E("append_to_section", target_section="## Checks", content="- One more step."))
    assert untouched.applied and untouched.skill.file("scripts/recalc.py").executable  # type: ignore[union-attr]
    edited = run(
        skill, E("insert_after", file="scripts/recalc.py", target_text="print('recalc')", content="print('more')")
    )
    assert edited.applied and edited.skill.file("scripts/recalc.py").executable is False  # type: ignore[union-attr]


def test_create_of_an_existing_file_is_refused_unless_identical(skill: Skill) -> None:
    r = run(skill, E("create", file="references/guide.md", content="# Other\n"))
    assert "already exists" in r.dropped[0].reason
    same = skill.file("references/guide.md").text  # type: ignore[union-attr]
    r = run(skill, E("create", file="references/guide.md", content=same))
    assert not r.dropped and r.skill.digest == skill.digest


def test_delete_file_removes_it_and_refuses_skill_md_and_missing_files(skill: Skill) -> None:
    r = run(skill, E("delete_file", file="references/guide.md"))
    assert r.skill.file("references/guide.md") is None
    r = run(skill, E("delete_file", file="SKILL.md"), E("delete_file", file="references/none.md"))
    assert [d.reason for d in r.dropped] == [
        "SKILL.md cannot be deleted",
        "file 'references/none.md' does not exist in the skill",
    ]


def test_a_file_op_conflicts_with_any_other_edit_of_the_same_file(skill: Skill) -> None:
    r = run(
        skill,
        E("delete_file", file="references/guide.md", id="a"),
        E("append_to_section", file="references/guide.md", target_section="## Bar charts", content="x", id="b"),
    )
    assert r.dropped[0].reason == "overlaps edit a"


def test_edits_to_missing_or_binary_files_are_dropped() -> None:
    s = make_skill(assets__logo=b"\x89PNG\x00\x01")
    r = run(s, E("replace_in_section", file="assets/logo", old_text="PNG", content="JPG"))
    assert "not a UTF-8 text file" in r.dropped[0].reason
    r = run(s, E("insert_after", file="references/none.md", target_text="x", content="y"))
    assert "does not exist" in r.dropped[0].reason


def test_apply_refuses_unsafe_and_protected_paths_even_without_guardrails(skill: Skill) -> None:
    r = apply_patch(
        skill,
        Patch(
            edits=[
                E("create", file="../escape.md", content="x"),
                E("create", file="/etc/evil.md", content="x"),
                E("replace_in_section", file="LICENSE.txt", old_text="All", content="No"),
                E("create", file="references/LICENSE.md", content="x"),
                E("replace_in_section", file="scripts/recalc.py", old_text="recalc", content="x"),
            ]
        ),
        protected=frozenset({"LICENSE.md", "scripts/recalc.py"}),
    )
    assert not r.applied and r.skill is skill
    assert [d.reason.split(":")[0] for d in r.dropped] == [
        "unsafe path",
        "unsafe path",
        "unsafe path",
        "protected file 'references/LICENSE.md'",
        "protected file 'scripts/recalc.py'",
    ]


def test_dropped_edits_are_listed_in_patch_order_with_the_apply_stage(skill: Skill) -> None:
    r = run(
        skill,
        E("insert_after", target_text="missing one", content="x"),
        E("append_to_section", file="references/guide.md", target_section="## Nope", content="x"),
        E("insert_after", target_text="missing two", content="x"),
    )
    assert [d.edit.target_text for d in r.dropped] == ["missing one", None, "missing two"]
    assert {d.stage for d in r.dropped} == {"apply"}


# --- spans and path rules -----------------------------------------------------------------------


def test_find_edit_span_reports_points_ranges_and_misses(skill: Skill) -> None:
    text = skill.skill_md
    span = find_edit_span(text, E("replace_in_section", old_text="not values", content="x"))
    assert span is not None and text[span.start : span.end] == "not values"
    point = find_edit_span(text, E("append_to_section", target_section="## Writing", content="x"))
    assert point == Span(text.index("## Checks"), text.index("## Checks")) and point.is_point
    assert find_edit_span(text, E("insert_after", target_text="nowhere", content="x")) is None
    assert find_edit_span(text, E("insert_after", content="x")) is None
    loc = locate_edit(text, E("insert_after", target_text="- Open with openpyxl.", content="x"))
    assert loc.mode == "block" and text[loc.anchor.start : loc.anchor.end] == "- Open with openpyxl."  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/abs.md",
        "../x.md",
        "references/../../x.md",
        "references\\x.md",
        "C:/x.md",
        "references/a\x00.md",
        "README.md",
        "skill.md",
        "other/x.md",
        "references",
        "references/./x.md",
        "~/x.md",
        "references/con:x",
    ],
)
def test_unsafe_paths_are_named_with_a_reason(path: str) -> None:
    assert unsafe_path_reason(path) is not None


def test_safe_paths_and_protected_patterns() -> None:
    assert unsafe_path_reason("SKILL.md") is None
    assert unsafe_path_reason("references/sub/a.md") is None
    assert is_protected("LICENSE.txt") and is_protected("references/LICENSE.md")
    assert is_protected("scripts/recalc.py", {"scripts/*.py"}) and not is_protected("scripts/recalc.py")
