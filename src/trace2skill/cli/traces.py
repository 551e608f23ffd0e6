"""`trace2skill record` and `trace2skill traces list|show|search|label|delete`: thin shells over TraceStore."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.text import Text

from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import Column, echo_json, emit, flat, format_options, is_structured, resolve_format
from trace2skill.cli.output import console as make_console
from trace2skill.cli.params import FINITE
from trace2skill.errors import InvalidInput
from trace2skill.models import (
    LIMITS,
    Outcome,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Trajectory,
    parse_trajectory,
)
from trace2skill.store import STATUSES

__all__ = ["record_command", "traces_group"]

OUTCOME_STYLES = {"success": "green", "failure": "red", "partial": "yellow", "unknown": "dim"}
SHOWN_CHARS = 2_000


@cli.group("traces")
def traces_group() -> None:
    """Recorded trajectories."""


def _echo_json(value: Any) -> None:
    echo_json(value)


# --- record -------------------------------------------------------------------------------------


def _read_source(source: str) -> str:
    limit = LIMITS.trajectory_bytes
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with Path(source).open("rb") as f:
                data = f.read(limit + 1)
    except OSError as e:
        raise InvalidInput(f"cannot read {source!r}: {e.strerror or e}") from None
    if len(data) > limit:
        raise InvalidInput(f"the trajectory is over {limit:,} bytes, the limit (trim tool outputs)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{'stdin' if source == '-' else source!r} is not UTF-8 text") from None


def _with_overrides(
    trajectory: Trajectory, skill: str | None, outcome: str | None, tags: tuple[str, ...]
) -> Trajectory:
    """The trajectory with command-line overrides applied, validated again as a whole."""
    if skill is None and outcome is None and not tags:
        return trajectory
    data = trajectory.model_dump(mode="json", exclude_none=True)
    if skill is not None:
        data["skill"] = skill
    if outcome is not None:
        data["outcome"] = {**data.get("outcome", {}), "status": outcome}
    if tags:
        data["tags"] = [*data.get("tags", []), *tags]
    return parse_trajectory(data)


def _store(state: State, trajectory: Trajectory) -> str:
    """Store through `Workspace.record`, which redacts first."""
    return state.workspace.record(trajectory).id


@cli.command("record")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("--skill", help="Set the skill the run used.")
@click.option("--outcome", type=click.Choice(STATUSES), help="Set the outcome status.")
@click.option("--tag", "tags", multiple=True, help="Add a tag (repeatable).")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ...}.')
@pass_state
def record_command(
    state: State, source: str, skill: str | None, outcome: str | None, tags: tuple[str, ...], as_json: bool
) -> None:
    """Store one trajectory (JSON, from FILE or stdin) and print its id."""
    trajectory = _with_overrides(parse_trajectory(_read_source(source)), skill, outcome, tags)
    ident = _store(state, trajectory)
    if as_json:
        _echo_json({"id": ident})
    else:
        click.echo(ident)


# --- listings -----------------------------------------------------------------------------------


def _selection_options(prefix: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filters of `traces list`. With `prefix` ("where-") the option and parameter names carry it, for a
    command whose own --skill, --outcome and --tag say what to change (`traces set`)."""
    dest = prefix.replace("-", "_")
    short = () if prefix else ("-s",)
    options = [
        click.option(*short, f"--{prefix}skill", f"{dest}skill", help="Only runs of this skill."),
        click.option(
            f"--{prefix}outcome",
            f"{dest}outcomes",
            multiple=True,
            type=click.Choice(STATUSES),
            help="Only this outcome (repeatable).",
        ),
        click.option("--since", help="Recorded at or after: ISO time or an age such as 24h, 7d."),
        click.option("--until", help="Recorded before: ISO time or an age such as 24h, 7d."),
        click.option(
            f"--{prefix}tag", f"{dest}tags", multiple=True, help="Only runs with this tag (repeatable: all must match)."
        ),
    ]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-n", "--limit", type=click.IntRange(min=0), default=20, show_default=True),
        click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True),
    ]
    for option in reversed(options):
        command = option(command)
    return format_options(_selection_options()(command))


def _filters(
    skill: str | None, outcomes: tuple[str, ...], since: str | None, until: str | None, tags: tuple[str, ...]
) -> dict[str, Any]:
    return {"skill": skill, "outcome": list(outcomes) or None, "since": since, "until": until, "tags": list(tags)}


def _outcome_text(status: str, score: float | None) -> str:
    style = OUTCOME_STYLES.get(status, "")
    shown = f"[{style}]{status}[/]" if style else status
    return shown if score is None else f"{shown} {score:g}"


