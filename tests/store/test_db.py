from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlite_utils

from trace2skill.errors import InvalidInput
from trace2skill.store import (
    BUSY_TIMEOUT_S,
    MIGRATIONS,
    PAGE_SIZE,
    TraceStore,
    apply_migrations,
    background_checkpoints,
    open_database,
    write_transaction,
)

from .conftest import MakeTrajectory


def test_open_database_creates_the_folder_and_configures_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "t.db"
    db = open_database(path)
    assert path.is_file()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_S * 1000
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    tables = {"trajectories", "trajectory_data", "trajectories_fts", "trajectory_tags"}
    assert tables | {"runs", "analyses", "patches", "llm_calls"} <= set(db.table_names())
    applied = db.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'trace2skill.store'").fetchall()
    assert [name for (name,) in applied] == [
        "0001_trajectories",
        "0002_evolution",
        "0003_split_data",
        "0004_search_messages",
        "0005_skill_counts",
    ]
    db.close()


def test_reopening_applies_nothing_twice_and_keeps_the_data(db_path: Path, make_trajectory: MakeTrajectory) -> None:
    first = open_database(db_path)
    ident = TraceStore(first).add(make_trajectory())
    first.close()
    again = open_database(db_path)
    assert TraceStore(again).get(ident).id == ident
    assert again.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 5
    again.close()


def test_other_modules_apply_their_own_migrations_to_the_same_file(db: sqlite_utils.Database) -> None:
    theirs = sqlite_utils.Migrations("someone.else")

    @theirs()
    def create_things(database: sqlite_utils.Database) -> None:
        database["things"].create({"id": int, "name": str}, pk="id")

    apply_migrations(db, theirs)
    apply_migrations(db, theirs)
    sets = db.execute("SELECT migration_set, count(*) FROM _sqlite_migrations GROUP BY 1 ORDER BY 1").fetchall()
    assert sets == [("someone.else", 1), ("trace2skill.store", 5)]
    assert "things" in db.table_names()


def test_a_folder_or_a_non_database_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a folder"):
        open_database(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InvalidInput, match="cannot use the database"):
        open_database(junk)


def test_the_connection_is_usable_from_other_threads(
    db: sqlite_utils.Database, make_trajectory: MakeTrajectory
) -> None:
    store = TraceStore(db)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(20):
                ident = store.add(make_trajectory(i, tags=[f"w{worker}"]))
                assert store.get(ident).tags == [f"w{worker}"]
            store.add_many([make_trajectory(i, tags=[f"w{worker}"]) for i in range(30)], batch_size=7)
        except BaseException as e:  # surfaced below: a thread's assertion would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 300
    assert all(store.count(tags=[f"w{w}"]) == 50 for w in range(6))


def test_write_transaction_nests_as_a_savepoint(db: sqlite_utils.Database, make_trajectory: MakeTrajectory) -> None:
    store = TraceStore(db)
    with write_transaction(db):
        store.add(make_trajectory(1))
        with pytest.raises(RuntimeError), write_transaction(db):
            store.add(make_trajectory(2))
            raise RuntimeError("undo the inner part only")
        store.add(make_trajectory(3))
    assert sorted(t.metadata["n"] for t in store.filter()) == [1, 3]
    with pytest.raises(RuntimeError), write_transaction(db):
        store.add(make_trajectory(4))
        raise RuntimeError("undo everything")
    assert store.count() == 2 and not db.conn.in_transaction


def test_background_checkpoints_pause_and_restore_automatic_ones(db: sqlite_utils.Database) -> None:
    def autocheckpoint() -> int:
        return db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]

    before = autocheckpoint()
    with background_checkpoints(db) as poke:
        assert autocheckpoint() == 0
        with background_checkpoints(db):
            assert autocheckpoint() == 0
        assert autocheckpoint() == 0  # still inside the outer bulk write
        poke()
    assert autocheckpoint() == before
    with background_checkpoints(sqlite_utils.Database(memory=True)) as poke:
        poke()  # nothing to checkpoint in memory: a no-op


def test_background_checkpoints_leave_checkpoints_off_when_they_were_turned_off(db: sqlite_utils.Database) -> None:
    db.execute("PRAGMA wal_autocheckpoint = 0")
    with background_checkpoints(db) as poke:
        poke()
        assert not any(thread.name == "trace2skill-checkpoint" for thread in threading.enumerate())
    assert db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0


def test_another_process_sees_committed_rows_only(db_path: Path, make_trajectory: MakeTrajectory) -> None:
    db = open_database(db_path)
    store = TraceStore(db)
    reader = sqlite3.connect(db_path)
    with write_transaction(db):
        store.add(make_trajectory(1))
        assert reader.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 0
    assert reader.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 1
    reader.close()
    db.close()


def test_a_database_from_before_the_data_split_keeps_its_trajectories(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    old = sqlite_utils.Database(sqlite3.connect(db_path))
    MIGRATIONS.apply(old, stop_before="0003_split_data")
    data = '{"id": "t_old", "task": "old task", "messages": [], "created_at": "2025-01-01T00:00:00Z"}'
    old.execute(
        "INSERT INTO trajectories (seq, id, created_at, outcome, tags, data) "
        "VALUES (1, 't_old', ?, 'unknown', '[]', ?)",
        ["2025-01-01T00:00:00.000000+00:00", data],
    )
    old.close()
    db = open_database(db_path)
    store = TraceStore(db)
    assert store.get("t_old").task == "old task"
    assert "data" not in {column.name for column in db["trajectories"].columns}
    db.close()


def test_a_database_from_before_the_skill_counts_gets_them_counted_on_open(
    db_path: Path, make_trajectory: MakeTrajectory
) -> None:
    db_path.parent.mkdir(parents=True)
    old = sqlite_utils.Database(sqlite3.connect(db_path))
    MIGRATIONS.apply(old, stop_before="0005_skill_counts")
    store = TraceStore(old)
    for i, skill in enumerate(["xlsx", "xlsx", "pdf", None]):
        store.add(make_trajectory(i, id=f"r{i}", skill=skill))
    old.close()
    db = open_database(db_path)
    try:
        store = TraceStore(db)
        assert (store.count(skill="xlsx"), store.count(skill="pdf"), store.count(skill="docx")) == (2, 1, 0)
        store.add(make_trajectory(9, id="r9", skill="pdf"))
        assert store.count(skill="pdf") == 2
    finally:
        db.close()
