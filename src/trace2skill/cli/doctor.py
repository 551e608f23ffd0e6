"""`trace2skill doctor`: a thin shell over `trace2skill.integrations.doctor`."""

from __future__ import annotations

import json
import sys

import click

from trace2skill.cli.main import State, cli, pass_state

__all__ = ["doctor_command"]


@cli.command("doctor", epilog="\b\nExamples:\n  trace2skill doctor\n  trace2skill doctor --check-model --json")
@click.option(
    "--check-model", is_flag=True, help="Also make one tiny call to the configured model (costs a few tokens)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_state
def doctor_command(state: State, check_model: bool, as_json: bool) -> None:
    """Check the home folder, the database, the provider configuration and client registrations.

    One line per check: ok, warn or fail, and what to do. Exit status 1 when any check fails."""
    from trace2skill.integrations.doctor import run

    checks = run(state.home, check_model_call=check_model)
    failed = any(c.status == "fail" for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        colours = {"ok": "green", "warn": "yellow", "fail": "red"}
        for c in checks:
            mark = click.style(f"{c.status:<4}", fg=colours[c.status])
            click.echo(f"{mark}  {c.name:<22} {c.message}")
            if c.fix and c.status != "ok":
                click.echo(f"      {'':<22} fix: {c.fix}")
    if failed:
        sys.exit(1)
