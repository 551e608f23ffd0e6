"""Ctrl-C during `trace2skill evolve`: the run is stored as `interrupted`, and the command says how to resume it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.doubles.llmserver import FakeLLMServer, Fault, ServerRequest
from tests.doubles.simulated import seeded_home, server_handler

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

N = 12


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return seeded_home(tmp_path / "home", N, seed=11, unfixable_every=9)


def test_ctrl_c_during_the_merge_leaves_the_run_interrupted_and_prints_the_resume_command(
    home: Path, server: FakeLLMServer
) -> None:
    merging = threading.Event()
    hang = True

    def handler(req: ServerRequest) -> Any:
        if "skill editor (merge)" in req.system and hang:
            merging.set()
            return Fault.hang(120)
        return server_handler(req)

    server.handler = handler
    model = f"anthropic:claude-sonnet-4-5@{server.url}"
    cmd = [sys.executable, "-c", "from trace2skill.cli import cli; cli()", "--home", str(home)]
    proc = subprocess.Popen(
        [*cmd, "evolve", "sheets", "--model", model], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert merging.wait(timeout=120), "the run never reached the merge"
        os.kill(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    ws = Workspace.open(Home(home))
    (run,) = ws.traces.list_runs(skill="sheets")
    run_id = run["run_id"]
    assert run["status"] == "interrupted" and "CancelledError" not in (run["error"] or "")
    assert len(ws.traces.analyses(run_id)) == N  # the analyses finished before Ctrl-C are kept
    ws.close()
    assert f"Interrupted: run {run_id} of sheets is saved with status interrupted ({N} analyses" in stderr
    assert f"trace2skill evolve sheets --resume {run_id}\n" in stderr
    assert "Traceback" not in stderr

    hang = False
    resumed = CliRunner().invoke(
        cli, ["--home", str(home), "evolve", "sheets", "--resume", run_id, "--model", model, "--json"]
    )
    assert resumed.exit_code == 0, resumed.output
    report = json.loads(resumed.stdout)
    assert report["run_id"] == run_id and report["resumed"] and report["status"] == "succeeded"
