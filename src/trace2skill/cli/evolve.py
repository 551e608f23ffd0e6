"""`trace2skill evolve NAME` and `trace2skill runs list|show`: a thin shell over `trace2skill.evolve`.

Progress is drawn on stderr (one bar per stage) so that stdout carries only the report: Markdown
for people, JSON with `--json`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from trace2skill.cli.config import alias_option_callback, configured_default, model_option_callback
from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import Column, echo_json, emit, format_options, is_structured, resolve_format
from trace2skill.cli.output import console as make_console
from trace2skill.cli.params import DOLLARS, PRICE, PRICE_HELP, TEMPERATURE, UNIT_INTERVAL
from trace2skill.errors import InvalidInput, Trace2SkillError
from trace2skill.models import EvolutionConfig, EvolutionReport, describe_validation_error

__all__ = ["evolve", "runs"]

_LABELS = {
    "draft": "draft S0",
    "analyse": "analyse",
    "propose": "propose",
    "merge": "merge",
    "apply": "apply",
    "commit": "commit",
}
_ROLLOUT_STAGES = ("rollout", "pick", "gate")
"""Stages of the agent's rollouts (create mode's draft, the seeds' pick, the gate), labelled by their own name."""


class StageBars:
    """A rich progress display with one bar per stage, fed by the pipeline's progress events."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[note]}"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, event: Any) -> None:
        label = _LABELS.get(event.stage) or (event.stage if event.stage.startswith(_ROLLOUT_STAGES) else None)
        if label is None:
            return
        task = self.tasks.get(event.stage)
        if task is None:
            if not self.tasks:
                self.progress.start()  # on the first bar: a run refused before it starts draws nothing
            task = self.tasks[event.stage] = self.progress.add_task(label, total=event.total, note="")
        self.progress.update(task, completed=event.done, total=event.total, note=event.message[:60])

    def __enter__(self) -> StageBars:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.tasks:
            self.progress.stop()


def _echo_json(value: Any) -> None:
    echo_json(value)


def _config(name: str, options: dict[str, Any]) -> EvolutionConfig:
    fields = {k: v for k, v in options.items() if v is not None and v != ()}
    fields["skill"] = name
    for key in ("outcome", "tags"):
        if key in fields:
            fields[key] = list(fields[key])
    try:
        return EvolutionConfig.model_validate(fields)
    except ValidationError as e:
        raise InvalidInput(describe_validation_error(e)) from None


@cli.command()
@click.argument("name")
@click.option("--mode", type=click.Choice(["deepen", "create"]), help="Deepen an existing skill or create one.")
@click.option("--analysts", type=click.Choice(["error", "success", "combined"]), help="Which runs to learn from.")
@click.option(
    "--analyst",
    type=click.Choice(["agentic", "single"]),
    help="Failures: an agent that proves its fix with the scorer (default), or one unchecked call each.",
)
@click.option(
    "--analyst-model", metavar="MODEL", callback=alias_option_callback, help="Model of the analysts (default: --model)."
)
@click.option(
    "--merge-model",
    metavar="MODEL",
    callback=alias_option_callback,
    help="Model of the proposals, merges and repairs (default: --model).",
)
@click.option(
    "--temperature", type=TEMPERATURE, metavar="T", help="Sampling temperature of the evolution's calls (0-2)."
)
@click.option(
    "--force",
    "replace_existing",
    is_flag=True,
    default=None,
    help="Create mode on a skill that exists: replace it with the new draft (its versions stay in the history).",
)
@click.option(
    "--any-version",
    "any_version",
    is_flag=True,
    default=None,
    help="Learn from runs of every version of the skill, not only those made with the version being evolved.",
)
@click.option("--fan-in", "fan_in", type=int, help="Patches merged per merge call (default 5).")
@click.option(
    "-w", "--workers", type=int, help="Trajectories analysed at once (default: `config get workers`, else 16)."
)
@click.option(
    "-m",
    "--model",
    callback=model_option_callback,
    help="Model string or alias, e.g. anthropic:claude-sonnet-4-5 or sonnet (default: $TRACE2SKILL_MODEL, else "
    "`config get model`, else one for a set API key).",
)
@click.option("-n", "--limit", type=int, help="Use at most N trajectories (a seeded sample).")
@click.option("--seed", type=int, help="Sampling seed (default 0).")
@click.option("--outcome", multiple=True, type=click.Choice(["success", "failure", "partial"]), help="Repeatable.")
@click.option("--tag", "tags", multiple=True, help="Only trajectories with this tag (repeatable: all must match).")
@click.option("--since", help="Only trajectories recorded at or after this time (ISO date or time).")
@click.option("--until", help="Only trajectories recorded before this time.")
@click.option("--evaluator", help="Evaluator for runs with a reference and none named (e.g. exact).")
@click.option("--max-turns", "max_analyst_turns", type=int, help="Turn limit of an agentic error analysis.")
@click.option(
    "--confirm-fixes/--no-confirm-fixes",
    "require_confirmed_fix",
    default=None,
    help="Drop lessons of failures whose fix the evaluator did not confirm (default on).",
)
@click.option(
    "--gate",
    "gate",
    metavar="SUITE:SPLIT",
    help="Publish the new version only if it is not worse on this held-out split (e.g. wikitq:test).",
)
@click.option(
    "--gate-margin", type=UNIT_INTERVAL, default=0.0, show_default=True, help="Allowed drop in pass rate (0-1)."
)
@click.option("--gate-limit", type=int, help="Measure on at most N tasks of the gate split (a fixed sample).")
@click.option(
    "--gate-workers", type=int, default=4, show_default=True, help="Rollouts (gate, --suite, --seeds) run at once."
)
@click.option(
    "--suite",
    "suite",
    metavar="SUITE[:SPLIT]",
    help="Create mode: roll the draft out on this split (default evolve) and learn from its own runs.",
)
@click.option(
    "--train", type=int, metavar="N", help="Tasks of the --suite split the draft is rolled out on (default 50)."
)
@click.option(
    "--seeds",
    type=int,
    metavar="K",
    default=1,
    show_default=True,
    help="Evolve K candidates (their --limit samples differ), keep the best on the evolve split (--gate or --suite).",
)
@click.option("--data", "data_dir", help="Folder holding the built-in suites' data (default $TRACE2SKILL_DATA).")
@click.option("--task-description", help="What the skill is for (create mode).")
@click.option("--strategy", type=click.Choice(["parallel", "sequential"]), help="sequential: the baseline.")
@click.option("--batch-size", type=int, help="Trajectories per update of the sequential baseline.")
@click.option(
    "--budget-usd",
    type=DOLLARS,
    help="Stop starting LLM calls once this much is spent (default: `config get budget-usd`, else none).",
)
@click.option("--price", type=PRICE, help=PRICE_HELP)
@click.option("--budget-tokens", type=int, help="Stop starting LLM calls once this many tokens are spent.")
@click.option(
    "--publish",
    type=click.Choice(["auto", "review", "never"]),
    help="auto (default): publish only text changes to SKILL.md and references/ with nothing risky in them, hold "
    "the rest for `skills review`; review: hold every version; never: record it only.",
)
@click.option("--dry-run", is_flag=True, help="Estimate calls, tokens and cost; spend nothing.")
@click.option("--resume", "resume_run", metavar="RUN", help="Continue this failed or interrupted run.")
@click.option("--fresh", is_flag=True, help="Start a new run even if an unfinished one with the same settings exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the report (or estimate) as JSON.")
@pass_state
def evolve(
    state: State,
    name: str,
    dry_run: bool,
    resume_run: str | None,
    fresh: bool,
    as_json: bool,
    gate: str | None,
    gate_margin: float,
    gate_limit: int | None,
    gate_workers: int,
    data_dir: str | None,
    suite: str | None,
    train: int | None,
    seeds: int,
    **options: Any,
) -> None:
    """Improve skill NAME from its recorded trajectories (Trace2Skill).

    Only runs made with the version being evolved are used (--any-version takes every version's).
    With --gate SUITE:SPLIT the new version is measured against the published one on that split and
    published only if it is not worse by more than --gate-margin; otherwise it stays in the history.
    With --mode create --suite SUITE the draft is rolled out on the suite first and learned from.
    A version that touches scripts/ or assets/ or adds a risky command is held for review
    (`trace2skill skills review NAME`), whatever --publish says.
    """
    from trace2skill.evolve import estimate, evolve_async
    from trace2skill.evolve.report import render_markdown

    if resume_run is None:  # a resumed run keeps its own workers and budget unless they are given
        for key in ("workers", "budget_usd"):
            if options.get(key) is None:
                options[key] = configured_default(state, key.replace("_", "-"))
    config = _config(name, options)
    gate_spec = create_spec = None
    if gate is not None:
        from trace2skill.bench.gate import parse_gate

        gate_spec = parse_gate(gate, margin=gate_margin, limit=gate_limit, data=data_dir)
    if train is not None and suite is None:
        raise InvalidInput("--train is the number of tasks the draft is rolled out on; it needs --suite")
    measured = suite is not None or seeds != 1
    if measured:
        from trace2skill.bench.create import parse_suite
        from trace2skill.bench.measured import check_measured

        create_spec = parse_suite(suite, train=train, data=data_dir) if suite is not None else None
        check_measured(config, create_spec, gate_spec, seeds)
        if dry_run:
            raise InvalidInput("--dry-run estimates one evolution from recorded runs; leave out --suite and --seeds")
        if resume_run is not None:
            raise InvalidInput(
                "--resume continues one evolution run; leave out --suite and --seeds (the same command again "
                "reuses the draft, the stored rollouts and an unfinished evolution)"
            )
    ws = state.workspace
    if dry_run:
        est = estimate(config, workspace=ws)
        if as_json:
            _echo_json(est.model_dump(mode="json"))
        else:
            click.echo(est.render())
        return
    from trace2skill.llm.eventloop import run

    if resume_run is not None and ws.traces.get_run(resume_run).get("skill") != name:
        raise InvalidInput(f"run {resume_run} does not evolve {name!r} (see `trace2skill runs show {resume_run}`)")
    err = make_console(stderr=True)
    overrides = config if resume_run is None else _resume_overrides(config, options)
    try:
        with StageBars(err) as bars:
            if measured or (gate_spec is not None and resume_run is None):
                from trace2skill.bench.measured import evolve_measured
                from trace2skill.evolve import resolve_model

                report: EvolutionReport = run(
                    evolve_measured(
                        resolve_model(config),
                        workspace=ws,
                        create=create_spec,
                        gate=gate_spec,
                        seeds=seeds,
                        workers=gate_workers,
                        progress=bars,
                        fresh=fresh,
                    )
                )
            elif gate_spec is not None:
                from trace2skill.bench.gate import evolve_gated
                from trace2skill.evolve import resolve_model

                report = run(
                    evolve_gated(
                        resolve_model(config),
                        gate_spec,
                        workspace=ws,
                        workers=gate_workers,
                        progress=bars,
                        resume=resume_run,
                    )
                )
            else:
                report = run(  # uvloop when installed
                    evolve_async(overrides, workspace=ws, resume=resume_run, fresh=fresh, progress=bars)
                )
    except KeyboardInterrupt:
        _report_interrupt(ws, name, resume_run, again=measured or (gate_spec is not None and resume_run is None))
        sys.exit(130)
    if as_json:
        echo_json(report)
    else:
        click.echo(render_markdown(report))
    if report.status == "failed":
        raise Trace2SkillError(report.error or "the run failed")
    if report.status == "rejected":
        raise SystemExit(3)  # the report above says why; scripts can tell a rejection from a failure


def _report_interrupt(ws: Any, name: str, resume_run: str | None, *, again: bool) -> None:
    """After Ctrl-C: which run was stopped, what of it is saved, and the exact command that continues it."""
    from trace2skill.evolve.runs import RESUMABLE, resume_command

    traces = ws.traces
    if resume_run is not None:
        run = traces.get_run(resume_run)
    else:
        run = next((r for r in traces.list_runs(skill=name, limit=20) if r.get("status") in RESUMABLE), None)
    if run is None:
        click.echo("Interrupted before an evolution run was recorded: nothing was saved.", err=True)
        return
    run_id = run["run_id"]
    levels: dict[int, int] = {}
    for row in traces.patch_rows(run_id):
        levels[row["level"]] = levels.get(row["level"], 0) + 1
    analyses = len(traces.analyses(run_id))
    patches = ", ".join(f"level {level}: {n}" for level, n in sorted(levels.items())) or "none"
    click.echo(
        f"Interrupted: run {run_id} of {name} is saved with status {run.get('status')} "
        f"({analyses} analyses, patches {patches}; stage {run.get('stage') or '-'}).",
        err=True,
    )
    if again:
        click.echo("Run the same command again to continue it (the saved work is reused).", err=True)
    else:
        click.echo(f"Resume it with:\n  {resume_command(name, run_id)}", err=True)


def _resume_overrides(config: EvolutionConfig, options: dict[str, Any]) -> EvolutionConfig | None:
    """With --resume only workers and budgets may change; None keeps the run's own."""
    if not any(options.get(k) is not None for k in ("workers", "budget_usd", "budget_tokens", "price")):
        return None
    return config


@cli.group()
def runs() -> None:
    """Evolution runs: what ran, with which settings, at what cost."""


def _versions_cell(row: Mapping[str, Any]) -> Text:
    return Text(f"{row['base_version'] or '-'} → {row['new_version'] or '-'}")


RUN_COLUMNS = (
    Column("id", ident=True),
    Column("skill", priority=1, width=12),
    Column("status", width=9),
    Column("stage", priority=9),
    Column("base_version", "versions", priority=3, width=8, cell=_versions_cell),
    Column("new_version", priority=9),
    Column("trajectories", priority=4, width=12),
    Column("calls", priority=5, width=5),
    Column(
        "cost_usd",
        "cost",
        priority=2,
        width=7,
        cell=lambda row: Text("" if row["cost_usd"] is None else f"${row['cost_usd']:.4f}"),
    ),
    Column(
        "created_at",
        "started (UTC)",
        priority=6,
        width=16,
        cell=lambda row: Text(str(row["created_at"] or "")[:16].replace("T", " ")),
    ),
    Column("finished_at", priority=9),
    Column("error", priority=9, fill=True),
)
"""`runs list`: every field in tsv/csv/json; the table shows the first columns that fit."""

_RUN_TABLE_HIDDEN = ("stage", "new_version", "finished_at", "error")
_NO_RUNS = "No evolution runs yet (start one with `trace2skill evolve NAME`)."


@runs.command("list")
@click.option("-s", "--skill", help="Only runs of this skill.")
@click.option("-n", "--limit", type=int, default=50, show_default=True)
@format_options
@pass_state
def list_runs(
    state: State, skill: str | None, limit: int, output_format: str | None, as_json: bool, no_headers: bool
) -> None:
    """Runs, newest first."""
    fmt = resolve_format(output_format, as_json)
    rows = [_summary(r) for r in state.workspace.traces.list_runs(skill=skill, limit=limit)]
    if is_structured(fmt):
        emit(rows, RUN_COLUMNS, fmt, headers=not no_headers, empty=_NO_RUNS)
        return
    emit(rows, [c for c in RUN_COLUMNS if c.key not in _RUN_TABLE_HIDDEN], fmt, empty=_NO_RUNS)


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    report = run.get("report") or {}
    config = run.get("config") or {}
    return {
        "id": run["run_id"],
        "skill": run.get("skill"),
        "status": run.get("status"),
        "stage": run.get("stage"),
        "base_version": run.get("base_version"),
        "new_version": run.get("new_version"),
        "trajectories": len(config.get("trajectories") or []),
        "calls": report.get("calls"),
        "cost_usd": report.get("cost_usd"),
        "error": run.get("error"),
        "created_at": run.get("created_at"),
        "finished_at": run.get("finished_at"),
    }


@runs.command("report")
@click.argument("run_id", metavar="RUN")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page (default: RUN.html here).",
)
@pass_state
def report_run(state: State, run_id: str, output: Path | None) -> None:
    """Write one run as a self-contained HTML page: its diff, the merge tree level by level, each edit
    with the runs that back it (their messages one click away), the cost per stage and, for a gated or
    benchmarked run, the pass rates as a chart. The page loads nothing from outside and runs no script.

    \b
    Example:
      trace2skill runs report r_01jx... -o report.html && open report.html
    """
    from trace2skill.html_report import render_run_page

    page = render_run_page(state.workspace.traces, run_id)
    target = output if output is not None else Path(f"{run_id}.html")
    target.write_text(page, encoding="utf-8")
    click.echo(f"Wrote {target} ({len(page.encode()):,} bytes); open it in a browser.")