def _outcome_cell(row: Mapping[str, Any]) -> Text:
    text = Text(str(row["outcome"]), style=OUTCOME_STYLES.get(str(row["outcome"]), ""))
    return text if row.get("score") is None else text + f" {row['score']:g}"


def _skill_cell(row: Mapping[str, Any]) -> Text:
    skill = row.get("skill")
    version = row.get("skill_version")
    return Text("" if skill is None else skill + (f"@{version}" if version else ""))


TRACE_COLUMNS = (
    Column("id", ident=True, width=20),
    Column(
        "created_at",
        "recorded (UTC)",
        priority=3,
        width=16,
        cell=lambda row: Text(str(row["created_at"])[:16].replace("T", " ")),
    ),
    Column("skill", priority=1, width=14, cell=_skill_cell),
    Column("skill_version", priority=9, width=13, cell=lambda row: Text(flat(row.get("skill_version")))),
    Column("outcome", priority=0, width=8, cell=_outcome_cell),
    Column("score", priority=9, width=5),
    Column("tags", priority=4, width=12, cell=lambda row: Text(", ".join(row.get("tags") or []))),
    Column("task", priority=2, width=24, fill=True),
)
"""`traces list` and `traces search`: every field in tsv/csv/json; the table folds skill_version and
score into the skill and outcome cells."""

_TABLE_HIDDEN = ("skill_version", "score")


def _listing(
    state: State,
    filters: dict[str, Any],
    limit: int,
    offset: int,
    output_format: str | None,
    as_json: bool,
    no_headers: bool,
) -> None:
    store = state.workspace.traces
    fmt = resolve_format(output_format, as_json)
    summaries = store.summaries(**filters, limit=limit, offset=offset, whole_task=is_structured(fmt))
    rows = [row.model_dump(mode="json") for row in summaries]
    if is_structured(fmt):
        emit(rows, TRACE_COLUMNS, fmt, headers=not no_headers, empty="No trajectories match.")
        return
    total = store.count(**filters)
    empty = "No trajectories match." if total == 0 else f"No trajectories past offset {offset} of {total}."
    footer = f"[dim]{offset + 1}-{offset + len(rows)} of {total}[/]" if rows else None
    columns = [c for c in TRACE_COLUMNS if c.key not in _TABLE_HIDDEN]
    emit(rows, columns, fmt, empty=empty, footer=footer)


@traces_group.command("list")
@_filter_options
@pass_state
def list_command(
    state: State,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
    limit: int,
    offset: int,
    output_format: str | None,
    as_json: bool,
    no_headers: bool,
) -> None:
    """Recorded trajectories, newest first.

    On a terminal a table; piped, tab-separated values with every id and field whole
    (--format tsv|csv|json|ndjson|table to choose)."""
    _listing(state, _filters(skill, outcomes, since, until, tags), limit, offset, output_format, as_json, no_headers)


@traces_group.command("search")
@click.argument("query")
@_filter_options
@pass_state
def search_command(
    state: State,
    query: str,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
    limit: int,
    offset: int,
    output_format: str | None,
    as_json: bool,
    no_headers: bool,
) -> None:
    """Trajectories whose task, final answer, feedback, message text, tool output or tool names contain every
    word of QUERY (`word*` for a prefix; `get_weather` finds the runs that called that tool)."""
    filters = {**_filters(skill, outcomes, since, until, tags), "text": query}
    _listing(state, filters, limit, offset, output_format, as_json, no_headers)


# --- one trajectory -----------------------------------------------------------------------------


def _clip(text: str) -> str:
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"… ({len(text) - SHOWN_CHARS:,} more characters; --json shows all)"


