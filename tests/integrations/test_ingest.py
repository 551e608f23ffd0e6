from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trace2skill.home import Home
from trace2skill.integrations.ingest import store_trajectories
from trace2skill.models import Trajectory
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
