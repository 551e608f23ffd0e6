from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlite_utils

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.store import TraceStore
from trace2skill.store.trajectories import TraceChanges

from .conftest import MakeTrajectory


def snapshot(db: sqlite_utils.Database) -> list[list[tuple[object, ...]]]:
    """Every row of every trace table, to show that nothing changed."""
    return [
        db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        for table in ("trajectories", "trajectory_data", "trajectory_tags")
    ] + [db.execute("SELECT rowid, * FROM trajectories_fts ORDER BY rowid").fetchall()]


@pytest.fixture
def runs(store: TraceStore, make_trajectory: MakeTrajectory) -> list[str]:
    """Four runs: two of xlsx (one tagged 'done'), one of pdf, one with no skill; oldest first."""
    made = [
        make_trajectory(0, id="a", tags=["done"], skill_version=2),
        make_trajectory(1, id="b", tags=[]),
        make_trajectory(2, id="c", skill="pdf", outcome={"status": "success", "score": 1.0}),
        make_trajectory(3, id="d", skill=None),
    ]
    for day, trajectory in enumerate(made, 1):
        store.add(trajectory.model_copy(update={"created_at": datetime(2025, 1, day, tzinfo=UTC)}))
    return ["a", "b", "c", "d"]


def test_set_skill_by_filter_changes_only_the_matching_runs(store: TraceStore, runs: list[str]) -> None:
    changed = store.update_where(TraceChanges(skill="sheets"), skill="xlsx")
    assert changed == 2
    assert {t.id: t.skill for t in store.filter()} == {"a": "sheets", "b": "sheets", "c": "pdf", "d": None}
    assert store.get("a").skill_version is None  # a version of another skill means nothing
    assert store.count(skill="sheets") == 2 and store.count(skill="xlsx") == 0


def test_set_by_ids_counts_only_the_runs_that_changed(store: TraceStore, runs: list[str]) -> None:
    assert store.update_where(TraceChanges(skill="xlsx"), ["a", "b", "d"]) == 1  # a and b were xlsx already
    assert store.get("d").skill == "xlsx"


def test_tags_are_added_and_removed_and_the_tag_filter_follows(store: TraceStore, runs: list[str]) -> None:
    assert store.update_where(TraceChanges(add_tags=("checked",), remove_tags=("done",)), everything=True) == 4
    assert store.count(tags="checked") == 4
    assert store.count(tags="done") == 0
    assert store.get("a").tags == ["checked"]
    assert store.get("c").tags == ["spreadsheet", "checked"]
    assert store.update_where(TraceChanges(add_tags=("checked",)), everything=True) == 0


def test_outcome_and_score_are_set_by_a_person(store: TraceStore, runs: list[str]) -> None:
    assert store.update_where(TraceChanges(outcome="success", score=0.5), ["b"]) == 1
    outcome = store.get("b").outcome
    assert (outcome.status, outcome.score, outcome.judged_by) == ("success", 0.5, "human")
    assert outcome.feedback == "B20 empty in output"
    assert store.count(outcome="success") == 2
    assert store.update_where(TraceChanges(outcome="partial"), ["c"]) == 1
    assert store.get("c").outcome.score is None  # a new status without a score clears the old one


def test_a_dry_run_counts_and_changes_nothing(store: TraceStore, runs: list[str], db: sqlite_utils.Database) -> None:
    before = snapshot(db)
    assert store.update_where(TraceChanges(skill="sheets", add_tags=("x",)), skill="xlsx", dry_run=True) == 2
    assert store.delete_where(outcome="failure", dry_run=True) == 3
    assert snapshot(db) == before


def test_a_selection_needs_ids_a_filter_or_everything(store: TraceStore, runs: list[str]) -> None:
    with pytest.raises(InvalidInput, match="give their ids, a filter"):
        store.update_where(TraceChanges(skill="sheets"))
    with pytest.raises(InvalidInput, match="give their ids, a filter"):
        store.delete_where()
    with pytest.raises(InvalidInput, match="nothing to change"):
        store.update_where(TraceChanges(), everything=True)
    with pytest.raises(InvalidInput, match="score needs an outcome"):
        store.update_where(TraceChanges(score=1.0), everything=True)
    with pytest.raises(InvalidInput, match="Agent Skills name"):
        store.update_where(TraceChanges(skill="Not A Name"), everything=True)


def test_an_unknown_id_changes_nothing(store: TraceStore, runs: list[str], db: sqlite_utils.Database) -> None:
    before = snapshot(db)
    with pytest.raises(NotFound, match="'zz'"):
        store.update_where(TraceChanges(skill="sheets"), ["a", "zz"])
    with pytest.raises(NotFound, match="'zz'"):
        store.delete_where(["a", "zz"])
    assert snapshot(db) == before


def test_ids_and_filters_together_select_the_ids_that_match(store: TraceStore, runs: list[str]) -> None:
    assert store.update_where(TraceChanges(add_tags=("seen",)), ["a", "c"], skill="xlsx") == 1
    assert [t.id for t in store.filter(tags="seen")] == ["a"]


def test_delete_by_filter_removes_rows_search_entries_and_tags(
    store: TraceStore, runs: list[str], db: sqlite_utils.Database
) -> None:
    assert store.delete_where(skill="xlsx") == 2
    assert sorted(t.id for t in store.filter()) == ["c", "d"]
    assert store.count(text="sales0") == 0
    tagged = {row[1] for row in db.execute("SELECT * FROM trajectory_tags").fetchall()}
    main = {row[0] for row in db.execute("SELECT seq FROM trajectories").fetchall()}
    fts = {row[0] for row in db.execute("SELECT rowid FROM trajectories_fts").fetchall()}
    data = {row[0] for row in db.execute("SELECT seq FROM trajectory_data").fetchall()}
    assert tagged <= main and fts == main == data


def test_export_gives_the_stored_json_oldest_first(store: TraceStore, runs: list[str]) -> None:
    lines = list(store.export_json())
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "c", "d"]
    assert lines[0] == store.get("a").model_dump_json()
    assert [json.loads(line)["id"] for line in store.export_json(skill="xlsx")] == ["a", "b"]
    assert [json.loads(line)["id"] for line in store.export_json(["c", "a"])] == ["a", "c"]


def _counted_by_scan(store: TraceStore) -> dict[str, int]:
    rows = store.db.execute("SELECT skill, count(*) FROM trajectories WHERE skill IS NOT NULL GROUP BY skill")
    return dict(rows.fetchall())


def test_a_skills_run_count_stays_true_through_adds_relabels_and_deletes(store: TraceStore, runs: list[str]) -> None:
    def counts() -> dict[str, int]:
        return {skill: store.count(skill=skill) for skill in ("xlsx", "pdf", "sheets", "none-such")}

    assert counts() == {"xlsx": 2, "pdf": 1, "sheets": 0, "none-such": 0}
    store.update_where(TraceChanges(skill="sheets"), skill="xlsx")
    assert counts() == {"xlsx": 0, "pdf": 1, "sheets": 2, "none-such": 0}
    store.update_where(TraceChanges(skill="pdf"), ["d"])  # a run with no skill gets one
    store.delete("a")
    store.delete_where(skill="pdf", outcome="success")
    assert counts() == {"xlsx": 0, "pdf": 1, "sheets": 1, "none-such": 0}
    assert {k: v for k, v in counts().items() if v} == _counted_by_scan(store)
    assert store.count(skill="sheets", outcome="failure") == store.count(skill="sheets")  # other filters still scan
