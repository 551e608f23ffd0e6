"""benchmarks/mcp.py runs end to end (real stdio servers, a real client) and ends with its RESULT line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mcp.py"
KEYS = (
    "record_per_s", "record_per_s_16", "get_skill_per_s", "get_skill_per_s_16", "echo_run_per_s",
    "echo_short_per_s", "record_ratio", "record_ratio_16", "get_skill_ratio", "get_skill_ratio_16",
    "record_cpu_ratio", "get_skill_cpu_ratio", "answer_per_s", "get_skill_vs_answer", "get_skill_vs_answer_16",
)  # fmt: skip


def test_the_quick_benchmark_prints_its_table_and_a_result_line_with_every_ratio() -> None:
    # --quick with fewer calls: the same code path (both servers, every workload, both concurrencies) in seconds
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--calls", "48"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith("| record_trajectory  | 16") for line in lines)
    assert any(line.startswith("| get_skill          | 1 ") for line in lines)
    assert any("answer (get_skill's, as is)" in line for line in lines)  # the same answer from a bare tool
    assert lines[-1].startswith("RESULT ")
    fields = dict(item.split("=", 1) for item in lines[-1].split()[1:])
    assert all(float(fields[key]) > 0 for key in KEYS)
    assert fields["target"] == "0.8" and fields["ok"] in ("True", "False")
