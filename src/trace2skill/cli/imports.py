"""`trace2skill import`, `trace2skill hooks ...` and `trace2skill traces judge`: thin shells over
`trace2skill.importers` and `trace2skill.integrations`."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trace2skill.cli.config import model_option_callback
from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import console as make_console
from trace2skill.cli.params import PRICE, PRICE_HELP
from trace2skill.cli.traces import traces_group
from trace2skill.errors import InvalidInput, NotFound, ProviderUnreachable

__all__ = ["hooks", "import_command", "judge_command"]

_OUTCOMES = ("success", "failure", "partial", "unknown")
_SHOWN_ERRORS = 20


def _stderr() -> Console:
    return make_console(stderr=True)  # NO_COLOR: no escape codes


def _redaction(state: State, enabled: bool) -> Any:
    from trace2skill.importers import RedactionConfig

    return RedactionConfig.load(state.home.redaction_path) if enabled else None


@cli.command("import")
@click.argument("format_name", metavar="FORMAT|auto")
@click.argument("paths", nargs=-1, type=click.Path(), metavar="PATH...|-")
@click.option("--skill", help="Skill name to record on every imported run (else what the source says).")
@click.option("--outcome", type=click.Choice(_OUTCOMES), help="Label every imported run (judged_by: human).")
@click.option("--tag", "tags", multiple=True, help="Tag to add to every imported run (repeatable).")
@click.option("--no-redact", is_flag=True, help="Store secrets and e-mail addresses as they are (not advised).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_state
def import_command(
    state: State,
    format_name: str,
    paths: tuple[str, ...],
    skill: str | None,
    outcome: str | None,
    tags: tuple[str, ...],
    no_redact: bool,
    as_json: bool,
) -> None:
    """Import trajectories from agent logs: Claude Code transcripts, OpenAI Chat/Responses (Codex),
    Anthropic Messages, OpenTelemetry GenAI / OpenInference spans, Harbor ATIF.

    FORMAT is auto (detect per file) or one of: claude-code, openai-chat, openai-responses,
    anthropic-messages, otel, atif, trace2skill (our own JSONL, as `traces export` writes it; also
    `jsonl`). Folders are searched for .jsonl/.json/.traj files; `-` reads stdin. Secrets and
    e-mail addresses are redacted before anything is stored. Runs stored before are not duplicated;
    --skill, --tag and --outcome are applied to them too. Exit status 0 when anything imported,
    even if some records were bad (they are listed with file:line); 1 when nothing could be.
    """
    with contextlib.ExitStack() as cleanup:
        _import(state, cleanup, format_name, paths, skill, outcome, tags, no_redact, as_json)


def _spool_stdin(cleanup: contextlib.ExitStack) -> Path:
    """Stdin copied to a temporary file (removed at the end), so it can be detected and read like any file."""
    folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="trace2skill-stdin-")))
    spool = folder / "stdin.jsonl"
    with spool.open("wb") as f, click.open_file("-", "rb") as stdin:
        shutil.copyfileobj(stdin, f)
    return spool


def _import(
    state: State,
    cleanup: contextlib.ExitStack,
    format_name: str,
    paths: tuple[str, ...],
    skill: str | None,
    outcome: str | None,
    tags: tuple[str, ...],
    no_redact: bool,
    as_json: bool,
) -> None:
    from trace2skill.importers import ImportSummary, expand_paths, normalize_format
    from trace2skill.importers.pipeline import import_file
    from trace2skill.importers.redact import Redactor
    from trace2skill.integrations.ingest import store_imported
    from trace2skill.models import LIMITS, SKILL_NAME_RE
    from trace2skill.store import TraceChanges

    fmt_arg, path_args = format_name, list(paths)
    try:
        fmt = normalize_format(fmt_arg)
    except InvalidInput:
        if fmt_arg == "-" or Path(fmt_arg).expanduser().exists():  # `trace2skill import PATH...`: detect
            fmt, path_args = "auto", [fmt_arg, *path_args]
        else:
            raise
    if not path_args:
        raise InvalidInput("give at least one file or folder to import, or - for stdin")
    if path_args.count("-") > 1:
        raise InvalidInput("stdin (-) can be read only once: give - one time")
    if skill is not None and not SKILL_NAME_RE.match(skill):
        raise InvalidInput(f"--skill {skill!r} is not a valid Agent Skills name (a-z, 0-9 and single '-')")
    for tag in tags:
        if not 1 <= len(tag) <= LIMITS.tag_chars:
            raise InvalidInput(f"--tag {tag[:80]!r}: tags are 1-{LIMITS.tag_chars} characters")
    spool = _spool_stdin(cleanup) if "-" in path_args else None
    files = expand_paths([str(spool) if p == "-" else p for p in path_args])
    if not files:
        raise InvalidInput("no .jsonl, .json or .traj files found under the given paths")
    config = _redaction(state, not no_redact)
    redactor = Redactor(config) if config is not None else None
    summary = ImportSummary(files=len(files))
    versioned: Counter[str] = Counter()
    store = state.workspace.traces

    def items() -> Any:
        for path in files:
            progress.update(task, description=f"[cyan]{path.name[:40]}")
            for item in import_file(path, fmt, skill=skill, outcome=outcome, tags=tags, redactor=redactor):
                if spool is not None and path == spool:  # name stdin as the user gave it
                    item.source = item.source.replace(str(spool), "stdin")
                    item.error = item.error and item.error.replace(str(spool), "stdin")
                summary.add(item)
                progress.update(task, imported=summary.imported, errors=summary.errors_total)
                if item.trajectory is not None:
                    yield item.trajectory
            progress.advance(task)

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[imported]} runs · {task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=_stderr(),
        transient=True,
        disable=not sys.stderr.isatty(),  # on stderr: --json on stdout is unaffected
    )
    with progress:
        task = progress.add_task("importing", total=len(files), imported=0, errors=0)
        counts = store_imported(state.workspace, items(), versioned)
    relabelled = 0
    if counts.unchanged and (skill is not None or tags or outcome is not None):
        # runs stored before and read again unchanged: the options given now still apply to them
        changes = TraceChanges(skill=skill, add_tags=tags, outcome=outcome)
        relabelled = store.update_where(changes, counts.ids)

    stored = {
        **counts.as_dict(),
        "relabelled": relabelled,
        "versioned": dict(sorted(versioned.items())),
        "skill_reads": dict(sorted(counts.skill_reads.items())),
    }
    result = {**summary.as_dict(), "stored": stored, "ids": counts.ids}
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        _print_summary(summary, counts, relabelled, versioned)
    if counts.total == 0:
        reason = "every file was unsupported" if summary.unsupported and not summary.errors else "see the errors above"
        click.echo(f"Error: nothing was imported ({reason})", err=True)
        sys.exit(1)


def _print_summary(summary: Any, counts: Any, relabelled: int = 0, versioned: Counter[str] | None = None) -> None:
    formats = ", ".join(f"{name} {n}" for name, n in sorted(summary.formats.items()))
    click.echo(
        f"Imported {summary.imported} trajectories from {summary.files} file(s)" + (f" ({formats})" if formats else "")
    )
    given = f" ({relabelled} already stored given the --skill/--tag/--outcome)" if relabelled else ""
    click.echo(f"  stored: {counts.added} new, {counts.replaced} updated, {counts.unchanged} unchanged{given}")
    if versioned:
        named = ", ".join(f"{skill} {n}" for skill, n in sorted(versioned.items()))
        click.echo(f"  skill versions from the SKILL.md text the runs loaded: {named}")
    if counts.skill_reads:
        named = ", ".join(f"{skill} {n}" for skill, n in sorted(counts.skill_reads.items()))
        click.echo(f"  skill files the runs used, recorded as reads (skills usage NAME): {named}")
    if summary.redactions:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(summary.redactions.items()))
        click.echo(f"  redacted: {sum(summary.redactions.values())} ({kinds})")
    else:
        click.echo("  redacted: 0")
    if summary.truncations:
        click.echo(f"  truncated fields: {summary.truncations} (see metadata.truncated)")
    for title, rows, total in (
        ("unsupported files", summary.unsupported, len(summary.unsupported)),
        ("record errors", summary.errors, summary.errors_total),
    ):
        if not rows:
            continue
        click.echo(f"  {title} ({total}):")
        for source, error in rows[:_SHOWN_ERRORS]:
            click.echo(f"    {source}: {error}")
        if total > _SHOWN_ERRORS:
            click.echo(f"    ... and {total - _SHOWN_ERRORS} more (--json lists up to {len(rows)})")


# --- hooks -------------------------------------------------------------------------------------


@cli.group()
def hooks() -> None:
    """Capture hooks that import agent sessions as they finish (Claude Code)."""


_CLIENT = click.Choice(["claude-code"])


def _settings(scope: str, settings: str | None) -> Path:
    from trace2skill.integrations.claude_code import settings_path

    return Path(settings).expanduser() if settings else settings_path(scope)


@hooks.command("install")
@click.argument("client", type=_CLIENT)
@click.option(
    "--scope",
    type=click.Choice(["user", "project", "local"]),
    default="user",
    show_default=True,
    help="~/.claude/settings.json, .claude/settings.json or .claude/settings.local.json.",
)
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False), help="Edit this settings file instead.")
@click.option(
    "--event", "events", multiple=True, type=click.Choice(["Stop", "SessionEnd"]), help="Hook events (default: both)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def hooks_install(
    state: State, client: str, scope: str, settings_file: str | None, events: tuple[str, ...], as_json: bool
) -> None:
    """Add a Stop/SessionEnd hook that imports each Claude Code session into this home's store."""
    from trace2skill.integrations.claude_code import EVENTS, install

    path = _settings(scope, settings_file)
    change = install(path, state.home.root, tuple(events) or EVENTS)
    _report_change(change, "installed", as_json)