@runs.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the run record and report as JSON.")
@pass_state
def show_run(state: State, run_id: str, as_json: bool) -> None:
    """One run: its settings, what it saved so far, and its report."""
    from trace2skill.evolve.report import render_markdown

    traces = state.workspace.traces
    run = traces.get_run(run_id)
    levels: dict[int, int] = {}
    for row in traces.patch_rows(run_id):
        levels[row["level"]] = levels.get(row["level"], 0) + 1
    saved = {"analyses": len(traces.analyses(run_id)), "patches_per_level": levels}
    if as_json:
        record = {"id": run["run_id"], **{k: v for k, v in run.items() if k != "run_id"}}
        _echo_json({**record, "saved": saved, "calls": traces.call_totals(run_id)})
        return
    s = _summary(run)
    click.echo(f"run {run_id}: {s['skill']} — {s['status']} (stage {s['stage'] or '-'})")
    click.echo(f"  trajectories {s['trajectories']}, analyses saved {saved['analyses']}, patches per level {levels}")
    if run.get("error"):
        click.echo(f"  error: {run['error']}")
    config = (run.get("config") or {}).get("evolution") or {}
    click.echo("  settings: " + ", ".join(f"{k}={v}" for k, v in config.items() if v not in (None, [], "")))
    if (run.get("config") or {}).get("kind") == "bench":
        from trace2skill.bench.harness import BenchReport
        from trace2skill.bench.report import render_bench_markdown

        if run.get("report"):
            click.echo("")
            click.echo(render_bench_markdown(BenchReport.model_validate(run["report"])))
        return
    if run.get("report"):
        click.echo("")
        click.echo(render_markdown(EvolutionReport.model_validate(run["report"])))
