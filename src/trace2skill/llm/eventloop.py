"""Which event loop the entry points run on: uvloop when it is installed, else asyncio's own.

An evolution keeps a hundred or more LLM calls in flight on one thread, so the loop's own cost per
socket event shows in the client's CPU per call; uvloop (libuv, in C) spends less of it. It is an
optional speed-up: the library works the same on the standard loop, and `TRACE2SKILL_EVENT_LOOP=asyncio`
forces that one. Library functions that are handed a running loop (the MCP server's) use that loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["ENV", "anyio_run_options", "run", "use_uvloop"]

T = TypeVar("T")

ENV = "TRACE2SKILL_EVENT_LOOP"
"""`asyncio` forces the standard event loop; `uvloop` (the default when installed) asks for uvloop."""


def use_uvloop() -> bool:
    """True when uvloop is installed and not turned off through TRACE2SKILL_EVENT_LOOP."""
    if os.environ.get(ENV, "").strip().lower() == "asyncio":
        return False
    return importlib.util.find_spec("uvloop") is not None


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on uvloop when available."""
    if use_uvloop():
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def anyio_run_options() -> dict[str, Any]:
    """Keyword arguments for `anyio.run` that choose the same loop as `run`."""
    return {"backend": "asyncio", "backend_options": {"use_uvloop": use_uvloop()}}
