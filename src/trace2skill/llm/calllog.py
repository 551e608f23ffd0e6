"""The call log: one record per LLM call, written in batches to a sink such as `TraceStore.log_calls`.

Batching keeps logging off the hot path: the sink (one SQLite transaction) runs once per
`flush_every` records, when `flush_interval` seconds have passed since the last write (so slow runs
still log steadily), and at `flush()`/`aclose()`; not once per call. A crash loses at most the
records of the current batch. Records are plain dicts with exactly `CALL_LOG_KEYS`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from trace2skill.models import CALL_LOG_FIELDS

__all__ = ["CALL_LOG_KEYS", "CallLogBuffer", "CallLogSink"]

log = logging.getLogger(__name__)

CALL_LOG_KEYS = CALL_LOG_FIELDS

CallLogSink = Callable[[list[dict[str, Any]]], Any]


class CallLogBuffer:
    """Collects records and hands them to the sink in batches. A failing sink keeps its records for the next flush."""

    def __init__(self, sink: CallLogSink, flush_every: int = 64, flush_interval: float = 5.0) -> None:
        self.sink = sink
        self.flush_every = max(1, flush_every)
        self.flush_interval = flush_interval
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(record)
            due = len(self._pending) >= self.flush_every or time.monotonic() - self._last >= self.flush_interval
        if due:
            self.flush(raise_errors=False)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self, *, raise_errors: bool = True) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._last = time.monotonic()
        if not batch:
            return
        try:
            self.sink(batch)
        except Exception:
            with self._lock:
                self._pending[:0] = batch
            if raise_errors:
                raise
            log.warning("call log sink failed; keeping %d records for the next flush", len(batch), exc_info=True)
