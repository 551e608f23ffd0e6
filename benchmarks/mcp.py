"""Benchmark of the MCP server as a client meets it: calls/s of `record_trajectory` and `get_skill` over stdio,
side by side with a bare `echo` tool on the same SDK, in the same run.

Two servers are spawned once and kept for the whole run, each a real subprocess speaking stdio to a real
`mcp.Client`: `trace2skill serve` on a temporary home (one skill, `sheets`, published) and a ten-line
MCPServer with one async `echo` tool (written to a temporary file). Four workloads, each sequential
(one call at a time) and with 16 calls in flight on the one connection:

- `record_trajectory` with a 20-message run (user task, 9 tool calls with their results, a final
  answer; about 5 KB of JSON): parsed, redacted, stored, tied to the session's skill reads, counted;
- `echo` with the same run as its argument (the same bytes in, a short answer out): its baseline;
- `get_skill("sheets")`: the version in one query, manifest and SKILL.md cached by digest, one usage
  INSERT, SKILL.md sent once;
- `echo` with a short text: its baseline;
- `answer`: a bare tool returning, unchanged, one `get_skill` answer captured at start (the same
  SKILL.md text block, the same structured content, under get_skill's output schema, which the
  client validates). Not part of the target: it separates what any tool returning that answer
  costs (serialising it, the client validating it) from what `get_skill` itself adds.

The workloads are interleaved in rounds (every workload runs once per round) so that load from other
processes on this shared 2-core machine falls on all of them alike; each figure is total calls over
total wall time. Target: every ratio >= 0.8.

    python benchmarks/mcp.py [--quick] [--calls N] [--mode auto|legacy]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # this file is named mcp.py: run as a script, its folder would shadow the mcp package

from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.doubles

from tests.doubles.simulated import make_skill

from trace2skill.home import Home
from trace2skill.workspace import Workspace

TRACE2SKILL = Path(sys.executable).parent / "trace2skill"
IN_FLIGHT = 16
TARGET = 0.8
ANSWER = "answer (get_skill's, as is)"

ECHO_SERVER = '''
import json
import sys
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp_types import CallToolResult

from trace2skill.server.views import SkillView

server = MCPServer("echo")
ANSWER = CallToolResult.model_validate(json.loads(open(sys.argv[1]).read()))


@server.tool()
async def echo(text: str = "", payload: dict[str, Any] | None = None) -> str:
    """Answer with the text it was given."""
    return text


@server.tool()
async def answer() -> Annotated[CallToolResult, SkillView]:
    """Answer with the get_skill result captured at start."""
    return ANSWER


if __name__ == "__main__":
    server.run()
'''


def trajectory() -> dict[str, Any]:
    """A 20-message run: the task, 9 tool calls each with its result, and the final answer."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Sum column B of sales.xlsx into B20"}]
    for i in range(9):
        command = f"python inspect.py --sheet Sheet{i} --range B2:B19 --step {i}"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"Step {i}: checking the sheet before writing the total."},
                    {"type": "tool_call", "id": f"c{i}", "name": "bash", "arguments": {"command": command}},
                ],
            }
        )
        output = f"row {i}: " + ", ".join(f"B{r}={r * 17 % 101}" for r in range(2, 20))
        messages.append(
            {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": f"c{i}", "output": output}]}
        )
    messages.append({"role": "assistant", "content": "Done: B20 = SUM(B2:B19)."})
    return {
        "task": "Sum column B of sales.xlsx into B20",
        "skill": "sheets",
        "messages": messages,
        "outcome": {"status": "success", "score": 1.0},
        "tags": ["spreadsheet"],
        "metadata": {"agent": "bench", "model": "none"},
    }


def seed_home(root: Path) -> None:
    ws = Workspace.open(Home(root))
    try:
        ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    finally:
        ws.close()


Call = Callable[[], Awaitable[Any]]


def children_cpu() -> dict[str, float]:
    """CPU seconds used so far by this process's child processes, by command line (Linux /proc; {} elsewhere)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        out[cmdline] = (int(fields[11]) + int(fields[12])) / tick
    return out


def server_cpu(marker: str) -> float:
    return sum(cpu for cmdline, cpu in children_cpu().items() if marker in cmdline)


class Tally:
    """Wall, client CPU and server CPU seconds of one workload, summed over rounds."""

    def __init__(self) -> None:
        self.calls = 0
        self.wall = self.client_cpu = self.server_cpu = 0.0


async def timed(call: Call, n: int, in_flight: int, tally: Tally | None = None, server: str = "") -> None:
    """n calls, `in_flight` at a time (1: sequential), added to `tally`."""
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            result = await call()
            if getattr(result, "is_error", False):
                raise RuntimeError(f"a benchmark call failed: {result.content}")

    cpu, served, started = time.process_time(), server_cpu(server), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    if tally is not None:
        tally.calls += n
        tally.wall += time.perf_counter() - started
        tally.client_cpu += time.process_time() - cpu
        tally.server_cpu += server_cpu(server) - served


async def measure(calls: int, rounds: int, mode: str) -> dict[tuple[str, int], Tally]:
    """Wall and CPU of each (workload, in flight), over `rounds` interleaved rounds."""
    run = trajectory()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        seed_home(home)
        echo_script, answer_file = Path(tmp) / "echo_server.py", Path(tmp) / "get_skill_answer.json"
        echo_script.write_text(ECHO_SERVER)
        env = {**get_default_environment(), "TRACE2SKILL_HOME": str(home)}
        ours = StdioServerParameters(command=str(TRACE2SKILL), args=["serve", "--log-level", "WARNING"], env=env)
        bare = StdioServerParameters(
            command=sys.executable, args=[str(echo_script), str(answer_file)], env=get_default_environment()
        )
        async with Client(ours, mode=mode) as t2s:
            captured = await t2s.call_tool("get_skill", {"name": "sheets"})
            answer_file.write_text(captured.model_dump_json(by_alias=True, exclude_none=True))
            async with Client(bare, mode=mode) as echo:
                same = await echo.call_tool("answer", {})
                if (same.content, same.structured_content) != (captured.content, captured.structured_content):
                    raise RuntimeError("the bare tool's answer differs from get_skill's: the baseline would not match")
                return await _rounds(t2s, echo, run, calls, rounds)


async def _rounds(
    t2s: Client, echo: Client, run: dict[str, Any], calls: int, rounds: int
) -> dict[tuple[str, int], Tally]:
    """Every workload once per round, sequential and `IN_FLIGHT` at a time, after a warm-up."""
    workloads: dict[str, tuple[Call, str]] = {
        "record_trajectory": (lambda: t2s.call_tool("record_trajectory", {"trajectory": run}), "serve"),
        "echo (the same run in)": (lambda: echo.call_tool("echo", {"payload": run}), "echo_server"),
        "get_skill": (lambda: t2s.call_tool("get_skill", {"name": "sheets"}), "serve"),
        "echo (short text)": (lambda: echo.call_tool("echo", {"text": "sheets"}), "echo_server"),
        ANSWER: (lambda: echo.call_tool("answer", {}), "echo_server"),
    }
    for call, _ in workloads.values():  # warm up: imports, caches, the first SQLite pages
        await timed(call, 20, 1)
    tallies: dict[tuple[str, int], Tally] = {}
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for in_flight in (1, IN_FLIGHT):
            for name, (call, server) in workloads.items():
                tally = tallies.setdefault((name, in_flight), Tally())
                await timed(call, per_round, in_flight, tally, server)
    return tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer calls (well under a minute)")
    parser.add_argument("--calls", type=int, default=None, help="calls per workload and concurrency")
    parser.add_argument("--mode", default="auto", help="client mode: auto (2026-07-28) or legacy (2025-11-25)")
    args = parser.parse_args()
    calls = args.calls or (300 if args.quick else 3000)
    rounds = 3 if args.quick else 10
    load = os.getloadavg()
    tallies = asyncio.run(measure(calls, rounds, args.mode))
    rate = {key: t.calls / t.wall for key, t in tallies.items()}

    print(f"# MCP server over stdio vs a bare echo tool (mcp SDK, client mode {args.mode})")
    print(f"# 2-core machine shared with other work; load avg {load[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    print(f"# {calls} calls per row, in {rounds} interleaved rounds; CPU ms per call of the client (this process,")
    print("# which also validates each result against the tool's output schema) and of the server process\n")
    pairs = [("record_trajectory", "echo (the same run in)"), ("get_skill", "echo (short text)"), ("get_skill", ANSWER)]
    head = ["tool", "in flight", "calls/s", "client ms", "server ms", "baseline", "calls/s", "client ms",
            "server ms", "ratio"]  # fmt: skip
    widths = [18, 9, 8, 9, 9, 26, 8, 9, 9, 6]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    ratios: dict[tuple[str, int], float] = {}

    def cpu(key: tuple[str, int]) -> list[str]:
        t = tallies[key]
        return [f"{rate[key]:.0f}", f"{1000 * t.client_cpu / t.calls:.2f}", f"{1000 * t.server_cpu / t.calls:.2f}"]

    for tool, baseline in pairs:
        for in_flight in (1, IN_FLIGHT):
            ratio = rate[tool, in_flight] / rate[baseline, in_flight]
            ratios[baseline, in_flight] = ratio
            cells = [
                tool,
                str(in_flight),
                *cpu((tool, in_flight)),
                baseline,
                *cpu((baseline, in_flight)),
                f"{ratio:.2f}",
            ]
            print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    targeted = [ratio for (baseline, _), ratio in ratios.items() if baseline != ANSWER]  # the two pairs
    ok = min(targeted) >= TARGET

    def cpu_ratio(tool: str, baseline: str) -> float:
        """Echo's client + server CPU per call over the tool's: the ratio the load of other processes moves least."""
        mine, base = tallies[tool, 1], tallies[baseline, 1]
        return ((base.client_cpu + base.server_cpu) / base.calls) / ((mine.client_cpu + mine.server_cpu) / mine.calls)

    record_cpu, get_cpu = cpu_ratio(*pairs[0]), cpu_ratio(*pairs[1])
    print(f"\nCPU ratio (sequential): record_trajectory {record_cpu:.2f}, get_skill {get_cpu:.2f}")
    print(f"Target {TARGET}x on the first four rows; the last two: get_skill beside a bare tool returning its answer")
    print(
        f"RESULT mode={args.mode} calls={calls} "
        f"record_per_s={rate['record_trajectory', 1]:.0f} record_per_s_16={rate['record_trajectory', IN_FLIGHT]:.0f} "
        f"get_skill_per_s={rate['get_skill', 1]:.0f} get_skill_per_s_16={rate['get_skill', IN_FLIGHT]:.0f} "
        f"echo_run_per_s={rate['echo (the same run in)', 1]:.0f} "
        f"echo_run_per_s_16={rate['echo (the same run in)', IN_FLIGHT]:.0f} "
        f"echo_short_per_s={rate['echo (short text)', 1]:.0f} "
        f"echo_short_per_s_16={rate['echo (short text)', IN_FLIGHT]:.0f} "
        f"answer_per_s={rate[ANSWER, 1]:.0f} answer_per_s_16={rate[ANSWER, IN_FLIGHT]:.0f} "
        f"record_ratio={ratios['echo (the same run in)', 1]:.2f} "
        f"record_ratio_16={ratios['echo (the same run in)', IN_FLIGHT]:.2f} "
        f"get_skill_ratio={ratios['echo (short text)', 1]:.2f} "
        f"get_skill_ratio_16={ratios['echo (short text)', IN_FLIGHT]:.2f} "
        f"get_skill_vs_answer={ratios[ANSWER, 1]:.2f} get_skill_vs_answer_16={ratios[ANSWER, IN_FLIGHT]:.2f} "
        f"record_cpu_ratio={record_cpu:.2f} get_skill_cpu_ratio={get_cpu:.2f} "
        f"target={TARGET} ok={ok} load_avg={load[0]:.1f}"
    )


if __name__ == "__main__":
    main()
