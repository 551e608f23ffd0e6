"""Every command's --help ends with an example, and the common options have short flags."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from trace2skill.cli import cli


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_the_help_of_each_command_ends_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout and "trace2skill " in result.stdout.split("Example", 1)[1]


@pytest.mark.parametrize(
    ("path", "short", "long"),
    [
        (("evolve",), "-m", "--model"),
        (("evolve",), "-w", "--workers"),
        (("evolve",), "-n", "--limit"),
        (("traces", "list"), "-s", "--skill"),
        (("traces", "list"), "-n", "--limit"),
        (("runs", "list"), "-s", "--skill"),
        (("bench",), "-o", "--out"),
        (("traces", "judge"), "-m", "--model"),
    ],
)
def test_the_common_options_have_short_flags(path: tuple[str, ...], short: str, long: str) -> None:
    help_text = CliRunner().invoke(cli, [*path, "--help"]).stdout
    assert f"{short}, {long}" in help_text
