"""Trace store speed: bulk import against raw sqlite3, single-record latency, filter and sample at scale.

    .venv/bin/python benchmarks/store.py            # 20,000-row import, 1,000,000-row filter/sample/search
    .venv/bin/python benchmarks/store.py --quick    # 5,000-row import, 100,000-row filter/sample/search, < 1 min

Bulk import: the same trajectories (20 messages, about 4.7 KB of JSON each) go through
`TraceStore.add_many` and, side by side in the same run, through raw `sqlite3` `executemany` into
the store's own schema (the same tables, indexes, FTS5 table and pragmas), with rows serialised
before the clock starts. Both sides are timed the same three ways (see `CHECKPOINTS`): until every
row is in the database file (a final `wal_checkpoint(TRUNCATE)`; the figure the targets apply to),
until the last commit, and with checkpoints turned off on both connections (rows left in the WAL:
the bare insert cost, the issue's "about 37,000 rows/s"). In the RESULT line `bulk_per_s`,
`raw_per_s` and `bulk_ratio` are the first; `*_nockpt_*` the second; `*_walonly_*` the third. Each
side runs `--rounds` times per mode, alternating; the best round counts.

The large database is built once with raw executemany of pre-serialised rows and cached under the
temp folder (`--cache`); later runs reuse it. It is read once before the latencies are measured,
so they measure the store with its file in the OS page cache rather than the disk.

Search (`traces search`: `TraceStore.summaries(text=..., limit=20)`, the full-text index over task,
answer, feedback, message text and tool names) is measured for a tool name one run in 50 called
(`get_weather`) and for a word in the tool output of one run in 1,000 (`order17`); the RESULT keys
are `search_ms` and `search_rare_ms`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from trace2skill.models import Trajectory
from trace2skill.store import PAGE_SIZE, TraceStore, open_database
from trace2skill.store.schema import DATA_TABLE, FTS_COLUMNS, FTS_TABLE, MIGRATIONS, TABLE, TAGS_TABLE
from trace2skill.store.trajectories import _Batch

SKILLS = ("xlsx", "pdf-tools", "wiki-tables", "code-review", "sql-helper")
OUTCOMES = ("success",) * 9 + ("failure",) * 7 + ("partial",) * 2 + ("unknown",) * 2
TAGS = tuple(f"tag{i}" for i in range(20))
WORDS_TEXT = (
    "sheet column total formula cell range header value sum average pivot filter chart row table error retry "
    "inspect parse load write answer check verify result missing format number date"
)
WORDS = tuple(WORDS_TEXT.split())
BATCH = 500
DATA_VERSION = 2
"""Bumped when `make_trajectory` changes, so a cached large database is built again."""
START = datetime(2025, 1, 1, tzinfo=UTC)

INSERT_ROW = (
    f"INSERT INTO {TABLE} (seq, id, created_at, skill, skill_version, outcome, score, tags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_DATA = f"INSERT INTO {DATA_TABLE} (seq, data) VALUES (?, ?)"
INSERT_FTS = f"INSERT INTO {FTS_TABLE} (rowid, {', '.join(FTS_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)"
INSERT_TAG = f"INSERT INTO {TAGS_TABLE} (tag, seq) VALUES (?, ?)"


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_trajectory(i: int, created_at: datetime | None = None) -> Trajectory:
    """Trajectory number `i`: 20 messages (text, tool calls, tool results), about 4.7 KB as JSON.

    One run in 50 calls `get_weather` instead of `bash`; each tool output names `order<i mod 1000>`."""
    rng = random.Random(i)
    task = f"Task {i}: {_words(rng, 10)} for customer{rng.randrange(1000)}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    tool = "get_weather" if i % 50 == 0 else "bash"
    for step in range(19):
        if step % 3 == 0:
            content: Any = [
                {"type": "text", "text": _words(rng, 9)},
                {"type": "tool_call", "id": f"c{step}", "name": tool, "arguments": {"command": _words(rng, 6)}},
            ]
            messages.append({"role": "assistant", "content": content})
        elif step % 3 == 1:
            output = f"order{i % 1000} " + _words(rng, 19)
            result = {
                "type": "tool_result",
                "tool_call_id": f"c{step - 1}",
                "output": output,
                "is_error": step % 2 == 0,
            }
            messages.append({"role": "tool", "content": [result]})
        else:
            messages.append({"role": "assistant", "content": _words(rng, 14)})
    status = OUTCOMES[i % len(OUTCOMES)]
    return Trajectory.model_validate(
        {
            "task": task,
            "skill": SKILLS[i % len(SKILLS)],
            "skill_version": 1 + i % 3,
            "messages": messages,
            "outcome": {"status": status, "score": 1.0 if status == "success" else 0.0, "feedback": _words(rng, 8)},
            "final_answer": _words(rng, 6),
            "tags": sorted({TAGS[i % len(TAGS)], TAGS[(i * 7) % len(TAGS)]}),
            "metadata": {"model": "claude-sonnet-4-5", "agent": "bench"},
            "created_at": created_at,
        }
    )


def _connect(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """A raw connection configured as `open_database` configures its own."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


