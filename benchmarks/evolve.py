"""Benchmark of the evolution pipeline: wall time against the critical-path bound, client CPU per
call, the parallel speed-up over the sequential baseline, and prompt-cache use.

The real pipeline (`trace2skill.evolve.evolve_async`: real trace store and skill store in SQLite,
the real `anthropic` SDK client) runs against the local protocol server in its own process, which
answers every prompt with the simulated fleet (`tests.doubles.simulated`) after a fixed
latency L and counts prompt-cache reads of the repeated `cache_control` prefix.

Critical-path bound = L x sequential call rounds, each stage at least its own chain of calls and at
least its calls divided by the W calls that may be in flight:
  analyse+propose  max(analysis turns + 1, ceil(calls / W))
  merge            sum over levels of max(1, ceil(groups / W))   (ceil(log_B N) levels)
  apply            anchor-repair round (if any) + validation fix rounds
Each server process first serves one small warm-up run (imports and SDK set-up happen once per
process; their CPU is printed separately), then the measured runs. Runs use the event loop the CLI
uses (uvloop when installed, `trace2skill.llm.eventloop`) and the HTTP client the providers use by
default (the SDKs' aiohttp client, `trace2skill.llm.provider`); the last sections run the same
evolution on each HTTP client the SDKs support, and on the standard asyncio loop and on uvloop, side
by side. The server's CPU per request is shown too: it shares the machine's two cores with the client.
Targets: wall / bound <= 1.10 at L = 1.0 s and <= 1.30 at L = 0.2 s; client CPU <= 3 ms per call;
speed-up over the sequential baseline >= 0.85 of its ideal (sequential rounds / parallel rounds);
>= 85% of the analysts' input tokens served from the prompt cache.

    .venv/bin/python benchmarks/evolve.py            # N = 50, 200, 1000 at L = 0.2 and 1.0; baseline at N = 50
    .venv/bin/python benchmarks/evolve.py --quick    # N = 50 only, baseline at L = 0.1 s; under a minute
    TRACE2SKILL_EVENT_LOOP=asyncio .venv/bin/python benchmarks/evolve.py   # everything on the standard loop
    TRACE2SKILL_HTTP_CLIENT=httpx .venv/bin/python benchmarks/evolve.py    # everything on the SDKs' httpx2 client
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib.util
import io
import math
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.doubles

from tests.doubles.llmserver.process import server_call, server_process
from tests.doubles.simulated import make_skill, make_trajectories

from trace2skill.evolve import evolve_async
from trace2skill.evolve.merge import tree_shape
from trace2skill.home import Home
from trace2skill.llm.eventloop import run as run_on_loop
from trace2skill.llm.eventloop import use_uvloop
from trace2skill.llm.provider import HTTP_CLIENT_ENV, HTTP_CLIENTS, http_client_choice
from trace2skill.models import EvolutionConfig, EvolutionReport
from trace2skill.workspace import Workspace

W = 128
B = 5
HANDLER = "tests.doubles.simulated:server_handler"
SKILL_FILLER_LINES = 220  # S0 of about 5,000 tokens, as in the paper's spreadsheet skill
STEPS, STEP_CHARS = 8, 250


def make_home(root: Path, n: int, seed: int) -> Path:
    home = root / f"home-{n}-{seed}-{time.monotonic_ns()}"
    ws = Workspace.open(Home(home))
    ws.skills.commit(make_skill("sheets", SKILL_FILLER_LINES), parent=None, author="bench", changelog=["import"])
    ws.traces.add_many(make_trajectories(n, seed=seed, steps=STEPS, step_chars=STEP_CHARS))
    ws.close()
    return home


def rounds_of(report: EvolutionReport, workers: int) -> dict[str, int]:
    """Sequential call rounds per stage, as in the module docstring."""
    s = report.stages
    calls1 = s.get("analyse", {}).get("calls", 0) + s.get("propose", {}).get("calls", 0)
    chain = s.get("analyse", {}).get("rounds", 0) + s.get("propose", {}).get("rounds", 0)
    merge = sum(
        max(1, math.ceil(sum(1 for g in level if len(g) > 1) / workers)) for level in tree_shape(report.patches, B)
    )
    return {
        "analyse+propose": max(chain, math.ceil(calls1 / workers)),
        "merge": merge,
        "apply": s.get("apply", {}).get("rounds", 0),
    }


def sequential_rounds(report: EvolutionReport) -> int:
    """Rounds of the baseline: every stage of every step is sequential."""
    return sum(report.stages.get(k, {}).get("rounds", 0) for k in ("analyse", "propose", "merge", "apply"))


async def run_once(home: Path, url: str, **config: Any) -> tuple[EvolutionReport, float, float]:
    ws = Workspace.open(Home(home))
    cfg = EvolutionConfig(skill="sheets", model=f"anthropic:claude-sonnet-4-5@{url}", workers=W, fan_in=B, **config)
    server_call(url, "/_reset", "POST")
    cpu, wall = time.process_time(), time.perf_counter()
    report = await evolve_async(cfg, workspace=ws)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ws.close()
    if report.status != "succeeded":
        raise RuntimeError(f"run failed: {report.error}")
    served = server_call(url, "/_stats")["requests"]
    if served != report.calls:
        raise RuntimeError(f"the server saw {served} requests but the report counts {report.calls}")
    return report, wall, cpu


def server_cpu(url: str) -> float:
    return float(server_call(url, "/_stats")["server_cpu_s"])


def loop_comparison(root: Path, latency: float, n: int, reps: int) -> list[dict[str, Any]]:
    """The same run on the standard asyncio loop and on uvloop, alternating, on one server process."""
    import uvloop

    runners = {"asyncio": asyncio.run, "uvloop": uvloop.run}
    rows: list[dict[str, Any]] = []
    with server_process(latency, HANDLER) as url:
        for runner in runners.values():
            runner(run_once(make_home(root, 5, seed=1), url))
        for _ in range(reps):
            for name, runner in runners.items():
                report, wall, cpu = runner(run_once(make_home(root, n, seed=n), url))
                bound = latency * sum(rounds_of(report, W).values())
                rows.append({"loop": name, "n": n, "ratio": wall / bound, "cpu_ms": 1000 * cpu / report.calls})
    return rows


def client_comparison(root: Path, latency: float, n: int, reps: int) -> list[dict[str, Any]]:
    """The same run on each HTTP client the SDKs support, alternating, on one server process."""
    chosen = os.environ.get(HTTP_CLIENT_ENV)
    rows: list[dict[str, Any]] = []
    try:
        with server_process(latency, HANDLER) as url:
            for name in HTTP_CLIENTS:  # a warm-up run on each client first, as in `loop_comparison`
                os.environ[HTTP_CLIENT_ENV] = name
                run_on_loop(run_once(make_home(root, 5, seed=1), url))
            for _ in range(reps):
                for name in HTTP_CLIENTS:
                    os.environ[HTTP_CLIENT_ENV] = name  # read when the run opens its model
                    report, wall, cpu = run_on_loop(run_once(make_home(root, n, seed=n), url))
                    bound = latency * sum(rounds_of(report, W).values())
                    rows.append({"client": name, "n": n, "ratio": wall / bound, "cpu_ms": 1000 * cpu / report.calls})
    finally:
        if chosen is None:
            os.environ.pop(HTTP_CLIENT_ENV, None)
        else:
            os.environ[HTTP_CLIENT_ENV] = chosen
    return rows


def cache_share(report: EvolutionReport, stages: tuple[str, ...] = ("analyse", "propose")) -> tuple[float, float]:
    """(input tokens per trajectory, share read from the prompt cache) over the given stages."""
    inp = sum(report.stages.get(k, {}).get("input_tokens", 0) for k in stages)
    cached = sum(report.stages.get(k, {}).get("cached_tokens", 0) for k in stages)
    return inp / max(1, report.trajectories), cached / max(1, inp)


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 50 only; baseline at L = 0.1 s")
    parser.add_argument("--sizes", default=None, help="comma-separated N (default 50,200,1000)")
    parser.add_argument("--latencies", default="0.2,1.0")
    parser.add_argument("--profile", action="store_true", help="profile the largest run at the first latency")
    parser.add_argument("--no-loop-comparison", action="store_true", help="skip the asyncio/uvloop side by side")
    parser.add_argument("--no-client-comparison", action="store_true", help="skip the HTTP clients side by side")
    args = parser.parse_args()
    sizes = [int(x) for x in (args.sizes or ("50" if args.quick else "50,200,1000")).split(",")]
    latencies = [float(x) for x in args.latencies.split(",")]
    seq_latency = 0.1 if args.quick else 0.2
    loop_name = "uvloop" if use_uvloop() else "asyncio"
    http_name = http_client_choice()
    print(
        f"# evolve benchmark: W={W}, B={B}, S0 {SKILL_FILLER_LINES} filler lines, {loop_name} loop, "
        f"{http_name} HTTP client; {load_note()}",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold_cpu: float | None = None
        for latency in latencies:
            with server_process(latency, HANDLER) as url:
                # one small run first: imports, SDK set-up and schema building happen once per process
                _, _, warm_cpu = run_on_loop(run_once(make_home(root, 5, seed=1), url))
                cold_cpu = warm_cpu if cold_cpu is None else cold_cpu
                for n in sizes:
                    home = make_home(root, n, seed=n)
                    profiler = (
                        cProfile.Profile() if args.profile and n == sizes[-1] and latency == latencies[0] else None
                    )
                    if profiler:
                        profiler.enable()
                    served_cpu = server_cpu(url)
                    report, wall, cpu = run_on_loop(run_once(home, url))
                    served_cpu = server_cpu(url) - served_cpu
                    if profiler:
                        profiler.disable()
                        out = io.StringIO()
                        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
                        print(out.getvalue())
                    r = rounds_of(report, W)
                    bound = latency * sum(r.values())
                    per_traj, share = cache_share(report)
                    _, share_all = cache_share(report, ("analyse", "propose", "merge", "apply"))
                    rows.append(
                        {"N": n, "L": latency, "calls": report.calls, **r, "rounds": sum(r.values()), "bound": bound,
                         "wall": wall, "ratio": wall / bound, "cpu_ms": 1000 * cpu / report.calls,
                         "server_cpu_ms": 1000 * served_cpu / report.calls, "tok_per_traj": per_traj, "cache": share,
                         "cache_all": share_all}
                    )  # fmt: skip
                    row = rows[-1]
                    print(
                        f"N={n:5d} L={latency:.1f}s calls={report.calls:5d} rounds: analyse+propose="
                        f"{r['analyse+propose']} merge={r['merge']} apply={r['apply']} total={row['rounds']:3d} "
                        f"bound={bound:6.2f}s wall={wall:6.2f}s ratio={row['ratio']:.3f} "
                        f"cpu/call={row['cpu_ms']:.2f}ms server cpu/call={row['server_cpu_ms']:.2f}ms "
                        f"in/traj={per_traj:,.0f} cached={share:.1%} (all calls {share_all:.1%})",
                        flush=True,
                    )
        # the sequential baseline against the parallel pipeline at N = 50, same latency, same data
        with server_process(seq_latency, HANDLER) as url:
            run_on_loop(run_once(make_home(root, 5, seed=1), url))  # this server process's warm-up, as above
            par, par_wall, _ = run_on_loop(run_once(make_home(root, 50, seed=50), url))
            seq, seq_wall, _ = run_on_loop(run_once(make_home(root, 50, seed=50), url, strategy="sequential"))
        clients: list[dict[str, Any]] = []
        if not args.no_client_comparison:
            clients = client_comparison(root, 0.2, 50 if args.quick else 200, 1 if args.quick else 2)
        loops: list[dict[str, Any]] = []
        if not args.no_loop_comparison and importlib.util.find_spec("uvloop") is not None:
            loop_n = 50 if args.quick else 200
            loops = loop_comparison(root, 0.2, loop_n, 1 if args.quick else 2)
    par_rounds = sum(rounds_of(par, W).values())
    seq_rounds = sequential_rounds(seq)
    ideal = seq_rounds / par_rounds
    actual = seq_wall / par_wall
    share_of_ideal = actual / ideal

    print()
    print("| N | L (s) | calls | analyse+propose | merge | apply | rounds | bound (s) | wall (s) | wall/bound | "
          "CPU/call (ms) | server CPU/call (ms) | input tok/traj | cached |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['N']} | {row['L']:.1f} | {row['calls']} | {row['analyse+propose']} | {row['merge']} | "
            f"{row['apply']} | {row['rounds']} | {row['bound']:.2f} | {row['wall']:.2f} | {row['ratio']:.3f} | "
            f"{row['cpu_ms']:.2f} | {row['server_cpu_ms']:.2f} | {row['tok_per_traj']:,.0f} | {row['cache']:.1%} |"
        )
    print()
    print(
        f"sequential baseline at N=50, L={seq_latency}s: {seq_rounds} rounds in {seq_wall:.2f}s; parallel "
        f"{par_rounds} rounds in {par_wall:.2f}s; speed-up {actual:.2f}x of an ideal {ideal:.2f}x = "
        f"{share_of_ideal:.2f} of ideal"
    )
    print(
        f"start-up: the first (warm-up, N=5) run in this process took {cold_cpu or 0:.2f}s of CPU (imports, SDK set-up)"
    )
    if clients:
        print()
        n_cmp = clients[0]["n"]
        print(f"HTTP client side by side (N={n_cmp}, L=0.2 s, {loop_name} loop, alternating runs on one server):")
        print("| HTTP client | runs | CPU/call (ms), median | wall/bound, median |")
        print("|---|---:|---:|---:|")
        for name in HTTP_CLIENTS:
            mine = [r for r in clients if r["client"] == name]
            cpu_med = statistics.median(r["cpu_ms"] for r in mine)
            ratio_med = statistics.median(r["ratio"] for r in mine)
            print(f"| {name} | {len(mine)} | {cpu_med:.2f} | {ratio_med:.3f} |")
    if loops:
        print()
        print(f"event loop side by side (N={loops[0].get('n', '')}, L=0.2 s, alternating runs on one server):")
        print("| loop | runs | CPU/call (ms), median | wall/bound, median |")
        print("|---|---:|---:|---:|")
        for name in ("asyncio", "uvloop"):
            mine = [r for r in loops if r["loop"] == name]
            cpu_med = statistics.median(r["cpu_ms"] for r in mine)
            ratio_med = statistics.median(r["ratio"] for r in mine)
            print(f"| {name} | {len(mine)} | {cpu_med:.2f} | {ratio_med:.3f} |")
    print(f"machine: {load_note()}")

    def worst(latency: float) -> float:
        return max((r["ratio"] for r in rows if r["L"] == latency), default=float("nan"))

    cpu_max = max(r["cpu_ms"] for r in rows)
    result = {
        "ratio_L1.0_max": f"{worst(1.0):.3f}",
        "ratio_L0.2_max": f"{worst(0.2):.3f}",
        "cpu_ms_per_call": f"{cpu_max:.2f}",
        "seq_speedup_share": f"{share_of_ideal:.2f}",
        "input_tokens_per_traj": f"{rows[0]['tok_per_traj']:.0f}",
        "cache_share": f"{min(r['cache'] for r in rows):.3f}",
        "targets_ok": str(
            not worst(1.0) > 1.10 and not worst(0.2) > 1.30 and cpu_max <= 3.0 and share_of_ideal >= 0.85
        ),
        "event_loop": loop_name,
        "http_client": http_name,
    }
    for name in HTTP_CLIENTS:
        mine = [r for r in clients if r["client"] == name]
        if mine:
            result[f"cpu_ms_per_call_{name}"] = f"{statistics.median(r['cpu_ms'] for r in mine):.2f}"
            result[f"ratio_L0.2_{name}"] = f"{statistics.median(r['ratio'] for r in mine):.3f}"
    for name in ("asyncio", "uvloop"):
        mine = [r["cpu_ms"] for r in loops if r["loop"] == name]
        if mine:
            result[f"cpu_ms_per_call_{name}"] = f"{statistics.median(mine):.2f}"
    print("RESULT " + " ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
