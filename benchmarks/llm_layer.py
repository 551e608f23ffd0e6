"""Benchmark of the LLM layer: client CPU per call, and achieved concurrency under latency.

1. CPU per call: N calls (16 in flight) against the fake server running in its own process with no
   latency, so only the client's work is measured (time.process_time in this process). Side by
   side: raw httpx2 posts (the floor: HTTP and JSON alone), the SDKs' documented calls
   (`messages.create`, `chat.completions.create`) on each HTTP client the SDKs support (their
   aiohttp client `DefaultAioHttpClient` and their stock httpx2 client), and the full layer (SDK +
   retries, budget, prices, accounting, call log batched into a real SQLite file) on each client,
   with and without the response cache; all of it on the standard asyncio loop and on uvloop (when
   installed). Target: <= 2 ms per call through the layer.
2. Concurrency: the layer with concurrency=64 against a server adding 200 ms to every answer, on
   each HTTP client. The server's own in-flight integral gives the mean in flight over the whole run
   (ramp-up and drain included) and over the steady window (from the first time 64 were in flight to
   the last arrival); Σ(call latency)/wall is the client's view. Target: >= 0.9 * 64 (judged on the
   steady window). The machine has 2 cores shared with other work: client, server and neighbours
   compete for CPU, and every millisecond a response waits for a busy event loop lowers the figure.

    python benchmarks/llm_layer.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.doubles

from tests.doubles.llmserver.process import server_call, server_process

from trace2skill.llm import LLM, Budget, ChatMessage, ChatRequest, Price, PriceTable, RetryPolicy
from trace2skill.llm.anthropic_provider import AnthropicProvider
from trace2skill.llm.eventloop import use_uvloop
from trace2skill.llm.openai_provider import OpenAIProvider
from trace2skill.llm.provider import HTTP_CLIENTS, SDKProvider

SYSTEM = ("You are an analyst. The skill under study follows.\n" + "## Section\nDo the thing carefully. " * 300)[:8000]
USER = ("Trajectory: step 1 ran `python inspect.py` and failed with KeyError 'Sheet1'. " * 100)[:8000]
PRICES = PriceTable({"anthropic:bench": Price(3, 15, 0.3, 3.75), "openai:bench": Price(1, 4, 0.25)})


HANDLER = "tests.doubles.llmserver.handlers:ok"
DEFAULT_CLIENT = HTTP_CLIENTS[0]


def provider(protocol: str, url: str, http: str) -> SDKProvider:
    if protocol == "anthropic":
        return AnthropicProvider("bench", base_url=url, api_key="k", http=http)
    return OpenAIProvider("bench", base_url=url + "/v1", api_key="k", http=http)


def sqlite_sink(path: Path) -> Callable[[list[dict[str, Any]]], None]:
    """The trace store's `log_calls` when present; else an equivalent one-transaction-per-batch SQLite writer."""
    try:
        from trace2skill.store import TraceStore, open_database

        return TraceStore(open_database(path)).log_calls
    except ImportError:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE llm_calls (record TEXT)")

        def write(records: list[dict[str, Any]]) -> None:
            with db:
                db.executemany("INSERT INTO llm_calls VALUES (?)", [(json.dumps(r),) for r in records])

        return write


