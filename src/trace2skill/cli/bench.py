"""`trace2skill bench` and `trace2skill suites list|show`: a thin shell over `trace2skill.bench`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from trace2skill.cli.config import configured_default, model_option_callback
from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import Column, echo_json, emit, format_options, is_structured, resolve_format
from trace2skill.cli.output import console as make_console
from trace2skill.cli.params import DOLLARS, PRICE, PRICE_HELP, TEMPERATURE
from trace2skill.errors import InvalidInput, Trace2SkillError
from trace2skill.models import describe_validation_error

__all__ = ["bench", "suites"]


class BenchBars:
    """One bar per rollout batch and per evolution stage, on stderr."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<34}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[note]}"),
            console=console,
        )
        self.tasks: dict[str, Any] = {}

    def __call__(self, event: Any) -> None:
        task = self.tasks.get(event.stage)
        if task is None:
            task = self.tasks[event.stage] = self.progress.add_task(event.stage[:34], total=event.total, note="")
        self.progress.update(task, completed=event.done, total=event.total, note=event.message[:50])

    def __enter__(self) -> BenchBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@cli.command()
@click.option(
    "--suite", required=True, help="A built-in suite (wikitq, wikitq-small, spreadsheetbench) or a .jsonl file."
)
@click.option(
    "-m",
    "--model",
    callback=model_option_callback,
    help="Model string or alias, e.g. local:qwen2.5-coder-1.5b or local (default: $TRACE2SKILL_MODEL, else "
    "`config get model`).",
)
@click.option("-s", "--skill", help="The skill to start from (default: the model drafts one for the suite).")
@click.option("--train", type=int, default=50, show_default=True, help="Evolve-split tasks rolled out to learn from.")
@click.option("--test", type=int, default=100, show_default=True, help="Test-split tasks every arm is measured on.")
@click.option("--seeds", type=int, default=1, show_default=True, help="Independent evolutions (train samples).")
@click.option(
    "--arm", "arms", multiple=True, type=click.Choice(["none", "before", "after"]), help="Default: all three."
)
@click.option("-w", "--workers", type=int, help="Rollouts and analyses at once (default: `config get workers`, or 4).")
@click.option("--max-turns", type=int, default=20, show_default=True, help="Agent turns per task (tool suites).")
@click.option("--max-tokens", type=int, default=2048, show_default=True, help="Output tokens per model call.")
@click.option("--temperature", type=TEMPERATURE, default=0.0, show_default=True)
@click.option("--sandbox", type=click.Choice(["auto", "bwrap", "process"]), default="auto", show_default=True)
@click.option("--analysts", type=click.Choice(["error", "success", "combined"]), default="combined", show_default=True)
@click.option(
    "--analyst",
    type=click.Choice(["agentic", "single"]),
    default="agentic",
    show_default=True,
    help="Failures: an agent that checks its fix with the scorer, or one call.",
)
@click.option("--evolve-limit", type=int, help="Evolve from a balanced sample of N of the rollouts.")
@click.option("--max-analyst-turns", type=int, default=8, show_default=True)
@click.option("--fan-in", type=int, default=5, show_default=True)
@click.option(
    "--budget-usd",
    type=DOLLARS,
    help="Stop starting model calls once this much is spent (default: `config get budget-usd`).",
)
@click.option("--price", type=PRICE, help=PRICE_HELP)
@click.option("--data", "data", help="Folder holding the built-in suites' data (default $TRACE2SKILL_DATA).")
@click.option("-o", "--out", help="Folder for report.md, report.json and pass-rates.png (default <home>/bench/RUN).")
@click.option("--fresh", is_flag=True, help="Start a new benchmark even if an unfinished one matches.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_state
def bench(state: State, arms: tuple[str, ...], fresh: bool, as_json: bool, model: str | None, **options: Any) -> None:
    """Measure whether an evolved skill helps: roll out, evolve, compare none / before / after on held-out tasks.

    Example: trace2skill bench --suite wikitq-small --model local:qwen2.5-coder-1.5b --skill table-qa
    """
    from trace2skill.bench.harness import BenchConfig, default_out, run_bench
    from trace2skill.bench.report import render_bench_markdown, write_bench_report
    from trace2skill.llm.defaults import configured_model, no_model_message
    from trace2skill.llm.eventloop import run

    chosen = configured_model(model)
    if chosen is None:
        raise InvalidInput(no_model_message("benchmark with"))
    for key, fallback in (("workers", 4), ("budget_usd", None)):
        if options.get(key) is None:
            configured = configured_default(state, key.replace("_", "-"))
            options[key] = fallback if configured is None else configured
    fields = {k: v for k, v in options.items() if v is not None}
    if arms:
        fields["arms"] = list(dict.fromkeys(arms))
    try:
        config = BenchConfig.model_validate({**fields, "model": chosen[0]})
    except ValidationError as e:
        raise InvalidInput(describe_validation_error(e)) from None
    ws = state.workspace
    with BenchBars(make_console(stderr=True)) as bars:
        report = run(run_bench(config, workspace=ws, progress=bars, fresh=fresh))
    write_bench_report(report, config.out or default_out(ws, report.run_id))
    ws.traces.update_run(report.run_id, report=report.model_dump(mode="json"))
    if as_json:
        echo_json(report)
    else:
        click.echo(render_bench_markdown(report))
        click.echo("Files: " + ", ".join(report.files.values()))
    if report.status == "failed":
        raise Trace2SkillError(report.error or "the benchmark failed")


@cli.group()
def suites() -> None:
    """Task suites for `bench` and `evolve --gate`: built-in benchmarks and your own JSONL files."""


def _splits_cell(row: Mapping[str, Any]) -> Text:
    return Text(", ".join(f"{k} {v:,}" for k, v in row["splits"].items()) or "-")


def _data_cell(row: Mapping[str, Any]) -> Text:
    return Text(row["data"]) if row["data"] else Text(str(row.get("problem")), style="red")


SUITE_COLUMNS = (
    Column("name", "suite", ident=True),
    Column("splits", width=20, cell=_splits_cell),
    Column(
        "tools",
        priority=2,
        width=5,
        cell=lambda row: Text("-" if row["tools"] is None else ("yes" if row["tools"] else "no")),
    ),
    Column("data", priority=1, width=24, fill=True, cell=_data_cell),
    Column("summary", priority=9),
    Column("problem", priority=9),
)
_SUITE_TABLE_HIDDEN = ("summary", "problem")


@suites.command("list")
@click.option("--data", "data", help="Folder holding the built-in suites' data (default $TRACE2SKILL_DATA).")
@format_options
def list_suites(data: str | None, output_format: str | None, as_json: bool, no_headers: bool) -> None:
    """The built-in suites, their splits and whether their data is found here."""
    from trace2skill.bench.suites import BUILTIN_SUITES, load_suite

    fmt = resolve_format(output_format, as_json)
    rows: list[dict[str, Any]] = []
    for name, (summary, _load) in BUILTIN_SUITES.items():
        try:
            suite = load_suite(name, data)
            rows.append(
                {
                    "name": name,
                    "summary": summary,
                    "splits": suite.splits,
                    "tools": suite.tools,
                    "data": suite.source,
                    "problem": None,
                }
            )
        except Trace2SkillError as e:
            rows.append(
                {"name": name, "summary": summary, "splits": {}, "tools": None, "data": None, "problem": str(e)}
            )
    if is_structured(fmt):
        emit(rows, SUITE_COLUMNS, fmt, headers=not no_headers)
        return
    emit(rows, [c for c in SUITE_COLUMNS if c.key not in _SUITE_TABLE_HIDDEN], fmt)
    click.echo('Your own: a .jsonl file, one task a line: {"id", "task", "reference", "evaluator", "split", "files"}.')


@suites.command("show")
@click.argument("suite")
@click.option("--split", help="Only this split.")
@click.option("--limit", type=int, default=10, show_default=True, help="Tasks to show (0: none, just the summary).")
@click.option("--data", "data", help="Folder holding the built-in suites' data.")
@click.option("--json", "as_json", is_flag=True)
def show_suite(suite: str, split: str | None, limit: int, data: str | None, as_json: bool) -> None:
    """A suite's description, splits and first tasks (a built-in name or a .jsonl path)."""
    from trace2skill.bench.suites import load_suite

    loaded = load_suite(suite, data)
    tasks = loaded.split(split) if split else loaded.tasks
    shown = tasks[: max(0, limit)]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "name": loaded.name,
                    "description": loaded.description,
                    "tools": loaded.tools,
                    "splits": loaded.splits,
                    "source": loaded.source,
                    "tasks": [
                        {
                            "id": t.id,
                            "split": t.split,
                            "evaluator": t.evaluator,
                            "task": t.prompt,
                            "files": sorted(t.files),
                        }
                        for t in shown
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{loaded.name}: {loaded.description}")
    click.echo(
        "splits: "
        + ", ".join(f"{k} {v:,}" for k, v in loaded.splits.items())
        + f"; tools: {'yes' if loaded.tools else 'no'}"
    )
    click.echo(f"source: {loaded.source}")
    for t in shown:
        first = t.prompt.strip().splitlines()[0] if t.prompt.strip() else ""
        click.echo(f"- {t.id} [{t.split}, {t.evaluator}] {first[:100]}")