def _print_trajectory(t: Trajectory) -> None:
    console = make_console()
    outcome = t.outcome
    console.print(f"[bold]{t.id}[/]  recorded {t.created_at:%Y-%m-%d %H:%M:%S} UTC" if t.created_at else t.id)
    if t.skill:
        console.print(f"skill    {escape(t.skill)}" + (f" version {t.skill_version}" if t.skill_version else ""))
    judged = f" (judged by {escape(outcome.judged_by)})" if outcome.judged_by else ""
    console.print(f"outcome  {_outcome_text(outcome.status, outcome.score)}{judged}")
    if outcome.feedback:
        console.print(f"feedback {escape(_clip(outcome.feedback))}")
    if t.tags:
        console.print(f"tags     {escape(', '.join(t.tags))}")
    console.print(f"task     {escape(_clip(t.task))}")
    if t.final_answer is not None:
        console.print(f"answer   {escape(_clip(t.final_answer))}")
    for number, message in enumerate(t.messages, 1):
        stamp = f" {message.timestamp:%H:%M:%S}" if message.timestamp else ""
        console.rule(f"[bold]{number}. {message.role}[/]{stamp}", align="left", style="dim")
        for part in message.content:
            if isinstance(part, TextPart):
                console.print(escape(_clip(part.text)))
            elif isinstance(part, ReasoningPart):
                console.print(f"[dim italic]{escape(_clip(part.text))}[/]")
            elif isinstance(part, ToolCallPart):
                arguments = part.arguments if isinstance(part.arguments, str) else json.dumps(part.arguments)
                console.print(f"[cyan]→ {escape(part.name)}[/]({escape(_clip(arguments))})")
            elif isinstance(part, ToolResultPart):
                style = "red" if part.is_error else "green"
                label = "error" if part.is_error else "result"
                console.print(f"[{style}]← {label}[/] {escape(_clip(part.output_text))}")
    if t.artifacts:
        console.rule("[bold]artifacts[/]", align="left", style="dim")
        for artifact in t.artifacts:
            console.print(f"{escape(artifact.name)} ({len(artifact.content):,} chars, {artifact.encoding})")


@traces_group.command("show")
@click.argument("trajectory_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the whole trajectory as JSON.")
@pass_state
def show_command(state: State, trajectory_id: str, as_json: bool) -> None:
    """One trajectory: outcome, task, and every message."""
    trajectory = state.workspace.traces.get(trajectory_id)
    if as_json:
        _echo_json(trajectory.model_dump(mode="json"))
    else:
        _print_trajectory(trajectory)


@traces_group.command("label")
@click.argument("trajectory_id", metavar="ID")
@click.argument("status", type=click.Choice(STATUSES))
@click.option("--score", type=FINITE, help="A score, e.g. 0.0-1.0.")
@click.option("--feedback", help="Why: what was wrong or right.")
@click.option("--judge", default="human", show_default=True, help="Who decided.")
@click.option("--json", "as_json", is_flag=True, help="Print the new outcome as JSON.")
@pass_state
def label_command(
    state: State, trajectory_id: str, status: str, score: float | None, feedback: str | None, judge: str, as_json: bool
) -> None:
    """Set a trajectory's outcome (replaces its status, score and feedback)."""
    outcome = {"status": status, "score": score, "feedback": feedback, "judged_by": judge}
    updated = state.workspace.traces.label(trajectory_id, Outcome.model_validate(outcome))
    if as_json:
        _echo_json({"id": updated.id, "outcome": updated.outcome.model_dump(mode="json")})
    else:
        click.echo(f"Labelled {updated.id} as {status}.")


# --- changing many: set, delete, export ----------------------------------------------------------


def _bulk_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """IDS, full-text search and --all, next to the filters, for the commands that act on a selection."""
    command = click.option(
        "--all", "everything", is_flag=True, help="Every stored run (when no id or filter is given)."
    )(command)
    command = click.option("--search", "text", help="Only runs whose text contains every word (as `traces search`).")(
        command
    )
    return click.argument("ids", nargs=-1, metavar="[ID]...")(command)


def _selection(
    ids: tuple[str, ...],
    everything: bool,
    text: str | None,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
) -> dict[str, Any]:
    """Keyword arguments of `TraceStore.update_where`/`delete_where`/`export_json` for the options given."""
    return {
        "ids": list(ids) or None,
        "everything": everything,
        "text": text,
        **_filters(skill, outcomes, since, until, tags),
    }


