"""Benchmark of the agent runner: client CPU per agent step and how many rollouts are really in flight.

The real runner (`trace2skill.bench.rollouts.run_arm`: real sandbox, real trace store in SQLite,
the real `anthropic` SDK client) rolls out a small suite against the local protocol server in its
own process, which answers after a fixed latency L. Each task takes `STEPS` tool turns (`true` in
the sandbox) and a final answer, so one rollout is STEPS + 1 model calls.

- client CPU per step: this process's CPU time (user + system) divided by the model calls made, with
  the sandbox's own children excluded (their CPU is shown separately); it includes starting each
  sandbox command, storing each run and scoring it.
- in flight: the sum of every rollout's wall time divided by the run's wall time: the average
  number of rollouts running at once. Its share of `--workers` is the achieved parallelism.

Targets: <= 5 ms of client CPU per step; >= 0.9 of the workers in flight.

    .venv/bin/python benchmarks/bench.py           # both sandbox modes where available, tools and no tools
    .venv/bin/python benchmarks/bench.py --quick   # fewer tasks; about 30 s
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.doubles

from tests.doubles.llmserver.process import server_process

from trace2skill.bench.rollouts import run_arm
from trace2skill.bench.runner import Arm, RolloutSettings
from trace2skill.bench.suites import load_jsonl_suite
from trace2skill.home import Home
from trace2skill.llm import open_llm
from trace2skill.llm.eventloop import run as run_on_loop
from trace2skill.sandbox import available_modes
from trace2skill.workspace import Workspace

STEPS = 3
HANDLER = "tests.doubles.llmserver.handlers:bench_agent"


def _suite(folder: Path, n: int, tools: bool) -> Path:
    rows: list[dict[str, Any]] = [{"suite": {"name": f"bench-{n}-{tools}", "tools": tools}}]
    rows += [{"id": f"t{i}", "task": f"Task {i}: answer ok.", "reference": "ok", "split": "test"} for i in range(n)]
    path = folder / f"suite-{n}-{tools}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _cpu() -> tuple[float, float]:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def measure(url: str, folder: Path, *, n: int, workers: int, tools: bool, mode: str) -> dict[str, Any]:
    suite = load_jsonl_suite(_suite(folder, n, tools))
    home = Home(Path(tempfile.mkdtemp(dir=folder, prefix="home-")))
    ws = Workspace.open(home)
    model = f"anthropic:bench@{url}"
    settings = RolloutSettings(model=model, max_turns=STEPS + 2, sandbox_mode=mode)

    async def go() -> tuple[Any, float, float, float]:
        llm = open_llm(model, concurrency=workers)
        try:
            cpu0, kids0 = _cpu()
            start = time.perf_counter()
            runs = await run_arm(ws, suite, suite.split("test"), Arm("none"), llm, settings, workers=workers)
            wall = time.perf_counter() - start
            cpu1, kids1 = _cpu()
            return runs, wall, cpu1 - cpu0, kids1 - kids0
        finally:
            await llm.aclose()

    runs, wall, cpu, kids = run_on_loop(go())
    ws.close()
    steps = sum(int(t.metadata.get("turns") or 0) for t in runs.runs.values())
    passed = sum(runs.outcomes().values())
    busy = sum(float(t.metadata.get("seconds") or 0.0) for t in runs.runs.values())
    return {
        "mode": mode if tools else "no tools",
        "n": n,
        "workers": workers,
        "passed": passed,
        "steps": steps,
        "wall": wall,
        "cpu_ms_per_step": 1000 * cpu / max(1, steps),
        "children_ms_per_step": 1000 * kids / max(1, steps),
        "in_flight": busy / wall,
        "share": busy / wall / min(workers, n),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks (about 30 s)")
    parser.add_argument("--latency", type=float, default=0.2, help="server latency per call, seconds")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    n = 48 if args.quick else 160
    rows = []
    with tempfile.TemporaryDirectory(prefix="t2s-bench-") as tmp, server_process(args.latency, HANDLER) as url:
        folder = Path(tmp)
        measure(url, folder, n=4, workers=4, tools=True, mode="process")  # warm-up: imports, SDK set-up
        rows.append(measure(url, folder, n=n, workers=args.workers, tools=False, mode="process"))
        for mode in available_modes():
            rows.append(measure(url, folder, n=n, workers=args.workers, tools=True, mode=mode))
    print(f"agent runner against the local protocol server at L = {args.latency} s, {STEPS} tool turns a task")
    head = f"{'sandbox':<10} {'N':>5} {'W':>4} {'passed':>7} {'steps':>6} {'wall s':>8} "
    head += f"{'client CPU ms/step':>19} {'sandbox CPU ms/step':>20} {'in flight':>10} {'of W':>6}"
    print(head)
    for r in rows:
        print(
            f"{r['mode']:<10} {r['n']:>5} {r['workers']:>4} {r['passed']:>7} {r['steps']:>6} {r['wall']:>8.2f} "
            f"{r['cpu_ms_per_step']:>19.2f} {r['children_ms_per_step']:>20.2f} "
            f"{r['in_flight']:>10.2f} {r['share']:>6.2f}"
        )
    tool_rows = [r for r in rows if r["mode"] != "no tools"]
    worst_cpu = max(r["cpu_ms_per_step"] for r in rows)
    worst_share = min(r["share"] for r in rows)
    print(
        "RESULT "
        + " ".join(
            [
                f"cpu_ms_per_step={worst_cpu:.2f}",
                f"in_flight_share={worst_share:.2f}",
                *(f"cpu_ms_per_step_{r['mode'].replace(' ', '_')}={r['cpu_ms_per_step']:.2f}" for r in rows),
                *(f"in_flight_share_{r['mode']}={r['share']:.2f}" for r in tool_rows),
                f"cpu_target_met={worst_cpu <= 5.0}",
                f"parallel_target_met={worst_share >= 0.9}",
            ]
        )
    )


if __name__ == "__main__":
    main()
