"""The `trace2skill` command group: global options and one-line error reporting."""

from __future__ import annotations

import sys
import traceback
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from trace2skill import __version__
from trace2skill.home import Home

if TYPE_CHECKING:
    from trace2skill.workspace import Workspace


class State:
    """Per-invocation state; the workspace (database) opens only when a command needs it."""

    def __init__(self, home: Home, debug: bool = False) -> None:
        self.home = home
        self.debug = debug

    @cached_property
    def workspace(self) -> Workspace:
        from trace2skill.workspace import Workspace

        return Workspace.open(self.home)


_CLICK_OWN = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


class Trace2SkillGroup(click.Group):
    """Every error becomes one `Error: ...` line on stderr and exit 1; `--debug` adds the traceback.

    Expected errors say what went wrong and what to do next (`trace2skill.explain`); anything else
    is reported as a bug in one line. Click's own usage errors, exits and aborts pass through.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _CLICK_OWN:
            raise
        except Exception as e:
            report_error(ctx, e)
            sys.exit(1)


def report_error(ctx: click.Context, error: Exception) -> None:
    """Print `Error: <one line>` (after the traceback with --debug)."""
    from trace2skill.explain import bug_line, explain

    state = ctx.obj if isinstance(ctx.obj, State) else None
    debug = state.debug if state is not None else bool(ctx.params.get("debug"))
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    database = state.home.db_path if state is not None else None
    known = explain(error, database=database)
    line = str(known) if known is not None else bug_line(error, "run it again with --debug and report the traceback")
    click.echo(f"Error: {' '.join(line.splitlines()) or type(error).__name__}", err=True)


@click.group(cls=Trace2SkillGroup)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help="State folder (database, published skills). Default: $TRACE2SKILL_HOME or ~/.trace2skill.",
)
@click.option("--debug", is_flag=True, help="On an error, print the traceback before the one-line message.")
@click.version_option(__version__, prog_name="trace2skill")
@click.pass_context
def cli(ctx: click.Context, home: str | None, debug: bool) -> None:
    """Evolve Agent Skills from your agents' own trajectories."""
    ctx.obj = State(Home.resolve(home), debug=debug)


pass_state = click.make_pass_decorator(State)