Rows = list[tuple[Any, ...]]
CHECKPOINTS = ("commit", "file", "wal")
"""How each bulk run is timed, the same way on both sides:
commit: until the last batch commits, checkpoints as each side makes them (raw: SQLite's automatic
        ones on the writing connection; ours: a background thread);
file:   the same run, until a final `wal_checkpoint(TRUNCATE)` has put every row in the database file;
wal:    checkpoints off on both sides (`wal_autocheckpoint = 0`), rows left in the WAL: the bare cost
        of the inserts, which is what the issue's "about 37,000 rows/s" measures."""


def _raw_rows(batch: _Batch, first_seq: int) -> tuple[Rows, Rows, Rows, Rows]:
    seqs = range(first_seq, first_seq + len(batch))
    main = [(seq, *columns) for seq, columns in zip(seqs, batch.columns, strict=True)]
    data = [(seq, data.decode()) for seq, data in zip(seqs, batch.data, strict=True)]
    fts = [(seq, *fields) for seq, fields in zip(seqs, batch.fts, strict=True)]
    tags = [(tag, seq) for seq, row_tags in zip(seqs, batch.tags, strict=True) for tag in row_tags]
    return main, data, fts, tags


def _fresh_schema(path: Path) -> None:
    """An empty database with exactly the store's schema (its own migrations), then closed."""
    _remove(path)
    open_database(path).close()


def bulk_raw(path: Path, batches: list[_Batch], mode: str) -> tuple[float, float | None]:
    """Seconds for raw executemany of pre-serialised rows, one transaction per batch: (committed, in the file)."""
    _fresh_schema(path)
    conn = _connect(path)
    if mode == "wal":
        conn.execute("PRAGMA wal_autocheckpoint = 0")
    params = []
    first = 1
    for batch in batches:
        params.append(_raw_rows(batch, first))
        first += len(batch)
    start = time.perf_counter()
    for main, data, fts, tags in params:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT_ROW, main)
        conn.executemany(INSERT_DATA, data)
        conn.executemany(INSERT_FTS, fts)
        conn.executemany(INSERT_TAG, tags)
        conn.commit()
    committed = time.perf_counter() - start
    in_file = None
    if mode != "wal":
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        in_file = time.perf_counter() - start
    conn.close()
    return committed, in_file


def bulk_ours(path: Path, trajectories: list[Trajectory], mode: str) -> tuple[float, float | None]:
    """Seconds for TraceStore.add_many (serialisation included): (committed, in the file)."""
    _remove(path)
    db = open_database(path)
    if mode == "wal":
        db.conn.execute("PRAGMA wal_autocheckpoint = 0")
    store = TraceStore(db)
    start = time.perf_counter()
    store.add_many(trajectories, batch_size=BATCH)
    committed = time.perf_counter() - start
    in_file = None
    if mode != "wal":
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        in_file = time.perf_counter() - start
    assert store.count() == len(trajectories)
    db.close()
    return committed, in_file


def single_add_latencies(path: Path, trajectories: list[Trajectory]) -> list[float]:
    db = open_database(path)
    store = TraceStore(db)
    latencies = []
    for trajectory in trajectories:
        start = time.perf_counter()
        store.add(trajectory)
        latencies.append(time.perf_counter() - start)
    db.close()
    return latencies


