"""Evolutions the server runs: each on its own event loop in its own thread, owned by the server.

An evolution does store and file work between its model calls (selecting runs, saving analyses and
patches, writing and publishing the new version, the report and the call log) through synchronous
SQLite and file calls. On the server's event loop that work would stall every other request, so
each evolution runs on an event loop of its own in a worker thread (`Engine`); only its progress
events, its run id and its end cross back to the server's loop (`loop.call_soon_threadsafe`), and
the client's model through MCP sampling is asked on the server's loop, where its session lives.

`Evolutions` belongs to the server object, not to a request or a connection:

- `evolve_skill` waits for its evolution, or answers at once with the run id (`background: true`);
  either way the evolution is listed here with its live progress, for `evolution_status`,
  `cancel_evolution` and the `run://…/report` resource.
- A background evolution keeps going when the client that started it disconnects, and keeps the
  workspace open until it ends (`server.state.WorkspaceKeeper`).
- Cancelling (`cancel_evolution`, or the server shutting down) cancels the run's task on its own
  loop: the pipeline saves what finished and records the run `interrupted`, which resumes
  (`trace2skill evolve NAME --resume RUN`, or evolve_skill again with the same settings).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

from trace2skill.errors import Conflict, Trace2SkillError
from trace2skill.evolve import evolve_async
from trace2skill.evolve.progress import ProgressCallback, ProgressEvent
from trace2skill.llm import Budget, open_llm
from trace2skill.llm.eventloop import run as run_loop
from trace2skill.llm.sampling import CreateMessage
from trace2skill.llm.types import ChatRequest, ChatResponse
from trace2skill.models import EvolutionConfig, EvolutionReport
from trace2skill.server.state import AppState, WorkspaceKeeper
from trace2skill.server.uris import run_report_uri, skill_file_uri

__all__ = ["Engine", "Evolution", "EvolutionCancelled", "Evolutions", "RunProgress", "summary_line"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class EvolutionCancelled(Trace2SkillError):
    """The evolution was cancelled on its own loop (cancel_evolution or shutdown); the store has its record."""


class Engine(Generic[T]):
    """One coroutine on an event loop of its own, in a daemon thread; its end is announced on the server's loop.

    `start` must be called on the server's loop. Everything `call_home` is given runs there, in order;
    once that loop has closed it is dropped (the thread still finishes its work and its records).
    """

    def __init__(self, main: Callable[[], Coroutine[Any, Any, T]], *, name: str) -> None:
        self._main = main
        self._name = name
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[T] | None = None
        self._cancelled = False
        self._home: asyncio.AbstractEventLoop | None = None
        self._finished = anyio.Event()
        self._on_finish: list[Callable[[], None]] = []
        self._result: T | None = None
        self._error: BaseException | None = None

    def start(self, on_finish: Callable[[], None] | None = None) -> None:
        self._home = asyncio.get_running_loop()
        if on_finish is not None:
            self._on_finish.append(on_finish)
        threading.Thread(target=self._thread, name=self._name, daemon=True).start()

    def call_home(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the server's loop, in the order of the calls."""
        assert self._home is not None, "start() first"
        try:
            self._home.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the server's loop has closed: nobody is left to tell
            pass

    def _thread(self) -> None:
        try:
            self._result = run_loop(self._inner())
        except BaseException as e:  # reported to whoever waits, on the server's loop
            self._error = e
        finally:
            self.call_home(self._finish)

    def _finish(self) -> None:
        self._finished.set()
        for callback in self._on_finish:
            callback()

    async def _inner(self) -> T:
        with self._guard:
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
            cancelled = self._cancelled
        if cancelled:
            raise asyncio.CancelledError
        return await self._main()

    def cancel(self) -> None:
        """Cancel the coroutine on its own loop (or before it starts); `wait` tells when it has ended."""
        with self._guard:
            self._cancelled = True
            if self._loop is not None and self._task is not None:
                try:
                    self._loop.call_soon_threadsafe(self._task.cancel)
                except RuntimeError:  # its loop has already ended
                    pass

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    async def wait(self) -> T:
        """The coroutine's result, or its exception (`EvolutionCancelled` when it was cancelled).

        Cancelling the wait cancels the coroutine too, and still waits until it has ended (it saves
        its work and records how it stopped), so nothing is left running behind a cancelled request."""
        try:
            await self._finished.wait()
        except anyio.get_cancelled_exc_class():
            self.cancel()
            with anyio.CancelScope(shield=True):
                await self._finished.wait()
            raise
        if isinstance(self._error, asyncio.CancelledError | KeyboardInterrupt):
            raise EvolutionCancelled("the evolution was cancelled (cancel_evolution, or the server stopping)")
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]


