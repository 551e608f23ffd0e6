"""`trace2skill setup CLIENT`: a thin shell over `trace2skill.integrations.setup`."""

from __future__ import annotations

import json

import click

from trace2skill.cli.main import State, cli, pass_state

__all__ = ["setup_command"]

_VERBS = {
    "add": ("added", "would add"),
    "update": ("updated", "would update"),
    "unchanged": ("unchanged", "unchanged"),
    "remove": ("removed", "would remove"),
    "restore": ("restored", "would restore"),
    "kept": ("kept", "would keep"),
    "missing": ("gone", "gone"),
    "none": ("-", "-"),
}


@cli.command(
    "setup",
    epilog=(
        "\b\nExamples:\n  trace2skill setup claude-code --dry-run\n  trace2skill setup cursor\n"
        "  trace2skill setup codex --undo"
    ),
)
@click.argument("client", type=click.Choice(["claude-code", "claude-desktop", "cursor", "codex"]))
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--undo", is_flag=True, help="Remove exactly what an earlier setup of CLIENT added.")
@click.option(
    "--command",
    "command",
    type=click.Path(dir_okay=False),
    help="The trace2skill executable the client should start (default: the one running now).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
def setup_command(state: State, client: str, dry_run: bool, undo: bool, command: str | None, as_json: bool) -> None:
    """Register trace2skill with CLIENT: its MCP server entry, the capture hook (Claude Code), and
    publishing into the client's skills folder. Running it again changes nothing; --undo takes it back.
    Files: see docs/integrations.md (CLAUDE_CONFIG_DIR, CODEX_HOME, XDG_CONFIG_HOME are honoured)."""
    from trace2skill.integrations import setup as library

    if undo:
        if command is not None:
            raise click.UsageError("--command applies to setting up, not to --undo")
        result = library.undo(client, state.home, dry_run=dry_run)
    else:
        result = library.setup(client, state.home, dry_run=dry_run, command=command)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    if result.undo:
        head = "nothing to undo" if not result.steps else ("would undo" if dry_run else "undone")
    elif not result.changed:
        head = "already set up; nothing changed"
    else:
        head = "dry run, nothing written" if dry_run else "set up"
    click.echo(f"{client}: {head}")
    for step in result.steps:
        verb = _VERBS[step.action][1 if dry_run else 0]
        click.echo(f"  {verb:<11} {step.detail}  ({step.file})")
    for note in result.notes:
        click.echo(f"  note: {note}")
