"""`trace2skill record` and `trace2skill traces list|show|search|label|delete`: thin shells over TraceStore."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trace2skill.cli.main import cli, pass_state
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
from trace2skill.store import STATUSES, TraceSummary

__all__ = ["record_command", "traces_group"]

OUTCOME_STYLES = {"success": "green", "failure": "red", "partial": "yellow", "unknown": "dim"}
SHOWN_CHARS = 2_000


@cli.group("traces")
def traces_group() -> None:
    """Recorded trajectories."""


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


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


def _store(state: Any, trajectory: Trajectory) -> str:
    """Store through `Workspace.record` (which redacts) when it exists, else straight into the trace store."""
    workspace = state.workspace
    recorder: Callable[[Trajectory], Any] | None = getattr(workspace, "record", None)
    result = recorder(trajectory) if callable(recorder) else workspace.traces.add(trajectory)
    if isinstance(result, tuple):
        result = result[0]
    return result if isinstance(result, str) else result.id


@cli.command("record")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("--skill", help="Set the skill the run used.")
@click.option("--outcome", type=click.Choice(STATUSES), help="Set the outcome status.")
@click.option("--tag", "tags", multiple=True, help="Add a tag (repeatable).")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ...}.')
@pass_state
def record_command(
    state: Any, source: str, skill: str | None, outcome: str | None, tags: tuple[str, ...], as_json: bool
) -> None:
    """Store one trajectory (JSON, from FILE or stdin) and print its id."""
    trajectory = _with_overrides(parse_trajectory(_read_source(source)), skill, outcome, tags)
    ident = _store(state, trajectory)
    if as_json:
        _echo_json({"id": ident})
    else:
        click.echo(ident)


# --- listings -----------------------------------------------------------------------------------


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--skill", help="Only runs of this skill."),
        click.option(
            "--outcome", "outcomes", multiple=True, type=click.Choice(STATUSES), help="Only this outcome (repeatable)."
        ),
        click.option("--since", help="Recorded at or after: ISO time or an age such as 24h, 7d."),
        click.option("--until", help="Recorded before: ISO time or an age such as 24h, 7d."),
        click.option("--tag", "tags", multiple=True, help="Only runs with this tag (repeatable: all must match)."),
        click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True),
        click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON list."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _filters(
    skill: str | None, outcomes: tuple[str, ...], since: str | None, until: str | None, tags: tuple[str, ...]
) -> dict[str, Any]:
    return {"skill": skill, "outcome": list(outcomes) or None, "since": since, "until": until, "tags": list(tags)}


def _outcome_text(status: str, score: float | None) -> str:
    style = OUTCOME_STYLES.get(status, "")
    shown = f"[{style}]{status}[/]" if style else status
    return shown if score is None else f"{shown} {score:g}"


def _print_table(rows: list[TraceSummary], total: int, offset: int) -> None:
    console = Console()
    if not rows:
        console.print("No trajectories match." if total == 0 else f"No trajectories past offset {offset} of {total}.")
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("id", no_wrap=True, min_width=20)
    table.add_column("recorded (UTC)", no_wrap=True, min_width=16)
    table.add_column("skill", overflow="fold", min_width=5, max_width=24)
    table.add_column("outcome", overflow="fold", min_width=7)
    table.add_column("tags", overflow="fold", min_width=8, max_width=24)
    table.add_column("task", overflow="ellipsis", no_wrap=True, min_width=10, ratio=1)
    for row in rows:
        skill = "" if row.skill is None else row.skill + (f"@{row.skill_version}" if row.skill_version else "")
        table.add_row(
            row.id,
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            escape(skill),
            _outcome_text(row.outcome, row.score),
            escape(", ".join(row.tags)),
            escape(row.task.replace("\n", " ")),
        )
    console.print(table)
    console.print(f"[dim]{offset + 1}-{offset + len(rows)} of {total}[/]")


def _listing(state: Any, filters: dict[str, Any], limit: int, offset: int, as_json: bool) -> None:
    store = state.workspace.traces
    rows = store.summaries(**filters, limit=limit, offset=offset)
    if as_json:
        _echo_json([row.model_dump(mode="json") for row in rows])
    else:
        _print_table(rows, store.count(**filters), offset)


@traces_group.command("list")
@_filter_options
@pass_state
def list_command(
    state: Any,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Recorded trajectories, newest first."""
    _listing(state, _filters(skill, outcomes, since, until, tags), limit, offset, as_json)


@traces_group.command("search")
@click.argument("query")
@_filter_options
@pass_state
def search_command(
    state: Any,
    query: str,
    skill: str | None,
    outcomes: tuple[str, ...],
    since: str | None,
    until: str | None,
    tags: tuple[str, ...],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Trajectories whose task, final answer or feedback contain every word of QUERY (`word*` for a prefix)."""
    _listing(state, {**_filters(skill, outcomes, since, until, tags), "text": query}, limit, offset, as_json)


# --- one trajectory -----------------------------------------------------------------------------


def _clip(text: str) -> str:
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"… ({len(text) - SHOWN_CHARS:,} more characters; --json shows all)"


def _print_trajectory(t: Trajectory) -> None:
    console = Console(highlight=False)
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
def show_command(state: Any, trajectory_id: str, as_json: bool) -> None:
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
    state: Any, trajectory_id: str, status: str, score: float | None, feedback: str | None, judge: str, as_json: bool
) -> None:
    """Set a trajectory's outcome (replaces its status, score and feedback)."""
    outcome = {"status": status, "score": score, "feedback": feedback, "judged_by": judge}
    updated = state.workspace.traces.label(trajectory_id, Outcome.model_validate(outcome))
    if as_json:
        _echo_json({"id": updated.id, "outcome": updated.outcome.model_dump(mode="json")})
    else:
        click.echo(f"Labelled {updated.id} as {status}.")


@traces_group.command("delete")
@click.argument("trajectory_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help='Print {"id": ..., "deleted": true}.')
@pass_state
def delete_command(state: Any, trajectory_id: str, yes: bool, as_json: bool) -> None:
    """Delete a trajectory (with its search entry and tags)."""
    store = state.workspace.traces
    trajectory = store.get(trajectory_id)  # an unknown id fails before any question
    if not yes:
        preview = trajectory.task if len(trajectory.task) <= 60 else trajectory.task[:60] + "…"
        click.confirm(f"Delete {trajectory_id} ({preview!r})?", abort=True, err=True)
    store.delete(trajectory_id)
    if as_json:
        _echo_json({"id": trajectory_id, "deleted": True})
    else:
        click.echo(f"Deleted {trajectory_id}.")
