"""Run records: starting, finding a run to resume, and saving results without stalling the loop.

Resume rule (documented for users): `evolve --resume RUN` continues that run with its recorded
configuration and trajectory list. Without `--resume`, the newest unfinished run of the same skill
(status `running`, `failed` or `interrupted`) is resumed automatically when its fingerprint matches: the same
configuration (all settings except workers and budgets, which do not change results) and the same
base version of the skill. `--fresh` always starts a new run. A resumed run keeps the trajectory
list it started with; trajectories recorded since then feed the next run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from trace2skill.models import EvolutionConfig
from trace2skill.store import TraceStore, new_id, write_transaction

__all__ = ["RESUMABLE", "Persister", "config_fingerprint", "find_resumable", "new_run_id", "resume_command"]

RESUMABLE = frozenset({"running", "failed", "interrupted"})
"""Statuses of a run whose saved work `evolve --resume` (or the same command again) continues.

`interrupted`: stopped by Ctrl-C or a cancellation, with everything finished so far saved."""
_NOT_RESULT_CHANGING = {"workers", "budget_usd", "budget_tokens", "price", "replace_existing"}


def new_run_id() -> str:
    return new_id("r_")


def resume_command(skill: str, run_id: str) -> str:
    """The exact command that continues a run."""
    return f"trace2skill evolve {skill} --resume {run_id}"


def config_fingerprint(config: EvolutionConfig, base_version: int | None) -> str:
    """What must match for an earlier run's saved work to be reused."""
    data = config.model_dump(mode="json", exclude=_NOT_RESULT_CHANGING)
    blob = json.dumps({"config": data, "base_version": base_version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def find_resumable(store: TraceStore, skill: str, fingerprint: str) -> dict[str, Any] | None:
    """The newest unfinished run of `skill` with this fingerprint, if the newest unfinished one matches."""
    for run in store.list_runs(skill=skill, limit=20):
        if run.get("status") in RESUMABLE:
            return run if run.get("config", {}).get("fingerprint") == fingerprint else None
    return None


class Persister:
    """Saves analyses and patches in batches from a worker thread, so the event loop never waits on disk.

    Items queue up while a batch is being written; each batch is one transaction. `flush()` waits
    until everything queued so far is on disk.
    """

    def __init__(self, store: TraceStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.written = 0

    def analysis(self, trajectory_id: str, kind: str, result: dict[str, Any]) -> None:
        self._queue("analysis", (trajectory_id, kind, result))

    def patch(self, level: int, index: int, record: dict[str, Any]) -> None:
        self._queue("patch", (level, index, record))

    def _queue(self, what: str, args: tuple[Any, ...]) -> None:
        self._pending.append((what, args))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, batch)
            except BaseException:
                self._pending[:0] = batch  # keep them for the next attempt
                raise
            self.written += len(batch)

    def _write(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        store, run_id = self.store, self.run_id
        with write_transaction(store.db):
            for what, args in batch:
                if what == "analysis":
                    store.save_analysis(run_id, *args)
                else:
                    store.save_patch(run_id, *args)

    async def flush(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self._writer is not None and self._writer.done() and not self._writer.cancelled():
            self._writer.result()  # surface a failed write
        if self._pending:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
            await self._writer