@hooks.command("uninstall")
@click.argument("client", type=_CLIENT)
@click.option("--scope", type=click.Choice(["user", "project", "local"]), default="user", show_default=True)
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def hooks_uninstall(client: str, scope: str, settings_file: str | None, as_json: bool) -> None:
    """Remove trace2skill's hooks from Claude Code's settings; other hooks and settings stay."""
    from trace2skill.integrations.claude_code import uninstall

    change = uninstall(_settings(scope, settings_file))
    _report_change(change, "removed", as_json)


@hooks.command("status")
@click.argument("client", type=_CLIENT)
@click.option("--scope", type=click.Choice(["user", "project", "local"]), default="user", show_default=True)
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def hooks_status(client: str, scope: str, settings_file: str | None, as_json: bool) -> None:
    """Show which events run the trace2skill hook in a settings file."""
    from trace2skill.integrations.claude_code import installed_events

    path = _settings(scope, settings_file)
    events = installed_events(path)
    if as_json:
        click.echo(json.dumps({"settings": str(path), "events": events}, indent=2))
        return
    if not events:
        click.echo(f"not installed in {path}")
    for event, command in events.items():
        click.echo(f"{event}: {command}  ({path})")


@hooks.command("run")
@click.argument("client", type=_CLIENT)
@click.option("--sync", is_flag=True, help="Import before returning instead of in a detached process.")
@pass_state
def hooks_run(state: State, client: str, sync: bool) -> None:
    """What the hook executes: read Claude Code's hook payload on stdin and import its transcript."""
    from trace2skill.integrations.hook import main

    argv = ["claude-code", "--home", str(state.home.root)] + (["--sync"] if sync else [])
    sys.exit(main(argv))


