"""Command line: a thin shell over the library. Each submodule adds its commands to `cli` on import."""

from trace2skill.cli import bench, config, demo, doctor, evolve, imports, models, serve, setup, skills, traces  # noqa: F401
from trace2skill.cli.examples import add_examples
from trace2skill.cli.main import cli, pass_state

add_examples(cli)  # an example at the end of every command's --help

__all__ = ["cli", "pass_state"]
