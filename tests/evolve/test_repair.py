from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from trace2skill.errors import ProviderError
from trace2skill.evolve.apply import apply_patch, find_edit_span
from trace2skill.evolve.guardrails import check_patch
from trace2skill.evolve.repair import check_size_budget, numbered, repair_anchors, validate_and_fix
from trace2skill.llm import LLM, ChatRequest
from trace2skill.models import Edit, Patch, Skill
from trace2skill.skills_store import validate_skill

from .conftest import SKILL_MD, make_skill

MakeLLM = Callable[[Callable[[ChatRequest], Any]], LLM]


def requests(llm: LLM) -> list[ChatRequest]:
    return llm.provider.requests  # type: ignore[attr-defined, no-any-return]


def quoted_field(request: ChatRequest, name: str) -> str | None:
    m = re.search(rf"^{name}: (.*)$", request.messages[0].content, re.M)
    return None if m is None or m.group(1) == "(empty)" else eval(m.group(1))


# --- anchor repair ------------------------------------------------------------------------------


def drifted(**kw: Any) -> Edit:
    base = {
        "file": "SKILL.md",
        "op": "insert_after",
        "content": "Never hard-code totals.",
        "id": "m.e1",
        "sources": ["p1.e1"],
        "support": ["t1", "t2"],
    }
    return Edit(**{**base, **kw})


@pytest.mark.anyio
async def test_repair_fixes_an_anchor_and_keeps_content_ids_and_support(skill: Skill, scripted_llm: MakeLLM) -> None:
    edit = drifted(target_section="## Writing", target_text="Write formula, not value")

    def answer(request: ChatRequest) -> str:
        assert request.purpose == "anchor_repair"
        assert quoted_field(request, "target_text") == "Write formula, not value"
        return json.dumps(
            {"target_section": "## Writing", "target_text": "Write formulas, not values.", "content": "HACKED"}
        )

    llm = scripted_llm(answer)
    [repaired] = await repair_anchors(llm, skill, [edit], run_id="r1")
    assert repaired.target_text == "Write formulas, not values."
    assert repaired.content == edit.content and repaired.id == "m.e1"
    assert repaired.support == ["t1", "t2"] and repaired.sources == ["p1.e1"]
    assert find_edit_span(skill.skill_md, repaired) is not None
    [request] = requests(llm)
    assert request.run_id == "r1"
    line = skill.skill_md.splitlines().index("## Writing") + 1
    assert f"\n {line}| ## Writing\n" in request.system
    assert "anchor not found" in request.messages[0].content


@pytest.mark.anyio
async def test_an_answer_that_still_does_not_match_leaves_the_edit_unchanged(
    skill: Skill, scripted_llm: MakeLLM
) -> None:
    edit = drifted(target_text="Write formula, not value")
    llm = scripted_llm(lambda r: json.dumps({"target_text": "24| Write formulas, not values."}))
    assert await repair_anchors(llm, skill, [edit]) == [edit]


@pytest.mark.anyio
async def test_an_answer_naming_an_ambiguous_anchor_leaves_the_edit_unchanged(
    skill: Skill, scripted_llm: MakeLLM
) -> None:
    edit = drifted(op="replace_in_section", target_text=None, old_text="openpyxl.Load", content="x")
    llm = scripted_llm(lambda r: json.dumps({"old_text": "openpyxl"}))
    assert await repair_anchors(llm, skill, [edit]) == [edit]


@pytest.mark.anyio
async def test_a_replacement_cannot_be_pointed_at_different_text(skill: Skill, scripted_llm: MakeLLM) -> None:
    edit = drifted(op="replace_in_section", target_text=None, old_text="Write formula not value", content="x")
    elsewhere = scripted_llm(lambda r: json.dumps({"old_text": "Work on a copy of the input workbook."}))
    assert await repair_anchors(elsewhere, skill, [edit]) == [edit]
    same = scripted_llm(lambda r: json.dumps({"old_text": "Write formulas, not values."}))
    [repaired] = await repair_anchors(same, skill, [edit])
    assert repaired.old_text == "Write formulas, not values."


@pytest.mark.anyio
async def test_a_failed_repair_call_leaves_the_edit_unchanged(skill: Skill, scripted_llm: MakeLLM) -> None:
    def fail(request: ChatRequest) -> str:
        raise ProviderError("model unavailable")

    edit = drifted(target_text="nowhere")
    assert await repair_anchors(scripted_llm(fail), skill, [edit]) == [edit]


