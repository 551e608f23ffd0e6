"""Progress events of an evolution run.

The pipeline reports what it is doing through one plain callback so that every shell can render it
its own way: the CLI draws rich progress bars, the MCP server sends progress notifications. The
callback is called on the event loop and must return quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["STAGES", "ProgressCallback", "ProgressEvent", "StageCounter", "ignore_progress"]

STAGES = ("select", "draft", "analyse", "propose", "merge", "apply", "commit")
"""The stages in the order a run goes through them (`draft` only in create mode)."""


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """`done` of `total` units of `stage` are finished; `total` is None when not known yet."""

    stage: str
    done: int
    total: int | None
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def ignore_progress(event: ProgressEvent) -> None:
    """The default callback: drops every event."""


class StageCounter:
    """Counts finished units of one stage and reports each step to the callback."""

    __slots__ = ("_callback", "done", "stage", "total")

    def __init__(self, callback: ProgressCallback, stage: str, total: int | None, done: int = 0) -> None:
        self._callback = callback
        self.stage = stage
        self.total = total
        self.done = done
        callback(ProgressEvent(stage, done, total, "started"))

    def step(self, message: str = "", n: int = 1) -> None:
        self.done += n
        self._callback(ProgressEvent(self.stage, self.done, self.total, message))

    def finish(self, message: str = "done") -> None:
        if self.total is not None:
            self.done = self.total
        self._callback(ProgressEvent(self.stage, self.done, self.total, message))
