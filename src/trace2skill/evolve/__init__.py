"""The evolution engine (Trace2Skill): trajectories in, a new skill version with provenance out.

    from trace2skill.evolve import evolve, estimate
    report = evolve(EvolutionConfig(skill="xlsx", model="anthropic:claude-sonnet-4-5", budget_usd=2.0))
    print(report.status, report.new_version, report.cost_usd)

`evolve_async` is the same for callers already on an event loop (the MCP server). A run that fails
part-way keeps its saved work: `resume(run_id)` (or running `evolve` again with the same settings)
continues it. `estimate` is the dry run. Progress arrives through the `progress` callback as
`ProgressEvent(stage, done, total, message)`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.evaluators import (
    Candidate,
    Evaluation,
    Evaluator,
    ExactMatch,
    get_evaluator,
    register_evaluator,
    resolver_for,
)
from trace2skill.evolve.context import DEFAULT_PROTECTED, ChatLLM
from trace2skill.evolve.estimate import Estimate, estimate_run
from trace2skill.evolve.pipeline import prepare_run, replaced_by_create, run_pipeline, scope_of
from trace2skill.evolve.progress import ProgressCallback, ProgressEvent, ignore_progress
from trace2skill.evolve.report import render_markdown
from trace2skill.llm.defaults import MODEL_ENV, configured_model, no_model_message
from trace2skill.models import EvolutionConfig, EvolutionReport

if TYPE_CHECKING:
    from trace2skill.evaluators.base import EvaluatorResolver
    from trace2skill.llm import LLM, Budget
    from trace2skill.store import TraceStore
    from trace2skill.workspace import Workspace

__all__ = [
    "MODEL_ENV",
    "Candidate",
    "Estimate",
    "Evaluation",
    "Evaluator",
    "ExactMatch",
    "ProgressEvent",
    "estimate",
    "evolve",
    "evolve_async",
    "get_evaluator",
    "register_evaluator",
    "render_markdown",
    "resolve_model",
    "resume",
    "stage_models",
]


def resolve_model(config: EvolutionConfig) -> EvolutionConfig:
    """The run's model: its own, else $TRACE2SKILL_MODEL, else the default of a provider whose key is set."""
    chosen = configured_model(config.model)
    if chosen is None:
        raise InvalidInput(no_model_message("evolve with"))
    return config.model_copy(update={"model": chosen[0]})


def _open_llm(
    workspace: Workspace, model: str, workers: int, budget: Budget, price: tuple[float, float] | None = None
) -> LLM:
    """The run's LLM: its call log goes to the store; no response cache (resume comes from the run's
    saved analyses and patches, and a cache would make a rerun with another seed repeat old answers).
    Opening it checks the model string and the provider's credentials before anything is recorded.
    One client carries all `workers` calls in flight, so one connection pool (the SDK's own HTTP client,
    `trace2skill.llm.provider`) reuses every idle connection."""
    from trace2skill.llm import open_llm

    return open_llm(
        model,
        call_log=workspace.traces.log_calls,
        budget=budget,
        concurrency=workers,
        home=workspace.home,
        price=price,
    )


def stage_models(config: EvolutionConfig) -> tuple[str, str]:
    """(analysts' model, editor's model): `analyst_model` and `merge_model`, each else the run's model.

    The editor writes proposals, merges, repairs and the create-mode draft (`evolve.stages`)."""
    analyst, editor = config.analyst_model, config.merge_model
    base = config.model
    if analyst is None or editor is None:
        base = resolve_model(config).model
    return analyst or base or "", editor or base or ""


async def _open_llms(
    workspace: Workspace, models: tuple[str, ...], workers: int, budget: Budget, settings: EvolutionConfig
) -> dict[str, LLM]:
    """One LLM per distinct model string, all on one call log and one budget (which caps them together).

    A dollar budget needs every model priced (or free): refused here, before a run is recorded."""
    opened: dict[str, LLM] = {}
    try:
        for model in dict.fromkeys(models):
            opened[model] = llm = _open_llm(workspace, model, workers, budget, settings.price)
            if settings.budget_usd is not None:
                llm.require_price(f"--budget-usd {settings.budget_usd:g}")
    except BaseException:
        for llm in opened.values():
            await llm.aclose()
        raise
    return opened


def _limit_budget(budget: Budget, traces: TraceStore, config: EvolutionConfig, run_id: str) -> None:
    """The budget caps the whole run: a resumed run may spend only what earlier attempts left."""
    spent = traces.call_totals(run_id)
    used = int(spent["input_tokens"]) + int(spent["output_tokens"])
    budget.usd = None if config.budget_usd is None else max(0.0, config.budget_usd - float(spent["cost_usd"]))
    budget.tokens = None if config.budget_tokens is None else max(0, config.budget_tokens - used)


def _price_settings(stored: EvolutionConfig, given: EvolutionConfig | None) -> EvolutionConfig:
    """The budget and price a run (or its resume) is opened with: a resume's own, else the stored ones."""
    if given is None or given is stored:
        return stored
    update = {"budget_usd": given.budget_usd, "price": given.price if given.price is not None else stored.price}
    return stored.model_copy(update=update)