def build_large(path: Path, n: int, console: Console) -> None:
    """n trajectories, built from 1,000 serialised templates with each row's own id and time spliced in."""
    marker = Path(f"{path}.complete")
    schema = hashlib.sha256(repr((MIGRATIONS, FTS_COLUMNS, DATA_VERSION)).encode()).hexdigest()[:16]
    if path.exists() and marker.exists() and marker.read_text() == f"{n} {schema}":
        return
    marker.unlink(missing_ok=True)
    _fresh_schema(path)
    conn = _connect(path, synchronous="OFF")
    template_stamp = "2000-01-01T00:00:00.000000+00:00"
    templates = []
    for i in range(1000):
        template = make_trajectory(i, datetime.fromisoformat(template_stamp)).model_copy(update={"id": "t_template"})
        row = _Batch([template])
        data = row.data[0].decode()
        json_stamp = json.loads(data)["created_at"]  # the time as the store writes it into the JSON
        assert data.count('"t_template"') == 1 and data.count(json_stamp) == 1
        templates.append((row, data, json_stamp))
    step = timedelta(days=365) / n
    start = time.perf_counter()
    chunk = 20_000
    for base in range(0, n, chunk):
        main, datas, fts, tags = [], [], [], []
        for seq in range(base + 1, min(base + chunk, n) + 1):
            row, data, json_stamp = templates[seq % 1000]
            ident = f"t_big{seq:09d}"
            stamp = (START + step * seq).isoformat(timespec="microseconds")
            data = data.replace('"t_template"', f'"{ident}"', 1).replace(json_stamp, stamp, 1)
            main.append((seq, ident, stamp, *row.columns[0][2:]))
            datas.append((seq, data))
            fts.append((seq, *row.fts[0]))
            tags.extend((tag, seq) for tag in row.tags[0])
        conn.execute("BEGIN")
        conn.executemany(INSERT_ROW, main)
        conn.executemany(INSERT_DATA, datas)
        conn.executemany(INSERT_FTS, fts)
        conn.executemany(INSERT_TAG, tags)
        conn.commit()
        console.print(f"  building {min(base + chunk, n):,}/{n:,} rows ({time.perf_counter() - start:.0f} s)", end="\r")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    conn.close()
    marker.write_text(f"{n} {schema}")
    console.print(f"  built {n:,} rows in {time.perf_counter() - start:.0f} s" + " " * 20)