def _report_change(change: Any, verb: str, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps(
                {
                    "settings": str(change.path),
                    "changed": change.changed,
                    "events": change.events,
                    "backup": str(change.backup) if change.backup else None,
                },
                indent=2,
            )
        )
        return
    if not change.changed:
        click.echo(
            f"nothing to change in {change.path}"
            + (f" ({', '.join(change.events)} up to date)" if change.events else "")
        )
        return
    click.echo(f"{verb} {', '.join(change.events)} hook(s) in {change.path}")
    if change.backup:
        click.echo(f"previous settings kept in {change.backup}")


# --- traces judge ------------------------------------------------------------------------------


@click.command("judge")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Judge at most this many unlabelled runs.",
)
@click.option(
    "-m",
    "--model",
    callback=model_option_callback,
    help="provider:model or an alias for the judge (default: $TRACE2SKILL_MODEL, else `config get model`, else "
    "one for a provider key that is set).",
)
@click.option("--skill", help="Only runs of this skill.")
@click.option("--tag", "tags", multiple=True, help="Only runs with this tag (repeatable).")
@click.option("--concurrency", type=click.IntRange(min=1, max=64), default=4, show_default=True)
@click.option("--price", type=PRICE, help=PRICE_HELP)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def judge_command(
    state: State,
    limit: int,
    model: str | None,
    skill: str | None,
    tags: tuple[str, ...],
    concurrency: int,
    price: tuple[float, float] | None,
    as_json: bool,
) -> None:
    """Label runs whose outcome is unknown with an LLM judge (recorded as judged_by model:<model>)."""
    import anyio

    from trace2skill.importers.judge import judge_many
    from trace2skill.llm import open_llm
    from trace2skill.llm.defaults import configured_model, no_model_message

    chosen = configured_model(model)
    if chosen is None:
        raise InvalidInput(no_model_message("judge with"))
    model = chosen[0]
    store = state.workspace.traces
    pending = store.filter(skill=skill, outcome="unknown", tags=list(tags) or None, limit=limit)
    if not pending:
        click.echo("[]" if as_json else "no runs with an unknown outcome to judge")
        return
    rows: list[dict[str, Any]] = []
    progress = Progress(
        TextColumn("judging"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_stderr(),
        transient=True,
        disable=as_json or not sys.stderr.isatty(),
    )

    async def run() -> None:
        llm = open_llm(model, call_log=store.log_calls, home=state.home, price=price)
        try:
            with progress:
                bar = progress.add_task("judging", total=len(pending))

                def record(t: Any, outcome: Any, error: str | None) -> None:
                    if outcome is not None:
                        try:
                            store.label(t.id, outcome)
                        except NotFound:
                            error = "deleted while being judged"
                    rows.append(
                        {
                            "id": t.id,
                            "status": outcome.status if outcome and not error else None,
                            "score": outcome.score if outcome and not error else None,
                            "feedback": outcome.feedback if outcome and not error else None,
                            "error": error,
                        }
                    )
                    progress.advance(bar)

                await judge_many(llm, pending, model, concurrency=concurrency, on_result=record)
        finally:
            await llm.aclose()

    stopped: ProviderUnreachable | None = None
    try:
        anyio.run(run)
    except ProviderUnreachable as e:  # the runs judged before it stay labelled
        stopped = e
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if row["error"]:
                click.echo(f"{row['id']}: error: {row['error']}")
            else:
                click.echo(f"{row['id']}: {row['status']} ({row['score']:.2f}) {row['feedback']}")
        labelled = sum(1 for r in rows if not r["error"])
        click.echo(f"labelled {labelled} of {len(rows)} run(s) with model:{model}")
    if stopped is not None:
        raise ProviderUnreachable(f"{stopped} (the runs labelled so far are kept; run the same command for the rest)")
    if rows and all(r["error"] for r in rows):
        sys.exit(1)


traces_group.add_command(judge_command)