@dataclass
class RunProgress:
    """Where a running evolution is: its latest stage and count, and each stage's count so far."""

    stage: str = "select"
    done: int | None = None
    total: int | None = None
    message: str = ""
    stages: dict[str, dict[str, int | None]] = field(default_factory=dict)
    updated_at: float = field(default_factory=time.time)

    def update(self, event: ProgressEvent) -> None:
        """Take an event. Analyses and proposals interleave (each run's proposal follows its analysis), so
        the stage shown is `analyse` until every analysis is done, then `propose`."""
        self.updated_at = time.time()
        self.message = event.message
        if event.stage != "done":
            self.stages[event.stage] = {"done": event.done, "total": event.total}
        shown = event.stage
        analyse = self.stages.get("analyse") or {}
        analyses, analysed = analyse.get("total"), analyse.get("done") or 0
        if shown == "propose" and analyses is not None and analysed < analyses:
            shown = "analyse"
        count = self.stages.get(shown, {"done": event.done, "total": event.total})
        self.stage, self.done, self.total = shown, count["done"], count["total"]

    def line(self) -> str:
        """`analyse 3/8` (or just the stage when its size is not known yet)."""
        of = f" {self.done}/{self.total}" if self.total is not None and self.done is not None else ""
        return f"{self.stage}{of}"


class Evolution:
    """One evolution this server runs, blocking or in the background."""

    def __init__(self, skill: str, *, background: bool, listeners: list[ProgressCallback]) -> None:
        self.skill = skill
        self.background = background
        self.run_id: str | None = None
        self.progress = RunProgress()
        self.listeners = listeners
        self.cancel_requested = False
        self.report: EvolutionReport | None = None
        """The report once the run has ended (read back from the store when it was cancelled)."""
        self.engine: Engine[EvolutionReport] | None = None
        self._recorded = anyio.Event()
        self._ended = anyio.Event()

    @property
    def active(self) -> bool:
        return not self._ended.is_set()

    def _on_run(self, run_id: str) -> None:
        self.run_id = run_id
        self._recorded.set()

    def _on_progress(self, event: ProgressEvent) -> None:
        self.progress.update(event)
        for listener in self.listeners:
            listener(event)

    async def recorded(self) -> str:
        """The run id, as soon as the run is recorded; the error that stopped it before that, if one did."""
        await self._recorded.wait()
        if self.run_id is None:
            assert self.engine is not None
            await self.engine.wait()  # raises what stopped it before the run was recorded
            raise RuntimeError("the evolution ended without recording a run")
        return self.run_id

    async def result(self) -> EvolutionReport:
        """The report; a cancelled run's report as the store recorded it."""
        assert self.engine is not None
        try:
            return await self.engine.wait()
        except EvolutionCancelled:
            with anyio.CancelScope(shield=True):
                await self._ended.wait()
            if self.report is None:
                raise
            return self.report

    async def ended(self) -> None:
        await self._ended.wait()


def _on_loop(create_message: CreateMessage, loop: asyncio.AbstractEventLoop) -> CreateMessage:
    """`create_message` asked on `loop` (the server's, where the client's session lives) from another loop."""

    async def ask(request: ChatRequest) -> ChatResponse:
        async def there() -> ChatResponse:
            return await create_message(request)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(there(), loop))

    return ask


def summary_line(report: EvolutionReport) -> str:
    """One line for a finished run: its status, the versions, what it did and what it cost."""
    parts: list[str] = [report.status]
    if report.new_version is not None:
        where = "published" if report.published else "held for review" if report.review else "not published"
        parts.append(f"{report.skill} v{report.base_version} → v{report.new_version} ({where})")
    else:
        parts.append(f"{report.skill} unchanged" + (f" at v{report.base_version}" if report.base_version else ""))
    parts.append(
        f"{report.trajectories} trajectories, {report.lessons} lessons, {report.edits_applied} edits applied, "
        f"{report.calls} calls, ${report.cost_usd:,.4f}"
    )
    line = "; ".join(parts)
    return f"{line}; {report.error}" if report.error else line


