"""Issue 2, "Done when" 2: concurrent writers lose nothing; a SIGKILL mid-batch leaves whole batches only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trace2skill.store import TraceStore, open_database

WRITER = Path(__file__).with_name("writer.py")


def start_writer(db: Path, mode: str, count: int, batch: int, kill_at: int | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, str(WRITER), str(db), mode, str(count), str(batch)]
    if kill_at is not None:
        args.append(str(kill_at))
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line == "ready\n", line + child.stderr.read()
    return child


def go(*children: subprocess.Popen[str]) -> None:
    for child in children:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()


def finish(child: subprocess.Popen[str]) -> None:
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.endswith("done\n")


def wait_for(child: subprocess.Popen[str], wanted: str) -> list[str]:
    assert child.stdout is not None
    seen = []
    while True:
        line = child.stdout.readline()
        assert line, f"writer exited before {wanted!r}: {child.stderr.read() if child.stderr else ''}"
        seen.append(line.strip())
        if line.strip() == wanted:
            return seen


def check_whole_batches(db_path: Path, batch: int) -> int:
    """Open after a crash: integrity, whole batches, and the side tables agreeing with the main one."""
    db = open_database(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        db.execute("INSERT INTO trajectories_fts(trajectories_fts) VALUES ('integrity-check')")
        rows = db.execute("SELECT count(*) FROM trajectories").fetchone()[0]
        assert rows % batch == 0
        assert db.execute("SELECT count(*) FROM trajectories_fts").fetchone()[0] == rows
        assert db.execute("SELECT count(*) FROM trajectory_data").fetchone()[0] == rows
        assert (
            db.execute("SELECT count(*) FROM trajectories_fts f JOIN trajectories t ON t.seq = f.rowid").fetchone()[0]
            == rows
        )
        assert db.execute("SELECT count(*) FROM trajectory_tags").fetchone()[0] == 2 * rows
        store = TraceStore(db)
        if rows:
            newest = store.filter(limit=1)[0]
            assert store.get(newest.id).task == newest.task
            assert store.count(text=newest.task.split(":")[0]) >= 1
        store.add(store.filter(limit=1)[0].model_copy(update={"id": None}) if rows else _one())
        assert store.count() == rows + 1
        return rows
    finally:
        db.close()


def _one():  # type: ignore[no-untyped-def]
    from trace2skill.models import Trajectory

    return Trajectory(task="after the crash", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(("mode", "batch"), [("many", 250), ("single", 1)])
def test_two_processes_recording_5000_each_at_once_leave_exactly_10000_rows(
    tmp_path: Path, mode: str, batch: int
) -> None:
    db_path = tmp_path / "shared.db"  # fresh file: both writers also race to create the schema
    first = start_writer(db_path, mode, 5000, batch)
    second = start_writer(db_path, mode, 5000, batch)
    go(first, second)
    finish(first)
    finish(second)
    db = open_database(db_path)
    store = TraceStore(db)
    assert store.count() == 10_000
    assert db.execute("SELECT count(DISTINCT id) FROM trajectories").fetchone()[0] == 10_000
    assert db.execute("SELECT count(*) FROM trajectories_fts").fetchone()[0] == 10_000
    prefixes = {row[0] for row in db.execute("SELECT tag FROM trajectory_tags WHERE tag LIKE 'w%'")}
    assert len(prefixes) == 2
    for prefix in prefixes:
        assert store.count(tags=[prefix]) == 5000
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def test_sigkill_in_the_middle_of_a_batch_leaves_only_the_committed_batches(tmp_path: Path) -> None:
    db_path = tmp_path / "crash.db"
    batch = 200
    child = start_writer(db_path, "many", 5000, batch, kill_at=3)
    go(child)
    seen = wait_for(child, "mid-batch")
    assert seen[-2:] == ["committing 3", "mid-batch"]
    # The fourth batch's rows are inserted, half its full-text rows too, and its transaction is open.
    assert Path(f"{db_path}-wal").stat().st_size > 0
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert check_whole_batches(db_path, batch) == 3 * batch


def test_sigkill_at_an_arbitrary_moment_of_a_bulk_insert_leaves_whole_batches(tmp_path: Path) -> None:
    db_path = tmp_path / "crash.db"
    batch = 100
    child = start_writer(db_path, "many", 50_000, batch, kill_at=10**9)  # reports commits, never pauses
    go(child)
    wait_for(child, "committing 3")
    os.kill(child.pid, signal.SIGKILL)  # while it commits, serialises or inserts the next batches
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    rows = check_whole_batches(db_path, batch)
    assert 2 * batch <= rows < 50_000
