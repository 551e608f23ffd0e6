"""The `trace2skill` command group: global options and one-line error reporting."""

from __future__ import annotations

import sys
from functools import cached_property
from typing import Any

import click

from trace2skill import __version__
from trace2skill.errors import Trace2SkillError
from trace2skill.home import Home


class State:
    """Per-invocation state; the workspace (database) opens only when a command needs it."""

    def __init__(self, home: Home) -> None:
        self.home = home

    @cached_property
    def workspace(self) -> Any:
        from trace2skill.workspace import Workspace

        return Workspace.open(self.home)


class Trace2SkillGroup(click.Group):
    """Turns expected errors into `Error: ...` on stderr and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Trace2SkillError as e:
            click.echo(f"Error: {e}", err=True)
            sys.exit(1)


@click.group(cls=Trace2SkillGroup)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="State folder (database, published skills). Default: $TRACE2SKILL_HOME or ~/.trace2skill.",
)
@click.version_option(__version__, prog_name="trace2skill")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Evolve Agent Skills from your agents' own trajectories."""
    ctx.obj = State(Home.resolve(home))


pass_state = click.make_pass_decorator(State)