@pytest.mark.anyio
async def test_repair_makes_one_call_per_anchored_edit_and_keeps_input_order(
    skill: Skill, scripted_llm: MakeLLM
) -> None:
    edits = [
        drifted(id="a", target_text="Inspect every sheet"),
        Edit(file="references/new.md", op="create", content="# New\n", id="b"),
        drifted(id="c", op="append_to_section", target_text=None, target_section="## Check"),
        drifted(id="d", op="add_section", target_text=None, after_section="Writting", content="## New\n\nx"),
    ]
    fixes = {
        "a": {"target_text": "- Inspect every sheet first."},
        "c": {"target_section": "## Checks"},
        "d": {"after_section": "## Writing"},
    }

    def answer(request: ChatRequest) -> str:
        content = request.messages[0].content
        key = "a" if "Inspect" in content else "c" if "## Check'" in content else "d"
        return json.dumps(fixes[key])

    llm = scripted_llm(answer)
    out = await repair_anchors(llm, skill, edits)
    assert [e.id for e in out] == ["a", "b", "c", "d"]
    assert out[1] is edits[1]
    assert out[0].target_text == "- Inspect every sheet first." and out[2].target_section == "## Checks"
    assert out[3].after_section == "## Writing"
    assert len(requests(llm)) == 3
    assert all(find_edit_span(skill.skill_md, e) is not None for e in out)


@pytest.mark.anyio
async def test_guardrails_repair_and_recheck_round_trip(skill: Skill, scripted_llm: MakeLLM) -> None:
    good = Edit(file="SKILL.md", op="append_to_section", target_section="## Reading", content="- Note A.", id="g")
    fixable = drifted(id="f", target_text="Write formulas not values")
    hopeless = drifted(id="h", target_text="Use VLOOKUP")
    first = check_patch(skill, Patch(edits=[good, fixable, hopeless]), repair_pending=True)
    assert [e.id for e in first.unanchored] == ["f", "h"] and not first.dropped

    def answer(request: ChatRequest) -> str:
        if "VLOOKUP" in request.messages[0].content:
            return json.dumps({"target_text": "Use VLOOKUP"})
        return json.dumps({"target_text": "Write formulas, not values."})

    repaired = await repair_anchors(scripted_llm(answer), skill, first.unanchored)
    final = check_patch(skill, first.patch.model_copy(update={"edits": [*first.patch.edits, *repaired]}))
    assert [e.id for e in final.patch.edits] == ["g", "f"]
    assert [(d.edit.id, d.stage) for d in final.dropped] == [("h", "guardrail.anchor")]
    result = apply_patch(skill, final.patch)
    assert "Write formulas, not values.\n\nNever hard-code totals." in result.skill.skill_md


def test_numbered_views_start_at_one_and_say_when_cut() -> None:
    assert numbered("a\nb\n") == "  1| a\n  2| b"
    assert "only the first 3 of 8 characters" in numbered("abcdefgh", limit=3)


# --- validation and fix rounds ------------------------------------------------------------------


def fix(*edits: dict[str, str], reasoning: str = "") -> str:
    return json.dumps({"reasoning": reasoning, "edits": list(edits)})


def replace(old: str, new: str, file: str = "SKILL.md") -> dict[str, str]:
    return {"file": file, "op": "replace_in_section", "old_text": old, "content": new}


DESCRIPTION = "description: Read, edit and recalculate Excel workbooks. Use when a task mentions .xlsx files."


def broken_skill() -> Skill:
    """A skill whose frontmatter an applied patch broke: the name no longer follows the rules."""
    skill = make_skill()
    patch = Patch(
        edits=[Edit(file="SKILL.md", op="replace_in_section", old_text="name: xlsx", content="name: XLSX_Tool")]
    )
    result = apply_patch(skill, patch)
    assert result.applied
    return result.skill


def fix_name(request: ChatRequest) -> str:
    assert request.purpose == "validation_fix"
    edit = {**replace("name: XLSX_Tool", "name: xlsx"), "support": ["invented"]}
    return fix(edit, reasoning="name must be lowercase and equal the folder name")


@pytest.mark.anyio
async def test_invalid_frontmatter_after_apply_is_fixed_by_a_fix_round(scripted_llm: MakeLLM) -> None:
    skill = broken_skill()
    assert validate_skill(skill).errors
    llm = scripted_llm(fix_name)
    result = await validate_and_fix(llm, skill, run_id="r9")
    assert result.ok and result.rounds == 1 and result.errors_left == []
    assert result.skill.skill_md == SKILL_MD
    assert [e.id for e in result.applied] == ["fix1.e1"] and result.applied[0].support == []
    [request] = requests(llm)
    assert "XLSX_Tool" in request.messages[0].content and "folder name is 'xlsx'" in request.messages[0].content
    assert request.run_id == "r9"


@pytest.mark.anyio
async def test_invalid_frontmatter_that_no_round_fixes_is_reported_and_stays_unpublishable(
    scripted_llm: MakeLLM,
) -> None:
    skill = broken_skill()
    useless = fix(replace("name: Xlsx", "name: xlsx"), reasoning="try")
    llm = scripted_llm(lambda r: useless)
    result = await validate_and_fix(llm, skill, max_rounds=3)
    assert not result.ok and result.rounds == 3
    assert any("XLSX_Tool" in e for e in result.errors_left)
    assert result.skill.digest == skill.digest
    assert len(result.notes) == 3 and all("rolled back" in n for n in result.notes)
    assert len(requests(llm)) == 3
    assert "Earlier fix attempts" in requests(llm)[2].messages[0].content


