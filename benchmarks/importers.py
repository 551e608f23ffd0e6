"""Benchmark of the importers: throughput (MB/s) and peak memory on generated Claude Code transcripts.

A transcript set is generated in a temporary folder: sessions shaped like real ones (assistant
messages split one content block per line sharing `message.id`, parallel tool calls, tool results
with a `toolUseResult` copy, progress and snapshot records, thinking blocks, a few 0.2-1.5 MB tool
outputs, some secrets and e-mail addresses). Each measurement runs in a fresh subprocess so its peak
RSS (`ru_maxrss`) is its own:

  parse      detect + read + fit to limits + validate (redaction off)
  +redact    the same with redaction on (what `trace2skill import` does before storing)
  end-to-end + redact + write to a fresh SQLite trace store (`ingest.store_trajectories`)

Memory must not grow with input size: the same measurement is repeated on sets of growing total size
(sessions of 2-4 MB each, as in every set; files are read one at a time and runs are written in
batches of at most 4 MB of text) and on single sessions of growing size (one file is
indexed, then re-read; each part is cut to a cap that keeps the trajectory under the limit, so above
about 16 MB of transcript, where the 8 MB trajectory limit binds, memory stays flat).
"growth" is peak RSS minus the RSS after imports, so the interpreter's own ~50 MB is not counted.

    .venv/bin/python benchmarks/importers.py            # sets of 10/30/100/300 MB, single files of 20/60/150 MB
    .venv/bin/python benchmarks/importers.py --quick    # sets of 5/30/50 MB, single files of 16/32/48 MB; < 1 min
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MB = 1024 * 1024
WORDS = (
    "the",
    "file",
    "test",
    "function",
    "returns",
    "value",
    "error",
    "config",
    "path",
    "module",
    "import",
    "class",
    "update",
    "check",
    "run",
    "build",
    "fix",
    "schema",
    "table",
    "query",
    "index",
    "cache",
    "token",
    "model",
    "agent",
    "skill",
    "patch",
    "merge",
    "review",
    "commit",
    "branch",
    "deploy",
)
TOOLS = ("Bash", "Read", "Edit", "Write", "Grep", "Glob", "TodoWrite", "WebFetch")
SECRETS = (
    "export OPENAI_API_KEY=sk-proj-{r}",
    "Authorization: Bearer {r}",
    "postgres://app:{r}@db.internal:5432/prod",
    "contact ops-{n}@acme-corp.io",
    "AKIA{R}",
)


# --- generation --------------------------------------------------------------------------------


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _output(rng: random.Random) -> str:
    """Tool output: mostly small, a long tail, now and then huge (a log, a big file)."""
    roll = rng.random()
    if roll < 0.015:
        size = rng.randint(200_000, 1_500_000)
    elif roll < 0.15:
        size = rng.randint(5_000, 40_000)
    else:
        size = rng.randint(80, 3_000)
    name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}"
    line = f"    {rng.randint(1, 999):>4}\u2192 def {name}(x): return x  # {_text(rng, 6)}\n"
    body = (line * (size // len(line) + 1))[:size]
    if rng.random() < 0.03:
        secret = rng.choice(SECRETS).format(
            r="".join(rng.choice("abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789") for _ in range(40)),
            R="".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
            n=rng.randint(1, 99),
        )
        cut = rng.randint(0, len(body))
        body = f"{body[:cut]}\n{secret}\n{body[cut:]}"
    return body


def write_session(path: Path, target_bytes: int, rng: random.Random) -> int:
    session = str(uuid.UUID(int=rng.getrandbits(128)))
    base = {"isSidechain": False, "userType": "external", "cwd": "/home/dev/project", "sessionId": session,
            "version": "2.1.30", "gitBranch": "main"}  # fmt: skip
    written = 0
    clock = 1_760_000_000.0
    parent: str | None = None

    def emit(handle: Any, record: dict[str, Any]) -> str:
        nonlocal written, clock, parent
        clock += rng.random() * 3
        ident = str(uuid.UUID(int=rng.getrandbits(128)))
        full = {"parentUuid": parent, **base, **record, "uuid": ident,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(clock))}  # fmt: skip
        line = json.dumps(full, ensure_ascii=False) + "\n"
        handle.write(line)
        written += len(line.encode())
        parent = ident
        return ident

    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "file-history-snapshot", "messageId": "m0", "snapshot": {}}) + "\n")
        emit(handle, {"type": "user", "message": {"role": "user", "content": f"Please {_text(rng, 25)}"}})
        turn = 0
        while written < target_bytes:
            turn += 1
            msg_id = f"msg_{rng.getrandbits(64):016x}"
            usage = {"input_tokens": rng.randint(1, 50), "output_tokens": rng.randint(10, 900),
                     "cache_read_input_tokens": rng.randint(1000, 90000)}  # fmt: skip

            def assistant(block: dict[str, Any], mid: str = msg_id, u: dict[str, int] = usage) -> dict[str, Any]:
                return {"type": "assistant", "message": {"model": "claude-sonnet-4-5", "id": mid, "type": "message",
                        "role": "assistant", "content": [block], "usage": u}}  # fmt: skip

            if rng.random() < 0.3:
                emit(handle, assistant({"type": "thinking", "thinking": _text(rng, 60), "signature": "sig"}))
            emit(handle, assistant({"type": "text", "text": _text(rng, rng.randint(5, 80))}))
            calls = []
            for _ in range(1 if rng.random() < 0.8 else rng.randint(2, 4)):
                tool = rng.choice(TOOLS)
                call_id = f"toolu_{rng.getrandbits(80):020x}"
                calls.append((call_id, tool))
                args = {"command": _text(rng, 8), "file_path": "/home/dev/project/app.py"}
                emit(handle, assistant({"type": "tool_use", "id": call_id, "name": tool, "input": args}))
            for call_id, _tool in calls:
                output = _output(rng)
                error = rng.random() < 0.05
                emit(handle, {"type": "progress", "data": {"type": "hook_progress"}, "toolUseID": call_id})
                emit(handle, {"type": "user",
                              "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id,
                                          "content": output, "is_error": error}]},
                              "toolUseResult": {"stdout": output, "stderr": "", "interrupted": False}})  # fmt: skip
            if turn % 25 == 0:
                emit(handle, {"type": "user", "message": {"role": "user", "content": f"Now {_text(rng, 12)}"}})
        emit(handle, assistant({"type": "text", "text": "Done. " + _text(rng, 30)}, f"msg_{rng.getrandbits(64):016x}"))
    return written


def generate_set(folder: Path, total_bytes: int, session_bytes: tuple[int, int], seed: int) -> int:
    """Sessions of random size in `session_bytes` until `total_bytes`; returns bytes written."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    index = 0
    while written < total_bytes:
        size = min(rng.randint(*session_bytes), max(total_bytes - written, session_bytes[0]))
        written += write_session(folder / f"session-{index:04d}.jsonl", size, rng)
        index += 1
    return written