async def run_calls(call: Callable[[int], Awaitable[Any]], n: int, in_flight: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for n calls with `in_flight` workers."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await call(i)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.process_time() - cpu, time.perf_counter() - wall


def request(i: int) -> ChatRequest:
    return ChatRequest(
        model="bench",
        system=SYSTEM,
        messages=[ChatMessage(role="user", content=f"{i}: {USER}")],
        max_tokens=256,
        purpose="bench",
        run_id="bench",
    )


async def cpu_rows(url: str, n: int, tmp: Path, profile: bool) -> tuple[list[dict[str, Any]], str]:
    rows: list[dict[str, Any]] = []
    profile_text = ""
    warm = max(50, n // 10)

    async def measure(name: str, protocol: str, call: Callable[[int], Awaitable[Any]]) -> None:
        await run_calls(call, warm, 16)
        cpu, wall = await run_calls(lambda i: call(i + warm), n, 16)
        rows.append({"path": name, "protocol": protocol, "calls": n, "cpu_ms": cpu / n * 1000, "calls_per_s": n / wall})

    http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=64, max_keepalive_connections=64))
    body_a = {"model": "bench", "max_tokens": 256, "system": SYSTEM}
    body_o = {"model": "bench", "max_tokens": 256}

    async def raw_anthropic(i: int) -> None:
        r = await http.post(
            url + "/v1/messages", json={**body_a, "messages": [{"role": "user", "content": f"{i}: {USER}"}]}
        )
        r.json()

    async def raw_openai(i: int) -> None:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{i}: {USER}"}]
        r = await http.post(url + "/v1/chat/completions", json={**body_o, "messages": messages})
        r.json()

    def direct(protocol: str, client: str) -> tuple[Callable[[int], Awaitable[Any]], Any]:
        """The SDK's own call on the SDK's own HTTP client of the given kind, as the providers build it."""
        sdk = provider(protocol, url, client).client()
        if protocol == "anthropic":

            async def call(i: int) -> None:
                await sdk.messages.create(
                    model="bench", max_tokens=256, system=SYSTEM, messages=[{"role": "user", "content": f"{i}: {USER}"}]
                )

        else:

            async def call(i: int) -> None:
                messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": f"{i}: {USER}"}]
                await sdk.chat.completions.create(model="bench", max_tokens=256, messages=messages)

        return call, sdk

    def layer(protocol: str, client: str, cache: bool) -> LLM:
        return LLM(
            provider(protocol, url, client),
            concurrency=64,
            retry=RetryPolicy(),
            budget=Budget(usd=1e9),
            prices=PRICES,
            call_log=sqlite_sink(tmp / f"calls-{protocol}-{client}-{cache}.db"),
            cache=tmp / f"cache-{protocol}-{client}" if cache else None,
        )

    for protocol, raw in (("anthropic", raw_anthropic), ("openai", raw_openai)):
        await measure("raw httpx2 post", protocol, raw)
        for client in HTTP_CLIENTS:
            call, sdk = direct(protocol, client)
            await measure(f"SDK direct, {client}", protocol, call)
            await sdk.close()
            llm = layer(protocol, client, cache=False)
            await measure(f"LLM layer + call log, {client}", protocol, lambda i, llm=llm: llm.chat(request(i)))
            if profile and protocol == "anthropic" and client == DEFAULT_CLIENT:
                prof = cProfile.Profile()
                prof.enable()
                await run_calls(lambda i, llm=llm: llm.chat(request(10**6 + i)), n, 16)
                prof.disable()
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(30)
                profile_text = out.getvalue()
            await llm.aclose()
            llm = layer(protocol, client, cache=True)
            await measure(f"LLM layer + call log + cache, {client}", protocol, lambda i, llm=llm: llm.chat(request(i)))
            await llm.aclose()
    await http.aclose()
    return rows, profile_text


