"""An example at the end of every command's `--help` (its click epilog), kept in one place.

`add_examples(cli)` runs once the command modules are imported; a command that already has an
epilog, or an example in its own help text, keeps it. tests/cli/test_help.py checks that every
command has one.
"""

from __future__ import annotations

import click

__all__ = ["EXAMPLES", "add_examples", "has_example"]

EXAMPLES: dict[str, tuple[str, ...]] = {
    "bench": ("trace2skill bench --suite wikitq-small -m local -s table-qa --train 50 --test 100",),
    "config get": ("trace2skill config get model",),
    "config list": ("trace2skill config list --format json",),
    "config set": (
        "trace2skill config set model sonnet",
        "trace2skill config set alias.fast openai:gpt-5-nano",
        "trace2skill config set workers 8",
    ),
    "config unset": ("trace2skill config unset budget-usd",),
    "demo": ("trace2skill demo --home ./demo-home",),
    "evolve": (
        "trace2skill evolve spreadsheet-qa -m sonnet --dry-run",
        "trace2skill evolve spreadsheet-qa -m sonnet --budget-usd 2 --outcome failure -n 100",
    ),
    "hooks install": ("trace2skill hooks install claude-code --scope project",),
    "hooks run": ("trace2skill hooks run claude-code --sync < hook-payload.json",),
    "hooks status": ("trace2skill hooks status claude-code",),
    "hooks uninstall": ("trace2skill hooks uninstall claude-code",),
    "import": (
        "trace2skill import auto ~/.claude/projects --skill xlsx",
        "trace2skill import openai-chat runs.jsonl --tag nightly --json",
    ),
    "models install": ("trace2skill models install qwen2.5-coder-1.5b",),
    "models list": ("trace2skill models list",),
    "record": ("trace2skill record run.json --outcome failure --tag triage",),
    "runs list": ("trace2skill runs list -s spreadsheet-qa --format csv > runs.csv",),
    "runs report": ("trace2skill runs report RUN -o report.html",),
    "runs show": ("trace2skill runs show RUN --json",),
    "serve": ("trace2skill serve --transport http --port 8765",),
    "skills delete": ("trace2skill skills delete old-skill",),
    "skills diff": ("trace2skill skills diff spreadsheet-qa 1 2",),
    "skills export": ("trace2skill skills export spreadsheet-qa ~/.claude/skills",),
    "skills history": ("trace2skill skills history spreadsheet-qa --format json",),
    "skills import": ("trace2skill skills import ~/.claude/skills/xlsx -m 'first import'",),
    "skills list": ("trace2skill skills list | cut -f1",),
    "skills publish": ("trace2skill skills publish spreadsheet-qa --version 3",),
    "skills review": ("trace2skill skills review spreadsheet-qa",),
    "skills rollback": ("trace2skill skills rollback spreadsheet-qa 1",),
    "skills show": ("trace2skill skills show spreadsheet-qa --provenance",),
    "skills sync": ("trace2skill skills sync spreadsheet-qa",),
    "skills usage": ("trace2skill skills usage spreadsheet-qa --json",),
    "skills validate": ("trace2skill skills validate ./my-skill",),
    "suites list": ("trace2skill suites list --format json",),
    "suites show": ("trace2skill suites show wikitq-small --split test --limit 3",),
    "traces delete": ("trace2skill traces delete ID --yes",),
    "traces export": ("trace2skill traces export --skill spreadsheet-qa > runs.jsonl",),
    "traces judge": ("trace2skill traces judge -m haiku --limit 50",),
    "traces label": ("trace2skill traces label ID failure --feedback 'wrong sheet'",),
    "traces list": (
        "trace2skill traces list -s spreadsheet-qa --outcome failure -n 50",
        "trace2skill traces list --since 7d | cut -f1",
    ),
    "traces search": ("trace2skill traces search 'orders march' --format ndjson",),
    "traces set": ("trace2skill traces set ID --skill spreadsheet-qa --tag reviewed --dry-run",),
    "traces show": ("trace2skill traces show ID",),
}


def has_example(command: click.Command) -> bool:
    """Whether `--help` shows an example: an epilog, or `Example` in the help text itself."""
    return bool(command.epilog) or "Example" in (command.help or "")


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _walk(command, (*path, name))
        else:
            found.append((" ".join((*path, name)), command))
    return found


def add_examples(cli: click.Group) -> None:
    """Give each command without an example its entry of EXAMPLES as an epilog."""
    for path, command in _walk(cli):
        lines = EXAMPLES.get(path)
        if lines and not has_example(command):
            heading = "Example:" if len(lines) == 1 else "Examples:"
            command.epilog = "\b\n" + heading + "\n" + "\n".join(f"  {line}" for line in lines)
