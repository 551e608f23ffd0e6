"""`trace2skill demo`: a thin shell over `trace2skill.demo.run_demo`.

Narration and the report go to stdout; the evolve's live progress bars (the same display as
`trace2skill evolve`) go to stderr.
"""

from __future__ import annotations

from typing import Any

import click

from trace2skill.cli.main import cli
from trace2skill.cli.output import console as make_console

__all__ = ["demo"]


@cli.command()
@click.option(
    "--home",
    "demo_home",
    type=click.Path(file_okay=False),
    default=None,
    help="Run in this folder (new or empty) instead of a new temporary one. $TRACE2SKILL_HOME is not used.",
)
@click.option(
    "--model",
    help="Evolve with this model, e.g. anthropic:claude-sonnet-4-5 (default: $TRACE2SKILL_MODEL, else the "
    "ANTHROPIC_API_KEY / OPENAI_API_KEY defaults, else simulated answers from a local server).",
)
@click.option("--keep", is_flag=True, help="With --home: keep what the folder already holds and add the demo to it.")
@click.pass_context
def demo(ctx: click.Context, demo_home: str | None, model: str | None, keep: bool) -> None:
    """Import a starter skill, record 40 runs, evolve it, and show the report, diff and next steps.

    Works offline with no API key: the analysts' answers are then simulated, and it says so.
    """
    from trace2skill.cli.evolve import StageBars
    from trace2skill.demo import run_demo

    group_home = ctx.parent.params.get("home") if ctx.parent else None
    err = make_console(stderr=True)

    def bars() -> Any:
        return StageBars(err)

    run_demo(
        home=demo_home or group_home,
        model=model,
        keep=keep,
        console=make_console(soft_wrap=True),
        progress=bars,
    )