def _llm_settings(
    traces: TraceStore, config: EvolutionConfig | None, resume: str | None
) -> tuple[EvolutionConfig, int]:
    """(configuration whose models to open, workers) of the run about to start or resume; only workers
    and budgets change on resume, so a resumed run keeps its stored per-stage models."""
    if resume is None:
        if config is None:
            raise InvalidInput("an evolution needs a configuration (or a run to resume)")
        return config, config.workers
    stored = EvolutionConfig.model_validate((traces.get_run(resume).get("config") or {}).get("evolution") or {})
    return stored, (config or stored).workers


async def evolve_async(
    config: EvolutionConfig | None = None,
    *,
    workspace: Workspace | None = None,
    llm: ChatLLM | None = None,
    resume: str | None = None,
    fresh: bool = False,
    progress: ProgressCallback = ignore_progress,
    evaluator_for: EvaluatorResolver | None = None,
    protected: frozenset[str] = DEFAULT_PROTECTED,
    on_run: Callable[[str], None] | None = None,
) -> EvolutionReport:
    """Run, or resume, one evolution; returns its report (status `failed` with `error` on budget or
    provider trouble, the run kept for `resume`). `workspace` defaults to the home folder's.

    `on_run(run_id)` is called once the run is recorded, before any model call: a caller that answers
    before the run ends (the MCP server's background runs) learns its id there."""
    from trace2skill.llm import Budget
    from trace2skill.workspace import Workspace

    ws = workspace or Workspace.open()
    opened: dict[str, LLM] = {}
    analyst_llm: ChatLLM
    editor_llm: ChatLLM
    try:
        budget = Budget()
        if llm is not None:
            analyst_llm = editor_llm = llm
        else:
            settings, workers = _llm_settings(ws.traces, config, resume)
            analyst_model, editor_model = stage_models(settings)
            priced = _price_settings(settings, config)
            opened = await _open_llms(ws, (analyst_model, editor_model), workers, budget, priced)
            analyst_llm, editor_llm = opened[analyst_model], opened[editor_model]
            chosen = configured_model(config.model) if config is not None and resume is None else None
            if config is not None and chosen is not None:  # recorded, so a resume opens the same model
                config = config.model_copy(update={"model": chosen[0]})
        prepared = prepare_run(ws.traces, ws.skills, config, resume=resume, fresh=fresh)
        if on_run is not None:
            on_run(prepared.run_id)
        _limit_budget(budget, ws.traces, prepared.config, prepared.run_id)
        with _long_lived_frozen():
            return await run_pipeline(
                ws.traces,
                ws.skills,
                analyst_llm,
                prepared,
                progress=progress,
                resolve_evaluator=evaluator_for,
                protected=protected,
                editor_llm=editor_llm,
            )
    finally:
        for one in opened.values():
            await one.aclose()
        if workspace is None:
            ws.close()


@contextmanager
def _long_lived_frozen() -> Iterator[None]:
    """For the pipeline, what is alive when it starts (modules, the models, the selected trajectories)
    sits in the collector's permanent generation (`gc.freeze`): it outlives the run, and the fleet's
    allocations would otherwise have every full collection scan it again. `gc.unfreeze` hands it back
    (a concurrent run's freeze included; freezing never changes what is collected, only when). A
    process that froze objects itself (a pre-fork server sharing pages with its workers) keeps its
    own freeze: the run then neither adds to it nor ends it."""
    if gc.get_freeze_count() > 0:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def evolve(config: EvolutionConfig | None = None, **options: Any) -> EvolutionReport:
    """`evolve_async` on a fresh event loop (uvloop when installed; see `trace2skill.llm.eventloop`)."""
    from trace2skill.llm.eventloop import run

    return run(evolve_async(config, **options))


def resume(run_id: str, **options: Any) -> EvolutionReport:
    """Continue a run that failed or was interrupted; finished analyses and merges are reused."""
    return evolve(None, resume=run_id, **options)


def estimate(
    config: EvolutionConfig, *, workspace: Workspace | None = None, evaluator_for: EvaluatorResolver | None = None
) -> Estimate:
    """Calls, tokens, rounds and cost of a run before spending anything (priced for the model the run would use)."""
    from trace2skill.workspace import Workspace

    chosen = configured_model(config.model)
    if chosen is not None:
        config = config.model_copy(update={"model": chosen[0]})
    ws = workspace or Workspace.open()
    try:
        base = None
        scope = None
        if config.mode == "deepen":
            try:
                base = ws.skills.load(config.skill)
            except NotFound:
                raise NotFound(f"no skill named {config.skill!r} to deepen (use --mode create)") from None
            scope = scope_of(ws.skills, config)
        notes: list[str] = []
        replaced = replaced_by_create(ws.skills, config)
        if replaced is not None:
            version, files = replaced
            what = f"{config.skill!r} (version {version}, {files} file{'s' if files != 1 else ''}) with a new draft"
            notes.append(
                f"create mode replaces {what} (--force given)"
                if config.replace_existing
                else f"create mode would replace {what}; the real run is refused unless --force"
            )
        resolver = evaluator_for or resolver_for(config.evaluator)
        return estimate_run(
            ws.traces, config, base, resolve_evaluator=resolver, protected=DEFAULT_PROTECTED, scope=scope, notes=notes
        )
    finally:
        if workspace is None:
            ws.close()
