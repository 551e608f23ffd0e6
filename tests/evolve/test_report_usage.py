"""The evolve report names the references no recorded read ever opened, and says nothing when no read is known."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.doubles.scripted import ScriptedProvider
from tests.doubles.simulated import chat_handler, make_skill, make_trajectories

from trace2skill.evolve import evolve_async, render_markdown
from trace2skill.evolve.report import unused_references_note
from trace2skill.home import Home
from trace2skill.llm import LLM
from trace2skill.models import EvolutionConfig
from trace2skill.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(Home(tmp_path / "home"))
    skill = make_skill("sheets").with_files({"references/pivots.md": b"# Pivots\n", "references/charts.md": b"# C\n"})
    workspace.skills.commit(skill, parent=None, author="human", changelog=["import"])
    workspace.traces.add_many(make_trajectories(4, seed=5))
    yield workspace
    workspace.close()


@pytest.mark.anyio
async def test_the_report_of_a_run_names_the_references_no_session_ever_read(ws: Workspace) -> None:
    ws.usage.record_read("sheets", 1, "SKILL.md", session="s1", via="get_skill")
    ws.usage.record_read("sheets", 1, "references/api.md", session="s1", via="resource")
    llm = LLM(ScriptedProvider(chat_handler), call_log=ws.traces.log_calls)
    report = await evolve_async(EvolutionConfig(skill="sheets", model="scripted"), workspace=ws, llm=llm)
    (note,) = [n for n in report.notes if n.startswith("Unused references")]
    assert "references/charts.md, references/pivots.md" in note and "api.md" not in note
    assert f"- {note}" in render_markdown(report)


def test_without_any_recorded_read_there_is_no_unused_references_note(ws: Workspace) -> None:
    skill = ws.skills.load("sheets")
    assert unused_references_note(ws.usage, skill) is None
    ws.usage.record_read("other", 1, "SKILL.md", session="s1", via="resource")  # another skill's reads say nothing
    assert unused_references_note(ws.usage, skill) is None
    for path in ("references/api.md", "references/charts.md", "references/pivots.md"):
        ws.usage.record_read("sheets", 1, path, session="s2", via="resource")
    assert unused_references_note(ws.usage, skill) is None  # every reference was read


def test_files_an_imported_claude_code_session_used_count_as_read(ws: Workspace) -> None:
    skill = ws.skills.load("sheets")
    ws.usage.record_run_reads("t_imported", "sheets", 1, ["SKILL.md", "references/charts.md"], session="cc-1")
    note = unused_references_note(ws.usage, skill)
    assert note is not None and "references/pivots.md" in note and "charts.md" not in note