# --- one measurement (in a child process) ---------------------------------------------------------


def child(mode: str, folder: str, home: str) -> None:
    from trace2skill.home import Home
    from trace2skill.importers import import_paths
    from trace2skill.integrations.ingest import store_trajectories
    from trace2skill.workspace import Workspace

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files = sorted(Path(folder).rglob("*.jsonl"))
    size = sum(p.stat().st_size for p in files)
    start = time.perf_counter()
    items = import_paths(files, "claude-code", redact=mode != "parse")
    stats = {"trajectories": 0, "errors": 0, "redactions": 0, "truncations": 0}

    def good() -> Any:
        for item in items:
            if item.error:
                stats["errors"] += 1
                continue
            stats["trajectories"] += 1
            stats["redactions"] += item.redactions
            stats["truncations"] += item.truncations
            yield item.trajectory

    if mode == "e2e":
        workspace = Workspace.open(Home(Path(home)))
        try:
            store_trajectories(workspace.traces, good())
        finally:
            workspace.close()
    else:
        for _ in good():
            pass
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"bytes": size, "files": len(files), "seconds": seconds, "baseline_kb": baseline,
                      "peak_kb": peak, **stats}))  # fmt: skip


def measure(mode: str, folder: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="t2s-bench-home-") as home:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, str(folder), home],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller inputs; under a minute")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "FOLDER", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    # (total MB, modes): throughput is read on the headline set; memory on every set
    if args.quick:
        sets = [(5, ("e2e",)), (30, ("e2e",)), (50, ("parse", "redact", "e2e"))]
        singles = (16, 32, 48)
    else:
        sets = [(10, ("e2e",)), (30, ("e2e",)), (100, ("parse", "redact", "e2e")), (300, ("e2e",))]
        singles = (20, 60, 150)
    headline = 50 if args.quick else 100
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="t2s-bench-") as tmp:
        root = Path(tmp)
        for mb, modes in sets:
            folder = root / f"set-{mb}"
            generate_set(folder, mb * MB, (2 * MB, 4 * MB), seed=mb)
            for mode in modes:
                rows.append({"input": f"set {mb} MB", "kind": "set", "mb": mb, "mode": mode, **measure(mode, folder)})
            shutil.rmtree(folder)
        for mb in singles:
            folder = root / f"single-{mb}"
            folder.mkdir()
            write_session(folder / "big.jsonl", mb * MB, random.Random(1000 + mb))
            rows.append({"input": f"1 file {mb} MB", "kind": "single", "mb": mb, "mode": "redact",
                         **measure("redact", folder)})  # fmt: skip
            shutil.rmtree(folder)

    print(f"importers benchmark ({'quick' if args.quick else 'full'}); load average at start {load:.2f} on "
          f"{os.cpu_count()} cores (shared machine: figures are noisy)\n")  # fmt: skip
    header = (
        f"{'input':<16}{'mode':<10}{'files':>6}{'runs':>6}{'MB':>8}{'s':>8}{'MB/s':>8}{'peak RSS':>10}{'growth':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        r["mb_s"] = r["bytes"] / MB / r["seconds"]
        r["peak_mb"] = r["peak_kb"] / 1024
        r["growth_mb"] = (r["peak_kb"] - r["baseline_kb"]) / 1024
        print(f"{r['input']:<16}{r['mode']:<10}{r['files']:>6}{r['trajectories']:>6}{r['bytes'] / MB:>8.1f}"
              f"{r['seconds']:>8.2f}{r['mb_s']:>8.1f}{r['peak_mb']:>9.0f}M{r['growth_mb']:>8.0f}M")  # fmt: skip
    errors = sum(r["errors"] for r in rows)

    def pick(kind: str, mode: str, mb: int) -> dict[str, Any]:
        return next(r for r in rows if r["kind"] == kind and r["mode"] == mode and r["mb"] == mb)

    parse = pick("set", "parse", headline)
    redact = pick("set", "redact", headline)
    e2e = pick("set", "e2e", headline)
    (prev, _), (top, _) = sets[-2], sets[-1]
    set_ratio = pick("set", "e2e", top)["growth_mb"] / max(pick("set", "e2e", prev)["growth_mb"], 1.0)
    # single files: compare the two sizes where the trajectory limit binds (the smallest may be under it)
    single_ratio = pick("single", "redact", singles[-1])["growth_mb"] / max(
        pick("single", "redact", singles[1])["growth_mb"], 1.0
    )
    print(
        f"\nsets {prev} -> {top} MB: end-to-end memory growth x{set_ratio:.2f} for x{top / prev:.1f} the input; "
        f"single file {singles[1]} -> {singles[-1]} MB (both over the trajectory limit): growth x{single_ratio:.2f}; "
        f"redaction costs {parse['mb_s'] / redact['mb_s']:.2f}x parse time; "
        f"{redact['redactions']} secrets redacted, {redact['truncations']} fields truncated; "
        f"total {time.perf_counter() - started:.0f}s"
    )
    print(
        f"RESULT parse_mb_s={parse['mb_s']:.1f} redact_mb_s={redact['mb_s']:.1f} e2e_mb_s={e2e['mb_s']:.1f} "
        f"headline_mb={headline} peak_rss_mb={e2e['peak_mb']:.0f} "
        f"growth_mb_{prev}={pick('set', 'e2e', prev)['growth_mb']:.0f} "
        f"growth_mb_{top}={pick('set', 'e2e', top)['growth_mb']:.0f} "
        f"set_growth_ratio={set_ratio:.2f} single_growth_ratio={single_ratio:.2f} errors={errors}"
    )


if __name__ == "__main__":
    main()
