"""Output that knows where it goes: one module every listing and every `--json` of the CLI prints through.

Listings take `--format table|tsv|csv|json|ndjson` (`--json` is `--format json`), after sqlite-utils'
and gh's conventions. With no format given, a terminal gets a rich table and anything else (a pipe,
a file) gets TSV: every field whole, ids included, in the same columns on every call. The table
never cuts an id: id columns do not wrap, and at narrow widths whole columns are left out in a fixed
order (each column's `priority`), so a given width always shows the same columns.

JSON follows one vocabulary (docs/json.md): `id` is the object's own id, `<thing>_id` a reference,
timestamps are ISO 8601 UTC ending in `Z`. `echo_json` rewrites a `+00:00` timestamp to `Z`, so every
command prints the same form whatever layer the value came from.

`NO_COLOR` (any non-empty value) turns off every escape code, not only colours: the consoles made
here have no colour system then, so bold and dim are dropped too.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = [
    "FORMATS",
    "Column",
    "console",
    "echo_json",
    "emit",
    "format_options",
    "is_structured",
    "json_ready",
    "resolve_format",
]

FORMATS = ("table", "tsv", "csv", "json", "ndjson")
_UTC_OFFSET = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?)\+00:00$")


def no_color() -> bool:
    """Whether `NO_COLOR` asks for no colour (https://no-color.org: present and not empty)."""
    return os.environ.get("NO_COLOR", "") != ""


def console(
    *, stderr: bool = False, file: TextIO | None = None, width: int | None = None, soft_wrap: bool = False
) -> Console:
    """A rich console for the CLI: no automatic highlighting, and no escape codes at all under NO_COLOR."""
    return Console(
        stderr=stderr,
        file=file,
        width=width,
        soft_wrap=soft_wrap,
        highlight=False,
        color_system=None if no_color() else "auto",
    )


# --- JSON --------------------------------------------------------------------------------------


def json_ready(value: Any) -> Any:
    """`value` with every `...+00:00` timestamp string written `...Z`; pydantic models dumped as JSON."""
    if hasattr(value, "model_dump") and callable(value.model_dump):
        value = value.model_dump(mode="json")
    if isinstance(value, str):
        match = _UTC_OFFSET.match(value)
        return f"{match.group(1)}Z" if match else value
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def echo_json(value: Any, *, indent: int | None = 2) -> None:
    """Print `value` as JSON in the CLI's vocabulary (see `json_ready`)."""
    click.echo(json.dumps(json_ready(value), indent=indent, ensure_ascii=False, default=str))


# --- formats -----------------------------------------------------------------------------------


def format_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--format`, `--json` (its alias) and `--no-headers`, passed as `output_format`, `as_json`, `no_headers`."""
    options = [
        click.option(
            "--format",
            "output_format",
            type=click.Choice(FORMATS),
            default=None,
            help="Output format (default: table on a terminal, tsv otherwise).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
        click.option("--no-headers", is_flag=True, help="tsv/csv: leave out the header row."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def resolve_format(output_format: str | None, as_json: bool = False, stream: TextIO | None = None) -> str:
    """The format to print in: `--json`, else `--format`, else table on a terminal and tsv elsewhere."""
    if as_json:
        if output_format not in (None, "json"):
            from trace2skill.errors import InvalidInput

            raise InvalidInput(f"--json and --format {output_format} disagree: give one of them")
        return "json"
    if output_format is not None:
        return output_format
    stream = stream or sys.stdout
    try:
        return "table" if stream.isatty() else "tsv"
    except (AttributeError, ValueError):
        return "tsv"


def is_structured(fmt: str) -> bool:
    """Formats meant for programs: nothing but the rows goes to stdout."""
    return fmt != "table"


@dataclass(frozen=True)
class Column:
    """One column of a listing.

    `key` names the field in each row (the same name in tsv/csv headers and in JSON). `priority` 0
    is always shown; at narrow terminal widths columns are left out from the highest priority number
    down. `ident` marks an id: never wrapped, never cut. `fill` is free text that takes the rest of
    the width and is cut with an ellipsis in the table (tsv, csv and JSON carry it whole). `cell`
    renders the table cell (rich Text or plain str); tsv and csv write `flat(value)`.
    """

    key: str
    header: str | None = None
    priority: int = 0
    width: int = 6
    ident: bool = False
    fill: bool = False
    cell: Callable[[Mapping[str, Any]], str | Text] | None = None

    @property
    def title(self) -> str:
        return self.header or self.key


def flat(value: Any) -> str:
    """A field as one tsv/csv cell: lists joined with `,`, None empty, booleans `true`/`false`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(flat(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(json_ready(value), ensure_ascii=False, separators=(",", ":"))
    return str(json_ready(value))


def _cell(column: Column, row: Mapping[str, Any]) -> Text:
    if column.cell is not None:
        value = column.cell(row)
        return value if isinstance(value, Text) else Text(value)
    return Text(flat(row.get(column.key)).replace("\n", " "))


_GAP = 2


def _longest(column: Column, rows: Sequence[Mapping[str, Any]]) -> int:
    return max((_cell(column, row).cell_len for row in rows), default=0)


def _need(column: Column, rows: Sequence[Mapping[str, Any]]) -> int:
    """The width a column claims when columns are chosen: an id its longest value, any other its fixed width."""
    if column.ident:
        return max(len(column.title), _longest(column, rows))
    if column.fill:
        return max(4, column.width)
    return max(column.width, len(column.title))


def shown_columns(columns: Sequence[Column], width: int, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Column, int]]:
    """The columns a table of this width shows, each with the width it is drawn at.

    Priority 0 columns always; then the others by priority while their fixed widths fit (a
    lower-priority column never takes the place of a higher one). The choice depends only on the
    terminal's width and the ids' length, never on the other values. A column is then drawn no wider
    than its values need, and free text takes what is left."""
    kept = [c for c in columns if c.priority == 0]
    used = sum(_need(c, rows) for c in kept) + _GAP * max(len(kept) - 1, 0)
    for column in sorted((c for c in columns if c.priority > 0), key=lambda c: c.priority):
        extra = _need(column, rows) + _GAP
        if used + extra > width:
            break
        kept.append(column)
        used += extra
    shown = [c for c in columns if c in kept]
    sizes = {
        c.key: _need(c, rows) if c.ident or c.fill else min(_need(c, rows), max(len(c.title), _longest(c, rows)))
        for c in shown
    }
    fills = [c for c in shown if c.fill]
    spare = max(width - sum(sizes.values()) - _GAP * max(len(shown) - 1, 0), 0)
    for column in fills:
        sizes[column.key] = min(max(sizes[column.key], _longest(column, rows)), sizes[column.key] + spare // len(fills))
    return [(c, sizes[c.key]) for c in shown]


def _table(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]], out: Console) -> Table:
    table = Table(
        box=None, show_edge=False, pad_edge=False, header_style="bold", padding=(0, _GAP, 0, 0), collapse_padding=True
    )
    shown = shown_columns(columns, out.width, rows)
    for column, size in shown:
        table.add_column(
            column.title,
            width=size,
            no_wrap=column.ident or column.fill,
            overflow="ellipsis" if column.fill else "fold",
        )
    for row in rows:
        table.add_row(*(_cell(column, row) for column, _ in shown))
    return table


def emit(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: str,
    *,
    headers: bool = True,
    empty: str | None = None,
    footer: str | None = None,
) -> None:
    """Print `rows` in `fmt`.

    json: a list of the rows whole; ndjson: one row a line; tsv/csv: the columns' fields whole (csv
    module quoting, so a cell holding a tab or newline parses back; no rows: the header alone); table: a
    rich table on stdout, with `empty` instead when there are no rows and `footer` (rich markup) under it."""
    rows = list(rows)
    if fmt == "json":
        echo_json(rows)
        return
    if fmt == "ndjson":
        for row in rows:
            click.echo(json.dumps(json_ready(row), ensure_ascii=False, default=str))
        return
    if fmt in ("tsv", "csv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        if headers:
            writer.writerow([c.key for c in columns])
        for row in rows:
            writer.writerow([flat(row.get(c.key)) for c in columns])
        click.echo(buffer.getvalue(), nl=False)
        return
    out = console()
    if not rows:
        if empty is not None:
            out.print(Text(empty))
        return
    out.print(_table(columns, rows, out))
    if footer:
        out.print(footer)
