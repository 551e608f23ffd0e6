from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.models import InvalidTrajectory, Outcome, Trajectory
from trace2skill.store import TraceStore, connection_lock, trajectories, write_transaction

from .conftest import MakeTrajectory, trajectory_data


def side_rows(db: sqlite_utils.Database) -> tuple[int, int, int]:
    """Rows in the main table (checked equal to the JSON table), the full-text table and the tag table."""
    main, data, fts, tags = (
        db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("trajectories", "trajectory_data", "trajectories_fts", "trajectory_tags")
    )
    assert main == data
    return main, fts, tags


def test_add_then_get_returns_the_same_trajectory_with_an_id_and_time(
    store: TraceStore, make_trajectory: MakeTrajectory
) -> None:
    artifacts = [{"name": "out.csv", "content": "a,b"}]
    original = make_trajectory(1, reference={"answer": 42}, skill_version=3, artifacts=artifacts)
    ident = store.add(original)
    assert re.fullmatch(r"t_[0-9a-hjkmnp-tv-z]{26}", ident)
    stored = store.get(ident)
    assert stored.id == ident
    assert stored.created_at is not None and stored.created_at.tzinfo is not None
    assert abs(stored.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert stored.model_dump(exclude={"id", "created_at"}) == original.model_dump(exclude={"id", "created_at"})


def test_add_accepts_the_public_json_form_as_text_or_object(store: TraceStore) -> None:
    from_text = store.get(store.add(json.dumps(trajectory_data(1))))
    from_dict = store.get(store.add(trajectory_data(2)))
    assert from_text.messages[0].text == "Sum column B of sales1.xlsx into B20"
    assert from_dict.outcome.status == "failure"


def test_a_caller_id_and_time_are_kept(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, 890123)  # naive: taken as UTC
    ident = store.add(make_trajectory(id="run-42", created_at=when))
    assert ident == "run-42"
    assert store.get("run-42").created_at == when.replace(tzinfo=UTC)
    assert store.filter(until=datetime(2025, 3, 5))[0].id == "run-42"


def test_a_reused_id_is_a_conflict_and_writes_nothing(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    store.add(make_trajectory(id="dup"))
    with pytest.raises(Conflict, match="trajectory id 'dup' already exists"):
        store.add(make_trajectory(2, id="dup"))
    with pytest.raises(Conflict, match="'twice' appears twice in one batch"):
        store.add_many([make_trajectory(3, id="twice"), make_trajectory(4, id="twice")])
    assert side_rows(db) == (1, 1, 1)
    assert store.get("dup").task == "Sum column B of sales0.xlsx into B20"


def test_add_many_writes_whole_batches_and_stops_at_the_first_bad_one(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    items = [make_trajectory(i) for i in range(7)] + [{"task": "no messages"}] + [make_trajectory(9)]
    with pytest.raises(InvalidTrajectory, match="messages: Field required"):
        store.add_many(items, batch_size=3)
    assert side_rows(db) == (6, 6, 6)  # batches [0-2] and [3-5]; the batch holding the bad item is not written
    ids = store.add_many([make_trajectory(i) for i in range(10, 15)], batch_size=2)
    assert len(ids) == len(set(ids)) == 5
    assert [t.id for t in store.get_many(ids)] == ids
    assert ids == sorted(ids)  # minted in order within one process


def test_a_reused_id_in_a_later_batch_keeps_the_earlier_batches_and_frees_the_connection(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    store.add(make_trajectory(0, id="taken"))
    items = [make_trajectory(i) for i in range(1, 5)] + [make_trajectory(5, id="taken"), make_trajectory(6)]
    with pytest.raises(Conflict, match="'taken' already exists"):
        store.add_many(items, batch_size=2)
    assert side_rows(db) == (5, 5, 5)  # the first row, then batches [1, 2] and [3, 4]
    counted: list[int] = []
    reader = threading.Thread(target=lambda: counted.append(store.count()))
    reader.start()
    reader.join()
    assert counted == [5] and not db.conn.in_transaction


def test_an_iterable_that_fails_keeps_every_batch_it_completed(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    def failing(count: int) -> Iterator[Trajectory]:
        for i in range(count):
            yield make_trajectory(i)
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        store.add_many(failing(3), batch_size=3)  # fails while the second batch is read
    assert side_rows(db) == (3, 3, 3)
    with pytest.raises(RuntimeError, match="the source broke"):
        store.add_many(failing(7), batch_size=3)  # [0-2] and [3-5] are whole; 6 never forms a batch
    assert side_rows(db) == (9, 9, 9)


def test_the_callers_iterable_never_runs_while_a_transaction_is_open(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    def connection_free() -> bool:
        free: list[bool] = []

        def probe() -> None:
            lock = connection_lock(db)
            free.append(lock.acquire(blocking=False))
            if free[-1]:
                lock.release()

        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        return free[0]

    seen: list[tuple[bool, int]] = []

    def items() -> Iterator[Trajectory]:
        for i in range(10):
            seen.append((connection_free(), store.count()))
            yield make_trajectory(i)

    store.add_many(items(), batch_size=3)
    assert store.count() == 10
    assert all(free for free, _ in seen)  # no transaction open, no checkpoint holding the connection
    assert all(count % 3 == 0 for _, count in seen)


def test_add_many_inside_a_callers_transaction_is_undone_with_it(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    with pytest.raises(RuntimeError), write_transaction(db):
        store.add_many([make_trajectory(i) for i in range(5)], batch_size=2)
        assert store.count() == 5
        raise RuntimeError("undo everything")
    assert side_rows(db) == (0, 0, 0)
    with write_transaction(db):
        store.add_many([make_trajectory(i) for i in range(5)], batch_size=2)
    assert side_rows(db) == (5, 5, 5)


def test_add_many_rejects_a_batch_size_below_one(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    with pytest.raises(InvalidInput, match="batch_size must be at least 1"):
        store.add_many([make_trajectory()], batch_size=0)


def test_get_and_get_many_name_the_missing_id(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    ident = store.add(make_trajectory())
    with pytest.raises(NotFound, match="no trajectory with id 'nope'"):
        store.get("nope")
    with pytest.raises(NotFound, match="'gone'"):
        store.get_many([ident, "gone"])


def test_filters_by_skill_outcome_and_time_newest_first(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(12):
        store.add(
            make_trajectory(
                i,
                skill="xlsx" if i % 2 else "pdf",
                outcome={"status": ("success", "failure", "partial")[i % 3]},
                created_at=start + timedelta(days=i),
            )
        )
    assert [t.metadata["n"] for t in store.filter()] == list(range(11, -1, -1))
    assert [t.metadata["n"] for t in store.filter(skill="xlsx")] == [11, 9, 7, 5, 3, 1]
    assert [t.metadata["n"] for t in store.filter(outcome="failure")] == [10, 7, 4, 1]
    assert [t.metadata["n"] for t in store.filter(outcome=["failure", "partial"], skill="pdf")] == [10, 8, 4, 2]
    window = store.filter(since=start + timedelta(days=3), until=start + timedelta(days=6))
    assert [t.metadata["n"] for t in window] == [5, 4, 3]  # since inclusive, until exclusive
    assert [t.metadata["n"] for t in store.filter(limit=3, offset=2)] == [9, 8, 7]
    assert store.count(skill="xlsx", outcome="success") == len(store.filter(skill="xlsx", outcome="success")) == 2
    assert store.filter(since="2025-01-11T00:00:00Z")[0].metadata["n"] == 11
    assert store.count(since="30d") == 0


def test_every_tag_must_match_exactly(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    store.add(make_trajectory(1, tags=["spreadsheet", "b,c"]))
    store.add(make_trajectory(2, tags=["spread"]))
    store.add(make_trajectory(3, tags=["spreadsheet", "urgent"]))
    assert [t.metadata["n"] for t in store.filter(tags=["spread"])] == [2]
    assert [t.metadata["n"] for t in store.filter(tags=["spreadsheet"])] == [3, 1]
    assert [t.metadata["n"] for t in store.filter(tags=["spreadsheet", "urgent"])] == [3]
    assert [t.metadata["n"] for t in store.filter(tags="b,c")] == [1]
    assert store.filter(tags=["b"]) == [] and store.filter(tags=['"spreadsheet"']) == []
    assert store.count(tags=["spreadsheet", "urgent"]) == 1


def test_text_search_covers_task_answer_and_feedback_and_treats_punctuation_as_text(
    store: TraceStore, make_trajectory: MakeTrajectory
) -> None:
    store.add(make_trajectory(1, task="Reconcile the ledger", final_answer="balanced", outcome={"status": "success"}))
    store.add(make_trajectory(2, outcome={"status": "failure", "feedback": "KeyError: 'Sheet1' AND OR NEAR("}))
    store.add(make_trajectory(3, final_answer="Total is 4,200 (approx.)"))
    assert [t.metadata["n"] for t in store.filter(text="ledger")] == [1]
    assert [t.metadata["n"] for t in store.filter(text="balanced")] == [1]
    assert [t.metadata["n"] for t in store.filter(text="'Sheet1' AND")] == [2]
    assert [t.metadata["n"] for t in store.filter(text="NEAR(")] == [2]
    assert [t.metadata["n"] for t in store.filter(text="approx")] == [3]
    assert [t.metadata["n"] for t in store.filter(text="recon*")] == [1]
    assert store.filter(text="python") == []  # tool calls are not searched
    assert store.count(text="sales3", skill="xlsx") == 1
    with pytest.raises(InvalidInput, match="no words"):
        store.filter(text=' " * ')


def test_a_version_filter_keeps_those_versions_and_none_means_runs_without_one(
    store: TraceStore, make_trajectory: MakeTrajectory
) -> None:
    for i, version in enumerate([1, 2, 2, None, 3, None]):
        store.add(make_trajectory(i, skill_version=version))
    assert [t.metadata["n"] for t in store.filter(skill_version=2)] == [2, 1]
    assert [t.metadata["n"] for t in store.filter(skill_version=[2, None])] == [5, 3, 2, 1]
    assert [t.metadata["n"] for t in store.filter(skill_version=[None])] == [5, 3]
    assert store.filter(skill_version=[]) == []
    assert store.count(skill_version=[1, 3]) == 2 and store.count(skill_version=2, skill="pdf") == 0
    assert {s.skill_version for s in store.summaries(skill_version=[3, None])} == {3, None}
    assert {t.skill_version for t in store.sample(10, seed=1, skill_version=[1, None])} == {1, None}
    assert store.count_by_version(skill="xlsx") == {1: 1, 2: 2, 3: 1, None: 2}
    assert store.count_by_version(skill="pdf") == {}
    with pytest.raises(InvalidInput, match="skill_version must be a version number"):
        store.filter(skill_version=0)
    with pytest.raises(InvalidInput, match="got '2'"):
        store.count(skill_version=["2"])  # type: ignore[list-item]


def test_an_unknown_outcome_filter_is_refused(store: TraceStore) -> None:
    with pytest.raises(InvalidInput, match="unknown outcome 'failed'"):
        store.filter(outcome="failed")


@pytest.mark.parametrize("selective", [0, 15, 10**9])
def test_tag_and_text_filters_give_the_same_rows_whichever_plan_leads(
    store: TraceStore, make_trajectory: MakeTrajectory, monkeypatch: pytest.MonkeyPatch, selective: int
) -> None:
    monkeypatch.setattr(trajectories, "SELECTIVE_TAG", selective)
    monkeypatch.setattr(trajectories, "SELECTIVE_TEXT", selective)
    for i in range(40):
        tags = ["even" if i % 2 == 0 else "odd"] + (["third"] if i % 3 == 0 else [])
        status = "failure" if i % 4 == 0 else "success"
        store.add(make_trajectory(i, tags=tags, outcome={"status": status, "feedback": f"note{i % 5}"}))
    assert [t.metadata["n"] for t in store.filter(tags=["even", "third"], limit=3)] == [36, 30, 24]
    assert [t.metadata["n"] for t in store.filter(text="note2", outcome="failure")] == [32, 12]
    assert [s.id for s in store.summaries(tags=["odd"], text="note1", limit=2, offset=1)] == [
        t.id for t in store.filter(tags=["odd"], text="note1")[1:3]
    ]
    assert store.count(tags=["even", "third"]) == 7
    assert store.count(tags=["odd"], skill="xlsx") == 20


def test_summaries_list_the_columns_without_messages(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    long_task = "Reconcile " + "x" * 500
    ident = store.add(make_trajectory(1, task=long_task, skill_version=2, tags=["a", "b"]))
    (summary,) = store.summaries()
    assert summary.id == ident and summary.skill == "xlsx" and summary.skill_version == 2
    assert summary.outcome == "failure" and summary.score == 0.0 and summary.tags == ["a", "b"]
    assert summary.task == long_task[: trajectories.PREVIEW_CHARS]


def test_label_replaces_the_outcome_everywhere(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    ident = store.add(make_trajectory(1))
    updated = store.label(ident, Outcome(status="success", score=1.0, feedback="fixed by hand", judged_by="human"))
    assert updated.outcome.status == "success" and updated.task == make_trajectory(1).task
    assert store.get(ident).outcome == updated.outcome
    assert [t.id for t in store.filter(outcome="success")] == [ident]
    assert store.filter(outcome="failure") == []
    assert [t.id for t in store.filter(text="fixed")] == [ident]
    assert store.filter(text="empty") == []  # the old feedback is gone from the index
    assert store.summaries()[0].score == 1.0
    assert store.label(ident, "partial").outcome == Outcome(status="partial")
    with pytest.raises(InvalidInput, match="invalid outcome"):
        store.label(ident, {"status": "great"})
    with pytest.raises(NotFound):
        store.label("missing", "success")


def test_delete_removes_the_row_its_search_entry_and_tags(
    store: TraceStore, make_trajectory: MakeTrajectory, db: sqlite_utils.Database
) -> None:
    keep = store.add(make_trajectory(1, tags=["a", "b"]))
    gone = store.add(make_trajectory(2, tags=["a", "c"]))
    store.delete(gone)
    assert side_rows(db) == (1, 1, 2)
    assert [t.id for t in store.filter(tags=["a"])] == [keep]
    assert store.filter(text="sales2") == []
    with pytest.raises(NotFound, match=gone):
        store.get(gone)
    with pytest.raises(NotFound):
        store.delete(gone)


def test_a_search_for_text_with_a_double_quote_finds_it_instead_of_failing(tmp_path: Path) -> None:
    from trace2skill.store import TraceStore, open_database

    store = TraceStore(open_database(tmp_path / "q.db"))
    store.add({"task": 'print the "total" row', "messages": [{"role": "user", "content": "x"}]})
    assert [t.task for t in store.filter(text='"total"')] == ['print the "total" row']
    assert store.filter(text='tot"al') == []
