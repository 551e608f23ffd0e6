"""From evolve progress events to MCP progress notifications.

The pipeline calls a plain callback (`ProgressEvent(stage, done, total, message)`) and expects it to
return at once; it runs on a loop of its own (`server.background`), which hands each event to the
server's loop in order, where this callback runs. MCP progress is an async send whose value must increase with
every notification. The bridge keeps one fraction per stage (analyse and propose interleave, so they
share one slot), sums them into a single number that can only grow, and hands each increase to a
sender task through an unbounded stream, in order.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

from trace2skill.evolve.progress import ProgressEvent

__all__ = ["ProgressBridge", "bridge_progress"]

log = logging.getLogger(__name__)

SendProgress = Callable[[float, float | None, str | None], Awaitable[None]]

_GROUPS = {"select": 0, "draft": 1, "analyse": 2, "propose": 2, "merge": 3, "apply": 4, "commit": 5}
_STARTED = 0.05
"""The share of a stage counted as soon as it starts, so the client sees it begin."""


class ProgressBridge:
    """Sums per-stage fractions into one increasing progress value out of `total` units."""

    def __init__(self, mode: str) -> None:
        self.groups = sorted({g for s, g in _GROUPS.items() if mode == "create" or s != "draft"})
        self.total = float(len(self.groups))
        self.fractions: dict[str, float] = {}
        self.current_group = -1
        self.last = 0.0

    def _fraction(self, event: ProgressEvent) -> float:
        if event.total is None:
            return _STARTED
        if event.total <= 0:
            return 1.0
        return _STARTED + (1 - _STARTED) * min(event.done, event.total) / event.total

    def _value(self) -> float:
        value = 0.0
        for group in self.groups:
            if group < self.current_group:
                value += 1.0
            elif group == self.current_group:
                members = [s for s, g in _GROUPS.items() if g == group]
                value += sum(self.fractions.get(s, 0.0) for s in members) / len(members)
        return value

    def update(self, event: ProgressEvent) -> tuple[float, float, str] | None:
        """The notification this event calls for, or None when progress did not grow."""
        if event.stage == "done":
            value = self.total
        elif event.stage in _GROUPS:
            group = _GROUPS[event.stage]
            self.current_group = max(self.current_group, group)
            if group == self.current_group:
                self.fractions[event.stage] = max(self.fractions.get(event.stage, 0.0), self._fraction(event))
            value = min(self._value(), self.total - 0.01)
        else:
            return None
        if value <= self.last:
            return None
        self.last = value
        of = f" {event.done}/{event.total}" if event.total is not None and event.stage != "done" else ""
        text = f"{event.stage}{of}" + (f": {event.message}" if event.message else "")
        return value, self.total, text


@asynccontextmanager
async def bridge_progress(send: SendProgress, mode: str) -> AsyncIterator[Callable[[ProgressEvent], None]]:
    """Yield a progress callback for the pipeline; notifications go out in order through `send`.

    A client that stops listening does not stop the run: send failures are logged and dropped.
    """
    bridge = ProgressBridge(mode)
    sender, receiver = anyio.create_memory_object_stream[tuple[float, float, str]](math.inf)

    def callback(event: ProgressEvent) -> None:
        note = bridge.update(event)
        if note is not None:
            sender.send_nowait(note)

    async def pump() -> None:
        async with receiver:
            async for value, total, text in receiver:
                try:
                    await send(value, total, text)
                except Exception as e:  # a vanished client must not fail the evolution
                    log.info("progress notification dropped: %s", e)

    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(pump)
        try:
            yield callback
        except Exception as e:  # re-raised below as itself, not wrapped in an ExceptionGroup
            failure = e
        finally:
            sender.close()
    if failure is not None:
        raise failure