def timed(fn: Callable[[], Any], repeats: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per call: CPU time shows the work done when other jobs share the cores."""
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def warm(path: Path) -> float:
    """Read the file once, so latencies measure the store with its database in the OS page cache, not the disk."""
    start = time.perf_counter()
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass
    return time.perf_counter() - start


def bulk(n_bulk: int, rounds: int, work: Path) -> tuple[float, dict[str, dict[str, float]]]:
    """Stored row size (KB) and the best rate of each side under each checkpoint mode (`CHECKPOINTS`)."""
    trajectories = [make_trajectory(i) for i in range(n_bulk)]
    prepared = [_Batch(trajectories[i : i + BATCH]) for i in range(0, n_bulk, BATCH)]
    row_kb = statistics.mean(len(data) for data in prepared[0].data) / 1024
    best: dict[str, dict[str, float]] = {side: dict.fromkeys(CHECKPOINTS, 0.0) for side in ("raw", "ours")}
    for _ in range(rounds):
        for mode in ("commit", "wal"):
            for side in ("raw", "ours"):
                if side == "raw":
                    committed, in_file = bulk_raw(work / "raw.db", prepared, mode)
                else:
                    committed, in_file = bulk_ours(work / "ours.db", trajectories, mode)
                rates = best[side]
                if mode == "wal":
                    rates["wal"] = max(rates["wal"], n_bulk / committed)
                else:
                    assert in_file is not None
                    rates["commit"] = max(rates["commit"], n_bulk / committed)
                    rates["file"] = max(rates["file"], n_bulk / in_file)
    return row_kb, best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--rows", type=int, help="bulk import size (default 20,000; quick 5,000)")
    parser.add_argument("--large", type=int, help="rows of the filter/sample database (1,000,000; quick 100,000)")
    parser.add_argument("--rounds", type=int, default=None, help="bulk rounds per side and mode (default 3; quick 2)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "trace2skill-bench")
    args = parser.parse_args()
    n_bulk = args.rows or (5_000 if args.quick else 20_000)
    n_large = args.large or (100_000 if args.quick else 1_000_000)
    rounds = args.rounds or (2 if args.quick else 3)
    n_single = 300 if args.quick else 2_000
    console = Console(stderr=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]

    work = Path(tempfile.mkdtemp(prefix="t2s-bench-", dir=args.cache))
    row_kb, rates = bulk(n_bulk, rounds, work)
    singles = [make_trajectory(n_bulk + i) for i in range(n_single)]
    latencies = sorted(single_add_latencies(work / "ours.db", singles))
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    for leftover in work.iterdir():
        leftover.unlink()
    work.rmdir()

    large = args.cache / f"store-{n_large}.db"
    build_large(large, n_large, console)
    warm_s = warm(large)
    db = open_database(large)
    store = TraceStore(db)
    assert store.count() == n_large, "cached database is incomplete: delete it and run again"
    repeats = 5
    measures: dict[str, list[tuple[float, float]]] = {
        "filter skill+outcome, 100": timed(lambda: store.filter(skill="xlsx", outcome="failure", limit=100), repeats),
        "filter tag, 100": timed(lambda: store.filter(tags=["tag3"], limit=100), repeats),
        "filter text (common words), 100": timed(lambda: store.filter(text="pivot chart", limit=100), repeats),
        "filter text (rare word), 100": timed(lambda: store.filter(text="customer17", limit=100), repeats),
        "count outcome=failure": timed(lambda: store.count(outcome="failure"), repeats),
    }
    search_repeats = 21
    measures["search tool name (1 run in 50), 20"] = timed(
        lambda: store.summaries(text="get_weather", limit=20), search_repeats
    )
    measures["search tool output (1 run in 1,000), 20"] = timed(
        lambda: store.summaries(text="order17", limit=20), search_repeats
    )
    seeds = iter(range(1000))
    measures["sample 1,000 ids"] = timed(lambda: store.sample_ids(1000, seed=next(seeds)), repeats)
    measures["sample 1,000 trajectories"] = timed(lambda: store.sample(1000, seed=next(seeds)), repeats)
    measures["sample 1,000 balanced"] = timed(lambda: store.sample(1000, seed=next(seeds), balance=True), repeats)
    measures["sample 1,000 skill+tag"] = timed(
        lambda: store.sample(1000, seed=next(seeds), skill="xlsx", tags=["tag5"]), repeats
    )
    db.close()
    load_after = os.getloadavg()[0]

    title = f"trace store ({os.cpu_count()} cores, load {load_before:.1f} → {load_after:.1f})"
    table = Table(title=title, caption=f"{n_large:,}-row database read into the page cache first ({warm_s:.1f} s)")
    table.add_column("measure")
    table.add_column("raw sqlite3", justify="right")
    table.add_column("trace2skill", justify="right")
    table.add_column("ours / raw", justify="right")
    table.add_column("target", justify="right")
    table.add_row("row size (stored JSON)", "", f"{row_kb:.1f} KB", "", "≈4.7 KB")
    labels = {
        "file": "bulk, until every row is in the database file (+ final checkpoint)",
        "commit": "bulk, until the last commit (no final checkpoint)",
        "wal": "bulk, checkpoints off (rows left in the WAL; the issue's ≈37k figure)",
    }
    for mode in ("file", "commit", "wal"):
        raw, ours = rates["raw"][mode], rates["ours"][mode]
        target = "≥ 15,000/s, ≥ 0.50" if mode == "file" else ""
        table.add_row(
            f"{labels[mode]}, {n_bulk:,} rows", f"{raw:,.0f}/s", f"{ours:,.0f}/s", f"{ours / raw:.2f}", target
        )
    table.add_row(f"single add p50 ({n_single} adds)", "", f"{p50:.2f} ms", "", "")
    table.add_row("single add p99", "", f"{p99:.2f} ms", "", "")
    for name, times in measures.items():
        target = "≤ 100 ms" if name in ("sample 1,000 trajectories", "sample 1,000 ids") else ""
        if name.startswith("search"):
            target = "p50 ≤ 50 ms"
        wall = statistics.median(t[0] for t in times) * 1000
        cpu = statistics.median(t[1] for t in times) * 1000
        worst = max(t[0] for t in times) * 1000
        value = f"{wall:.1f} ms (cpu {cpu:.1f}, max {worst:.1f})"
        table.add_row(f"{name} of {n_large:,} (median of {len(times)})", "", value, "", target)
    Console(width=160).print(table)
    ms = {name: statistics.median(t[0] for t in times) * 1000 for name, times in measures.items()}
    cpu_ms = {name: statistics.median(t[1] for t in times) * 1000 for name, times in measures.items()}
    ours, raw = rates["ours"], rates["raw"]
    print(
        "RESULT "
        f"bulk_rows={n_bulk} row_kb={row_kb:.2f} "
        f"bulk_per_s={ours['file']:.0f} raw_per_s={raw['file']:.0f} bulk_ratio={ours['file'] / raw['file']:.2f} "
        f"bulk_nockpt_per_s={ours['commit']:.0f} raw_nockpt_per_s={raw['commit']:.0f} "
        f"bulk_ratio_nockpt={ours['commit'] / raw['commit']:.2f} "
        f"bulk_walonly_per_s={ours['wal']:.0f} raw_walonly_per_s={raw['wal']:.0f} "
        f"bulk_ratio_walonly={ours['wal'] / raw['wal']:.2f} "
        f"add_p50_ms={p50:.2f} add_p99_ms={p99:.2f} large_rows={n_large} "
        f"filter_ms={ms['filter skill+outcome, 100']:.1f} filter_tag_ms={ms['filter tag, 100']:.1f} "
        f"filter_text_ms={ms['filter text (rare word), 100']:.1f} sample_ids_ms={ms['sample 1,000 ids']:.1f} "
        f"sample_ms={ms['sample 1,000 trajectories']:.1f} sample_cpu_ms={cpu_ms['sample 1,000 trajectories']:.1f} "
        f"sample_balanced_ms={ms['sample 1,000 balanced']:.1f} "
        f"search_ms={ms['search tool name (1 run in 50), 20']:.1f} "
        f"search_rare_ms={ms['search tool output (1 run in 1,000), 20']:.1f} "
        f"load={load_before:.1f}/{load_after:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