async def concurrency_row(url: str, calls: int, limit: int, protocol: str, client: str) -> dict[str, Any]:
    llm = LLM(provider(protocol, url, client), concurrency=limit, prices=PRICES)
    await asyncio.gather(*(llm.chat(request(i)) for i in range(limit)))  # warm the connection pool
    server_call(url, "/_reset", "POST")
    server_cpu = server_call(url, "/_stats")["server_cpu_s"]
    wall = time.perf_counter()
    responses = await asyncio.gather(*(llm.chat(request(i)) for i in range(calls)))
    wall = time.perf_counter() - wall
    stats = server_call(url, "/_stats")
    await llm.aclose()
    return {
        "protocol": protocol,
        "client": client,
        "calls": calls,
        "limit": limit,
        "server_mean_in_flight": stats["mean_in_flight"],
        "steady_mean_in_flight": stats["steady_mean_in_flight"],
        "server_cpu_ms": (stats["server_cpu_s"] - server_cpu) / calls * 1000,
        "server_max_in_flight": stats["max_in_flight"],
        "client_latency_over_wall": sum(r.latency_s for r in responses) / wall,
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer calls (under a minute)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the layer's hot path")
    parser.add_argument("--calls", type=int, default=None)
    args = parser.parse_args()
    n = args.calls or (400 if args.quick else 3000)
    concurrent_calls = 64 * (10 if args.quick else 30)
    load = os.getloadavg()

    loops: dict[str, Callable[[Any], Any]] = {"asyncio": asyncio.run}
    if use_uvloop():
        import uvloop

        loops["uvloop"] = uvloop.run
    main_loop = "uvloop" if "uvloop" in loops else "asyncio"  # the loop the CLI runs on
    rows: list[dict[str, Any]] = []
    profile_text = ""
    with tempfile.TemporaryDirectory() as tmp, server_process(0.0, HANDLER) as url:
        for loop, run in loops.items():
            found, text = run(cpu_rows(url, n, Path(tmp) / loop, args.profile and loop == main_loop))
            rows += [{**r, "loop": loop} for r in found]
            profile_text = profile_text or text
    with server_process(0.2, HANDLER) as url:
        conc = [
            loops[main_loop](concurrency_row(url, concurrent_calls, 64, protocol, client))
            for client in HTTP_CLIENTS
            for protocol in ("anthropic", "openai")
        ]

    print(f"# LLM layer benchmark (2-core machine shared with other work; load avg {load[0]:.1f} at start)")
    print(f"# request: {len(SYSTEM)} B system + {len(USER)} B user message; 16 calls in flight\n")
    head = ["path", "protocol", "loop", "calls", "client CPU ms/call", "vs raw httpx2", "calls/s"]
    widths = [38, 9, 7, 6, 18, 13, 8]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    floor = {(r["protocol"], r["loop"]): r["cpu_ms"] for r in rows if r["path"] == "raw httpx2 post"}
    for r in sorted(rows, key=lambda r: (r["protocol"], r["loop"] != "asyncio")):
        ratio = r["cpu_ms"] / floor[r["protocol"], r["loop"]]
        print(
            f"| {r['path']:<38} | {r['protocol']:<9} | {r['loop']:<7} | {r['calls']:>6} | {r['cpu_ms']:>18.3f} "
            f"| {ratio:>12.2f}x | {r['calls_per_s']:>8.0f} |"
        )
    print()
    print(f"# concurrency: limit 64, 200 ms added by the server to every answer ({main_loop} loop)")
    head = ["protocol", "client", "calls", "mean in flight (whole run)", "ratio", "steady mean in flight", "ratio",
            "max", "Σlatency/wall", "server CPU ms/req"]  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("-" * (len(h) + 2) for h in head) + "|")
    for c in conc:
        cells = [
            c["protocol"], c["client"], str(c["calls"]), f"{c['server_mean_in_flight']:.1f}",
            f"{c['server_mean_in_flight'] / c['limit']:.2f}", f"{c['steady_mean_in_flight']:.1f}",
            f"{c['steady_mean_in_flight'] / c['limit']:.2f}", str(c["server_max_in_flight"]),
            f"{c['client_latency_over_wall']:.1f}", f"{c['server_cpu_ms']:.2f}",
        ]  # fmt: skip
        print("| " + " | ".join(cell.rjust(len(h)) for cell, h in zip(cells, head, strict=True)) + " |")
    if profile_text:
        print("\n# cProfile of the layer (anthropic), cumulative\n" + profile_text)

    def pick(path: str, loop: str = main_loop) -> dict[str, float]:
        return {r["protocol"]: r["cpu_ms"] for r in rows if r["path"] == path and r["loop"] == loop}

    def steady_of(protocol: str, client: str = DEFAULT_CLIENT) -> float:
        return next(c["steady_mean_in_flight"] for c in conc if c["protocol"] == protocol and c["client"] == client)

    layer = pick(f"LLM layer + call log, {DEFAULT_CLIENT}")
    cached = pick(f"LLM layer + call log + cache, {DEFAULT_CLIENT}")
    standard = pick(f"LLM layer + call log, {DEFAULT_CLIENT}", "asyncio")
    other = HTTP_CLIENTS[1]
    layer_other = pick(f"LLM layer + call log, {other}")
    mine = [c for c in conc if c["client"] == DEFAULT_CLIENT]
    whole = min(c["server_mean_in_flight"] / c["limit"] for c in mine)
    steady = min(c["steady_mean_in_flight"] / c["limit"] for c in mine)
    steady_other = min(c["steady_mean_in_flight"] / c["limit"] for c in conc if c["client"] == other)
    print(
        f"RESULT http_client={DEFAULT_CLIENT} cpu_ms_per_call_anthropic={layer['anthropic']:.3f} "
        f"cpu_ms_per_call_openai={layer['openai']:.3f} "
        f"cpu_ms_per_call_with_cache_anthropic={cached['anthropic']:.3f} "
        f"cpu_ms_per_call_with_cache_openai={cached['openai']:.3f} "
        f"cpu_target_ms=2.0 cpu_ok={max(layer.values()) <= 2.0} "
        f"steady_in_flight_anthropic={steady_of('anthropic'):.1f} "
        f"steady_in_flight_openai={steady_of('openai'):.1f} concurrency_limit=64 "
        f"concurrency_ratio_steady={steady:.3f} concurrency_ratio_whole_run={whole:.3f} concurrency_ok={steady >= 0.9} "
        f"event_loop={main_loop} cpu_ms_per_call_anthropic_asyncio={standard['anthropic']:.3f} "
        f"cpu_ms_per_call_openai_asyncio={standard['openai']:.3f} "
        f"cpu_ms_per_call_anthropic_{other}={layer_other['anthropic']:.3f} "
        f"cpu_ms_per_call_openai_{other}={layer_other['openai']:.3f} "
        f"concurrency_ratio_steady_{other}={steady_other:.3f}"
    )


if __name__ == "__main__":
    main()