def stdin_is_terminal() -> bool:
    """Whether a question can be asked (a person at the keyboard); tests replace it."""
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Ask `question` on a terminal; without one, refuse unless --yes was given."""
    if yes:
        return
    if not stdin_is_terminal():
        raise InvalidInput(f"{question.rstrip('?')}: this needs confirmation and stdin is not a terminal; add --yes")
    click.confirm(question, abort=True, err=True)


def _runs(n: int) -> str:
    return f"{n:,} trajectory" if n == 1 else f"{n:,} trajectories"


@traces_group.command("set")
@_bulk_options
@_selection_options("where-")
@click.option("-s", "--skill", "new_skill", help="Attach the runs to this skill (their recorded version is cleared).")
@click.option("--tag", "add_tags", multiple=True, help="Add this tag (repeatable).")
@click.option("--untag", "remove_tags", multiple=True, help="Remove this tag (repeatable).")
@click.option(
    "--outcome", "new_outcome", type=click.Choice(STATUSES), help="Set the outcome status (judged by: human)."
)
@click.option(
    "--score", type=FINITE, help="With --outcome: the score (else kept when the status is, cleared when not)."
)
@click.option("--dry-run", is_flag=True, help="Count the runs that would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help='Print {"changed": N, "dry_run": ...}.')
@pass_state
def set_command(
    state: State,
    ids: tuple[str, ...],
    everything: bool,
    text: str | None,
    where_skill: str | None,
    where_outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    where_tags: tuple[str, ...],
    new_skill: str | None,
    add_tags: tuple[str, ...],
    remove_tags: tuple[str, ...],
    new_outcome: str | None,
    score: float | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Change the skill, tags or outcome of stored runs: those with the given IDs, or every run the filters
    select (--where-skill, --where-outcome, --where-tag, --since, --until, --search; --all for every run).

    \b
    Examples:
      trace2skill traces set t_01j… t_01k… --skill xlsx
      trace2skill traces set --where-tag imported --since 7d --skill xlsx --untag imported --dry-run
      trace2skill traces set --search "KeyError" --outcome failure --score 0
    """
    from trace2skill.store import TraceChanges

    changes = TraceChanges(
        skill=new_skill, add_tags=add_tags, remove_tags=remove_tags, outcome=new_outcome, score=score
    )
    selection = _selection(ids, everything, text, where_skill, where_outcomes, since, until, where_tags)
    changed = state.workspace.traces.update_where(changes, dry_run=dry_run, **selection)
    if as_json:
        _echo_json({"changed": changed, "dry_run": dry_run})
    elif dry_run:
        click.echo(f"Would change {_runs(changed)} (dry run: nothing changed).")
    else:
        click.echo(f"Changed {_runs(changed)}.")


@traces_group.command("delete")
@_bulk_options
@_selection_options()
@click.option("--dry-run", is_flag=True, help="Count the runs that would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when stdin is not a terminal).")
@click.option("--json", "as_json", is_flag=True, help='Print {"deleted": N, "dry_run": ...}.')
@pass_state
def delete_command(
    state: State,
    ids: tuple[str, ...],
    everything: bool,
    text: str | None,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete runs (with their search entries and tags): those with the given IDs, or every run the filters
    select (--all for every run). Asks first on a terminal; elsewhere it needs --yes.

    \b
    Examples:
      trace2skill traces delete t_01j…
      trace2skill traces delete --skill xlsx --outcome unknown --until 30d --dry-run
    """
    store = state.workspace.traces
    selection = _selection(ids, everything, text, skill, outcomes, since, until, tags)
    count = store.delete_where(dry_run=True, **selection)  # unknown ids and a missing selection fail here
    if not dry_run and count:
        if len(ids) == 1:
            task = store.get(ids[0]).task
            preview = task if len(task) <= 60 else task[:60] + "…"
            confirm(f"Delete {ids[0]} ({preview!r})?", yes)
        else:
            confirm(f"Delete {_runs(count)}?", yes)
        count = store.delete_where(**selection)
    if as_json:
        _echo_json({"deleted": count, "dry_run": dry_run})
    elif dry_run:
        click.echo(f"Would delete {_runs(count)} (dry run: nothing deleted).")
    else:
        click.echo(f"Deleted {_runs(count)}.")


@traces_group.command("export")
@_bulk_options
@_selection_options()
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file (default: stdout)."
)
@pass_state
def export_command(
    state: State,
    ids: tuple[str, ...],
    everything: bool,
    text: str | None,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
    output: str | None,
) -> None:
    """Write runs as JSONL, one trajectory (the public JSON form, id and time included) a line, oldest first:
    every run, or those with the given IDs or the filters select. `trace2skill import` reads it back as it was.

    \b
    Examples:
      trace2skill traces export > runs.jsonl
      trace2skill traces export --skill xlsx --since 7d -o xlsx.jsonl
      trace2skill --home ../other traces export | trace2skill import -
    """
    selection = _selection(ids, everything, text, skill, outcomes, since, until, tags)
    del selection["everything"]  # an export with no selection is every run
    lines = state.workspace.traces.export_json(**selection)
    target = "-" if output is None else str(Path(output).expanduser())
    written = 0
    try:
        with click.open_file(target, "wb") as f:
            for line in lines:
                f.write(line.encode("utf-8") + b"\n")
                written += 1
    except OSError as e:
        raise InvalidInput(f"cannot write {target!r}: {e.strerror or e}") from None
    if output is not None:
        click.echo(f"Exported {_runs(written)} to {target}.", err=True)