class Evolutions:
    """The evolutions a server runs, by run id; they belong to the server, not to a request or connection."""

    def __init__(self) -> None:
        self._by_run: dict[str, Evolution] = {}
        self._running: set[Evolution] = set()
        self._supervisors: set[asyncio.Task[None]] = set()

    def get(self, run_id: str) -> Evolution | None:
        return self._by_run.get(run_id)

    @property
    def running(self) -> list[Evolution]:
        return [e for e in self._running if e.active]

    def start(
        self,
        state: AppState,
        config: EvolutionConfig,
        *,
        fresh: bool = False,
        sampling: CreateMessage | None = None,
        background: bool = False,
        listeners: list[ProgressCallback] | None = None,
    ) -> Evolution:
        """Start evolving `config.skill` on a loop of its own; `evolution.recorded()` gives the run id.

        One evolution per skill at a time: two would build on the same version and race to publish."""
        for other in self.running:
            if other.skill == config.skill:
                which = f"run {other.run_id}" if other.run_id else "another run"
                raise Conflict(
                    f"skill {config.skill!r} is already being evolved by {which}: wait for it "
                    "(evolution_status) or stop it (cancel_evolution) first"
                )
        keeper = state.keeper
        workspace = keeper.hold().workspace  # open until this evolution has ended, whoever disconnects
        evolution = Evolution(config.skill, background=background, listeners=list(listeners or []))
        home = asyncio.get_running_loop()
        ask = _on_loop(sampling, home) if sampling is not None else None

        async def main() -> EvolutionReport:
            llm = None
            if ask is not None:
                llm = open_llm(
                    "sampling",
                    sampling=ask,
                    call_log=workspace.traces.log_calls,
                    budget=Budget(usd=config.budget_usd, tokens=config.budget_tokens),
                    concurrency=config.workers,
                    home=workspace.home,
                )
            try:
                return await evolve_async(
                    config,
                    workspace=workspace,
                    llm=llm,
                    fresh=fresh,
                    progress=lambda event: engine.call_home(evolution._on_progress, event),
                    on_run=lambda run_id: engine.call_home(self._recorded_run, evolution, run_id),
                )
            finally:
                if llm is not None:
                    await llm.aclose()

        engine: Engine[EvolutionReport] = Engine(main, name=f"trace2skill-evolve-{config.skill}")
        evolution.engine = engine
        self._running.add(evolution)
        try:
            engine.start(on_finish=evolution._recorded.set)
        except BaseException:
            self._running.discard(evolution)
            evolution._ended.set()
            self._spawn(home, keeper.release())
            raise
        self._spawn(home, self._supervise(evolution, state, keeper))
        return evolution

    def _recorded_run(self, evolution: Evolution, run_id: str) -> None:
        self._by_run[run_id] = evolution
        evolution._on_run(run_id)

    def _spawn(self, loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, None]) -> None:
        """A task of the server's, held here until it ends: no request or connection owns it."""
        task = loop.create_task(work)
        self._supervisors.add(task)
        task.add_done_callback(self._supervisors.discard)

    async def _supervise(self, evolution: Evolution, state: AppState, keeper: WorkspaceKeeper) -> None:
        """After the run ends: its report, the news for subscribers (background runs), the workspace let go."""
        assert evolution.engine is not None
        try:
            with anyio.CancelScope(shield=True):
                try:
                    evolution.report = await evolution.engine.wait()
                except EvolutionCancelled:
                    evolution.report = await self._stored_report(state, evolution.run_id)
                except Exception as e:
                    log.info("evolution of %s stopped: %s", evolution.skill, e)
                    evolution.report = await self._stored_report(state, evolution.run_id)
                if evolution.background and evolution.run_id is not None:
                    await self._announce(state, evolution)
        finally:
            self._running.discard(evolution)
            if evolution.run_id is not None:
                self._by_run.pop(evolution.run_id, None)  # the store has the rest
            evolution._ended.set()
            await keeper.release()

    @staticmethod
    async def _stored_report(state: AppState, run_id: str | None) -> EvolutionReport | None:
        if run_id is None:
            return None
        try:
            run = await anyio.to_thread.run_sync(state.workspace.traces.get_run, run_id)
        except Exception as e:
            log.info("could not read run %s back: %s", run_id, e)
            return None
        return EvolutionReport.model_validate(run["report"]) if run.get("report") else None

    @staticmethod
    async def _announce(state: AppState, evolution: Evolution) -> None:
        assert evolution.run_id is not None
        updated = [run_report_uri(evolution.run_id)]
        if evolution.report is not None and evolution.report.published:
            updated.append(skill_file_uri(evolution.skill, "SKILL.md"))
        try:
            await state.announcer.changed(*updated)
        except Exception as e:  # nobody listening is not a failure of the run
            log.info("could not announce the end of run %s: %s", evolution.run_id, e)

    async def cancel(self, evolution: Evolution) -> None:
        """Cancel a running evolution and wait until it has recorded itself (saved work kept: it resumes)."""
        evolution.cancel_requested = True
        if evolution.engine is not None:
            evolution.engine.cancel()
        with anyio.CancelScope(shield=True):
            await evolution.ended()

    async def shutdown(self) -> None:
        """The server stops: cancel every running evolution and wait until each has recorded itself."""
        running = self.running
        for evolution in running:
            evolution.cancel_requested = True
            if evolution.engine is not None:
                evolution.engine.cancel()
        with anyio.CancelScope(shield=True):
            for evolution in running:
                await evolution.ended()
            for task in list(self._supervisors):
                await task
