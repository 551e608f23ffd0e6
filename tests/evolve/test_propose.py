from __future__ import annotations

from typing import Any

import pytest

from trace2skill.evolve.context import RunContext
from trace2skill.evolve.propose import propose
from trace2skill.evolve.schemas import Analysis, Lesson
from trace2skill.evolve.simulated import make_skill, make_trajectories
from trace2skill.llm import LLM, ScriptedProvider
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
