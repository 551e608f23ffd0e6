"""The protocol server in its own process, for benchmarks: its CPU is then not the client's."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["server_call", "server_process"]


@contextmanager
def server_process(latency: float, handler: str) -> Iterator[str]:
    """Start `python -m trace2skill.llm.testserver` answering with `handler` ('module:function'); yield its URL."""
    cmd = [sys.executable, "-m", "trace2skill.llm.testserver", "--port", "0", "--latency", str(latency),
           "--no-record", "--handler", handler]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
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
