from __future__ import annotations

import json
from typing import Any

import pytest
from tests.doubles.scripted import ScriptedProvider
from tests.doubles.simulated import make_skill, make_trajectories

from trace2skill.errors import OutputCutOff
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.propose import propose
from trace2skill.evolve.schemas import Analysis, Lesson
from trace2skill.llm import LLM, ChatResponse
from trace2skill.models import EvolutionConfig

TIP = {"file": "SKILL.md", "op": "append_to_section", "target_section": "## Tips"}


def _run(edits: list[dict[str, Any]]) -> tuple[Any, ScriptedProvider]:
    provider = ScriptedProvider(lambda req: {"reasoning": "r", "edits": edits, "changelog": ["c"]})
    ctx = RunContext("r_test", EvolutionConfig(skill="sheets"), LLM(provider), make_skill())
    trajectory = make_trajectories(5, failure_share=1.0)[4]
    analysis = Analysis(
        trajectory_id=trajectory.id or "",
        index=4,
        kind="error",
        mode="agentic",
        lessons=[Lesson(title="Check dates", description="d", content="c")],
    )
    return (ctx, trajectory, analysis), provider


@pytest.mark.anyio
async def test_a_create_travels_with_its_link_and_every_edit_carries_its_trajectory() -> None:
    edits = [
        {**TIP, "content": "- See references/dates.md for date handling."},
        {"file": "references/dates.md", "op": "create", "content": "# Dates\n"},
    ]
    (ctx, trajectory, analysis), provider = _run(edits)
    result = await propose(ctx, trajectory, analysis)
    assert [e.id for e in result.patch.edits] == ["a4.e1", "a4.e2"]
    assert all(e.support == [trajectory.id] for e in result.patch.edits)
    assert result.patch.support == [trajectory.id] and result.dropped == []
    assert provider.requests[0].purpose == "propose"
    assert "Check dates" in provider.requests[0].messages[0].content


@pytest.mark.anyio
async def test_an_orphan_create_is_dropped() -> None:
    (ctx, trajectory, analysis), _ = _run([{"file": "references/dates.md", "op": "create", "content": "# Dates\n"}])
    result = await propose(ctx, trajectory, analysis)
    assert result.patch.edits == []
    assert result.dropped and "references/dates.md" in result.dropped[0]["reason"]


@pytest.mark.anyio
async def test_a_link_to_a_reference_file_that_will_not_exist_is_dropped() -> None:
    (ctx, trajectory, analysis), _ = _run([{**TIP, "content": "- See references/missing.md."}])
    result = await propose(ctx, trajectory, analysis)
    assert result.patch.edits == [] and len(result.dropped) == 1


@pytest.mark.anyio
async def test_unsafe_and_protected_paths_are_dropped_before_the_merge() -> None:
    edits = [
        {"file": "../outside.md", "op": "create", "content": "x"},
        {"file": "LICENSE.txt", "op": "delete_file"},
        {**TIP, "content": "- Keep going."},
    ]
    (ctx, trajectory, analysis), _ = _run(edits)
    result = await propose(ctx, trajectory, analysis)
    assert [e.content for e in result.patch.edits] == ["- Keep going."]
    assert len(result.dropped) == 2


@pytest.mark.anyio
async def test_an_edit_with_an_inexact_anchor_is_kept_for_repair_after_the_merge() -> None:
    edit = {"file": "SKILL.md", "op": "insert_after", "target_text": "2. Find the data range", "content": "3. x"}
    (ctx, trajectory, analysis), _ = _run([edit])
    result = await propose(ctx, trajectory, analysis)
    assert [e.target_text for e in result.patch.edits] == ["2. Find the data range"]


@pytest.mark.anyio
async def test_an_edit_quoting_the_reference_is_dropped() -> None:
    (ctx, trajectory, analysis), _ = _run([])
    leaky = [{**TIP, "content": f"- The total is {trajectory.reference}."}, {**TIP, "content": "- Fine."}]
    ctx.llm.provider.handler = lambda req: {"edits": leaky}  # type: ignore[attr-defined]
    result = await propose(ctx, trajectory, analysis)
    assert [e.content for e in result.patch.edits] == ["- Fine."]
    assert result.dropped[0]["reason"] == "quotes the reference"


@pytest.mark.anyio
async def test_an_analysis_without_lessons_costs_no_call() -> None:
    (ctx, trajectory, analysis), provider = _run([])
    result = await propose(ctx, trajectory, analysis.model_copy(update={"lessons": []}))
    assert provider.requests == [] and result.patch.edits == [] and result.patch.support == [trajectory.id]


@pytest.mark.anyio
async def test_a_successful_runs_lessons_are_proposed_under_the_conservative_success_prompt() -> None:
    (ctx, trajectory, analysis), provider = _run([{**TIP, "content": "- Read the output back."}])
    await propose(ctx, trajectory, analysis)
    await propose(ctx, trajectory, analysis.model_copy(update={"kind": "success", "mode": "single"}))
    failure, success = (r.system for r in provider.requests)
    assert "The run behind these lessons FAILED." in failure and "SUCCEEDED" not in failure
    assert "The run behind these lessons SUCCEEDED." in success and "Never replace, weaken or contradict" in success
    assert failure.startswith("# Role: skill editor (proposal)\n") and success.startswith(
        "# Role: skill editor (proposal)\n"
    )
    assert (
        failure.partition("# The skill (frozen for this run)")[2]
        == success.partition("# The skill (frozen for this run)")[2]
    )


@pytest.mark.anyio
async def test_an_edit_aimed_at_a_file_the_skill_does_not_have_is_moved_to_skill_md_not_dropped() -> None:
    copied = {"file": "references/forms.md", "op": "append_to_section", "target_section": "## Tips"}
    (ctx, trajectory, analysis), _ = _run([{**copied, "content": "- Check every date."}])
    result = await propose(ctx, trajectory, analysis)
    assert [(e.file, e.target_section, e.content) for e in result.patch.edits] == [
        ("SKILL.md", "## Tips", "- Check every date.")
    ]
    assert result.dropped == [] and "references/forms.md" in result.repaired[0]
    assert result.to_record()["repaired"] == result.repaired


@pytest.mark.anyio
async def test_an_edit_to_a_linked_reference_file_that_nothing_creates_becomes_its_create() -> None:
    edits = [
        {**TIP, "content": "- For dates, read references/dates.md."},
        {
            "file": "references/dates.md",
            "op": "append_to_section",
            "target_section": "## Formats",
            "content": "Use ISO.",
        },
    ]
    (ctx, trajectory, analysis), _ = _run(edits)
    result = await propose(ctx, trajectory, analysis)
    assert [(e.file, e.op) for e in result.patch.edits] == [
        ("SKILL.md", "append_to_section"),
        ("references/dates.md", "create"),
    ]
    assert result.patch.edits[1].content == "## Formats\n\nUse ISO.\n" and result.dropped == []


@pytest.mark.anyio
async def test_a_proposal_cut_off_at_max_tokens_fails_rather_than_keeping_a_half_written_edit() -> None:
    (ctx, trajectory, analysis), provider = _run([])
    half = {"edits": [{**TIP, "content": "- Check the units of"}]}
    provider.handler = lambda req: ChatResponse(text=json.dumps(half), stop_reason="max_tokens")
    with pytest.raises(OutputCutOff, match="max_tokens=8192"):
        await propose(ctx, trajectory, analysis)
