from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trace2skill.home import Home
from trace2skill.importers.common import skill_text_digest
from trace2skill.integrations.ingest import store_trajectories, with_skill_versions
from trace2skill.models import Skill, SkillFile, Trajectory
from trace2skill.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.open(Home(tmp_path / "home"))
    yield ws
    ws.close()


def run(ident: str, reply: str, **extra: object) -> Trajectory:
    return Trajectory.model_validate(
        {
            "id": ident,
            "task": "Fix it",
            "messages": [{"role": "user", "content": "Fix it"}, {"role": "assistant", "content": reply}],
            **extra,
        }
    )


def test_importing_the_same_runs_again_stores_nothing_new(workspace: Workspace) -> None:
    first = store_trajectories(workspace.traces, [run("a", "done"), run("b", "done")])
    again = store_trajectories(workspace.traces, [run("a", "done"), run("b", "done")])
    assert (first.added, first.replaced, first.unchanged) == (2, 0, 0)
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 2)
    assert workspace.traces.count() == 2


def test_a_session_that_went_on_replaces_the_old_copy_and_keeps_its_label(workspace: Workspace) -> None:
    store_trajectories(workspace.traces, [run("s", "half done", tags=["imported"])])
    workspace.traces.label("s", {"status": "failure", "judged_by": "human", "feedback": "stopped early"})
    counts = store_trajectories(workspace.traces, [run("s", "all done", tags=["claude-code"])])
    assert (counts.added, counts.replaced, counts.unchanged) == (0, 1, 0)
    stored = workspace.traces.get("s")
    assert stored.messages[-1].text == "all done"
    assert stored.outcome.status == "failure" and stored.outcome.judged_by == "human"
    assert stored.tags == ["imported", "claude-code"]
    assert workspace.traces.count() == 1


def test_duplicates_inside_one_batch_keep_the_last_copy(workspace: Workspace) -> None:
    counts = store_trajectories(workspace.traces, [run("d", "one"), run("d", "two"), run("e", "x")])
    assert counts.added == 2
    assert workspace.traces.get("d").messages[-1].text == "two"


def _commit(ws: Workspace, body: str, reference: str = "v1") -> int:
    skill_md = f"---\nname: testing\ndescription: How to test.\n---\n{body}"
    files = (
        SkillFile(path="SKILL.md", data=skill_md.encode()),
        SkillFile(path="references/a.md", data=reference.encode()),
    )
    head = ws.skills.history("testing")[-1].version if ws.skills.list() else None
    return ws.skills.commit(Skill(name="testing", files=files), parent=head, author="human", changelog=["x"]).version


def _loaded(ident: str, *bodies: str, **extra: object) -> Trajectory:
    digests = {"testing": [skill_text_digest(b) for b in bodies]}
    return run(ident, "done", skill="testing", metadata={"skill_text_sha256": digests}, **extra)


def test_a_run_gets_the_version_whose_skill_text_it_loaded(workspace: Workspace) -> None:
    first = _commit(workspace, "# Testing\nRun pytest -x first.\n")
    second = _commit(workspace, "# Testing\nRun pytest -x, then ruff.\n")
    runs = [
        _loaded("a", "# Testing\nRun pytest -x first."),
        _loaded("b", "# Testing  \nRun pytest -x, then ruff.\n\n"),
        _loaded("c", "# Testing\nSomething no version says."),
        _loaded("d", "# Testing\nRun pytest -x first.", "# Testing\nRun pytest -x, then ruff."),
        _loaded("e", "# Testing\nRun pytest -x first.", skill_version=second),
        run("f", "done", skill="testing"),
    ]
    got = {t.id: t for t in with_skill_versions(workspace.skills, runs)}
    assert got["a"].skill_version == first and got["a"].metadata["skill_version_from"] == "v1: its SKILL.md text"
    assert got["b"].skill_version == second
    assert got["c"].skill_version is None and "skill_version_from" not in got["c"].metadata
    assert got["d"].skill_version is None  # edited while the run went on: no one version
    assert got["e"].skill_version == second  # a version the run recorded itself stands
    assert got["f"].skill_version is None


def test_versions_sharing_one_skill_text_name_the_newest_made_before_the_run(workspace: Workspace) -> None:
    body = "# Testing\nRun pytest -x first.\n"
    first = _commit(workspace, body, reference="old")
    second = _commit(workspace, body, reference="new")
    v1, v2 = (workspace.skills.get_version("testing", v).created_at for v in (first, second))
    assert v1 < v2
    between = _loaded("between", body, created_at=v1.isoformat())
    late, early = _loaded("late", body), _loaded("early", body, created_at="2000-01-01T00:00:00Z")
    got = {t.id: t for t in with_skill_versions(workspace.skills, [between, late, early])}
    assert got["between"].skill_version == first
    assert got["late"].skill_version == second
    assert got["late"].metadata["skill_version_from"] == "v2: its SKILL.md text, shared by 2 versions"
    assert got["early"].skill_version == second  # made before every version: the newest that matches


def test_a_skill_the_store_does_not_hold_leaves_the_run_unversioned(workspace: Workspace) -> None:
    (t,) = with_skill_versions(workspace.skills, [_loaded("a", "# Testing\nRun pytest.")])
    assert t.skill_version is None
