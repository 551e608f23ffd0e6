"""The protocol server in its own process, for benchmarks: its CPU is then not the client's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["server_call", "server_process"]

ROOT = Path(__file__).resolve().parents[3]
"""The repository root: the server process imports `tests.doubles` (and a handler there) from it."""


@contextmanager
def server_process(latency: float, handler: str) -> Iterator[str]:
    """Start `python -m tests.doubles.llmserver` answering with `handler` ('module:function'); yield its URL."""
    cmd = [sys.executable, "-m", "tests.doubles.llmserver", "--port", "0", "--latency", str(latency),
           "--no-record", "--handler", handler]  # fmt: skip
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path})
    try:
        assert proc.stdout is not None  # opened with stdout=PIPE
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the protocol server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def server_call(url: str, path: str, method: str = "GET") -> dict[str, Any]:
    """One of the server's own endpoints: `GET /_stats`, `POST /_reset`."""
    with urllib.request.urlopen(urllib.request.Request(url + path, method=method)) as r:
        return json.load(r)
