"""Command line: a thin shell over the library. Each submodule adds its commands to `cli` on import."""

from trace2skill.cli import bench, demo, evolve, imports, models, serve, skills, traces  # noqa: F401
from trace2skill.cli.main import cli, pass_state

__all__ = ["cli", "pass_state"]