@pytest.mark.anyio
async def test_a_valid_skill_needs_no_fix_round(skill: Skill, scripted_llm: MakeLLM) -> None:
    llm = scripted_llm(lambda r: pytest.fail("no call expected"))
    result = await validate_and_fix(llm, skill)
    assert result.ok and result.rounds == 0 and result.skill is skill and not requests(llm)


@pytest.mark.anyio
async def test_a_round_that_adds_errors_is_rolled_back(scripted_llm: MakeLLM) -> None:
    skill = broken_skill()
    worse = fix(replace(f"name: XLSX_Tool\n{DESCRIPTION}", "name: Bad_Name\ndescription: <b>bold</b>\nweird-key: 1"))
    replies = iter([worse, fix_name(ChatRequest(messages=[], purpose="validation_fix"))])
    llm = scripted_llm(lambda r: next(replies))
    result = await validate_and_fix(llm, skill)
    assert result.ok and result.rounds == 2
    assert "rolled back" in result.notes[0]
    assert result.skill.skill_md == SKILL_MD


@pytest.mark.anyio
async def test_two_errors_fixed_over_two_rounds(scripted_llm: MakeLLM) -> None:
    long_description = "Edit workbooks. " * 80
    text = SKILL_MD.replace(DESCRIPTION, f"description: {long_description.strip()}").replace(
        "name: xlsx", "name: XLSX_Tool"
    )
    skill = make_skill(text)
    assert len(validate_skill(skill).errors) == 2
    second = fix(replace(f"description: {long_description.strip()}", "description: Edit workbooks; use for .xlsx."))
    replies = iter([fix_name(ChatRequest(messages=[], purpose="validation_fix")), second])
    result = await validate_and_fix(scripted_llm(lambda r: next(replies)), skill)
    assert result.ok and result.rounds == 2 and len(result.applied) == 2


@pytest.mark.anyio
async def test_a_failed_fix_call_ends_the_rounds_with_errors_left(scripted_llm: MakeLLM) -> None:
    def fail(request: ChatRequest) -> str:
        raise ProviderError("down")

    result = await validate_and_fix(scripted_llm(fail), broken_skill())
    assert not result.ok and result.rounds == 1 and "fix call failed" in result.notes[0]


@pytest.mark.anyio
async def test_fix_edits_go_through_the_guardrails(scripted_llm: MakeLLM) -> None:
    evil = fix(replace("All", "No", file="LICENSE.txt"), {"file": "../x.md", "op": "create", "content": "x"})
    result = await validate_and_fix(scripted_llm(lambda r: evil), broken_skill(), max_rounds=1)
    assert not result.ok and result.skill.file("LICENSE.txt").data == b"All rights reserved.\n"  # type: ignore[union-attr]
    assert {d.stage for d in result.dropped} == {"guardrail.path"}


def test_size_budget_warns_about_long_skill_md_and_references() -> None:
    long_md = SKILL_MD + "".join(f"- line {i}\n" for i in range(500))
    skill = make_skill(long_md, references__big="x\n" * 301)
    warnings = check_size_budget(skill)
    lines = SKILL_MD.count("\n")
    assert f"SKILL.md is {lines + 500} lines; the budget is 500: move detail into references/ files" in warnings
    assert any(w.startswith("references/big is 301 lines") for w in warnings)
    assert check_size_budget(make_skill()) == []
    assert check_size_budget(make_skill(), max_lines=10)[0].startswith(f"SKILL.md is {lines} lines; the budget is 10")


@pytest.mark.anyio
async def test_an_enforced_size_budget_moves_a_section_into_a_linked_reference(
    skill: Skill, scripted_llm: MakeLLM
) -> None:
    reading = skill.skill_md[skill.skill_md.index("## Reading") : skill.skill_md.index("## Writing")]
    move = fix(
        {"file": "references/reading.md", "op": "create", "content": reading},
        {"file": "SKILL.md", "op": "delete_section", "target_section": "## Reading"},
        {
            "file": "SKILL.md",
            "op": "insert_before",
            "target_text": "## Writing",
            "content": "## Reading\n\nSee [Reading](references/reading.md).",
        },
    )
    llm = scripted_llm(lambda r: move)
    result = await validate_and_fix(llm, skill, enforce_size_budget=True, max_lines=30)
    assert result.ok and result.rounds == 1 and not result.dropped
    assert "### Dates" not in result.skill.skill_md
    assert "## Reading\n\nSee [Reading](references/reading.md).\n\n## Writing" in result.skill.skill_md
    assert result.skill.file("references/reading.md").text.startswith("## Reading\n")  # type: ignore[union-attr]
    assert "budget is 30" in requests(llm)[0].messages[0].content
