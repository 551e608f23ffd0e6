"""A child process that records trajectories into a database, for the multi-process tests.

    python writer.py DB MODE COUNT BATCH [KILL_AT_BATCH]

It prints `ready` and waits for one line on stdin before writing, so that a test can start
several writers at the same moment. MODE is `many` (TraceStore.add_many in batches of BATCH) or
`single` (TraceStore.add, one by one). With KILL_AT_BATCH, it prints `committing N` as each
batch's COMMIT starts and, half-way through batch KILL_AT_BATCH + 1 (its rows inserted, half its
full-text rows written, its transaction open), prints `mid-batch` and blocks until it is killed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

from trace2skill.models import Trajectory
from trace2skill.store import TraceStore, open_database


def trajectories(prefix: str, count: int) -> Iterator[Trajectory]:
    for i in range(count):
        yield Trajectory.model_validate(
            {
                "task": f"{prefix} task {i}: sum column B",
                "skill": "xlsx",
                "messages": [
                    {"role": "user", "content": f"{prefix} task {i}"},
                    {"role": "assistant", "content": [{"type": "text", "text": "B20 = SUM(B2:B19) " * 20}]},
                ],
                "outcome": {"status": "success" if i % 2 else "failure", "feedback": f"{prefix} feedback {i}"},
                "tags": [prefix, f"n{i % 5}"],
            }
        )


def main() -> None:
    path, mode, count, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    kill_at = int(sys.argv[5]) if len(sys.argv) > 5 else None
    db = open_database(path)
    store = TraceStore(db)
    print("ready", flush=True)
    sys.stdin.readline()
    prefix = f"w{os.getpid()}-{mode}"
    if kill_at is not None:
        db.conn.execute("PRAGMA cache_size = 8")  # a tiny page cache: the open transaction spills pages into the WAL
        state = {"batches": 0, "fts_rows": 0}

        def trace(sql: str) -> None:
            if sql == "COMMIT":
                state["batches"] += 1
                state["fts_rows"] = 0
                print(f"committing {state['batches']}", flush=True)
            elif sql.startswith("INSERT INTO trajectories_fts"):
                state["fts_rows"] += 1
                if state["batches"] == kill_at and state["fts_rows"] == batch // 2:
                    print("mid-batch", flush=True)
                    sys.stdin.readline()  # blocks until the parent's SIGKILL

        db.conn.set_trace_callback(trace)
        store.add_many(trajectories(prefix, count), batch_size=batch)
    elif mode == "many":
        store.add_many(trajectories(prefix, count), batch_size=batch)
    else:
        for trajectory in trajectories(prefix, count):
            store.add(trajectory)
    print("done", flush=True)


if __name__ == "__main__":
    main()
