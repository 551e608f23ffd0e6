"""Command line: a thin shell over the library. Each submodule adds its commands to `cli`."""

from trace2skill.cli.main import cli, pass_state

__all__ = ["cli", "pass_state"]
from trace2skill.cli import models  # noqa: E402,F401
from trace2skill.cli import skills  # noqa: E402,F401
from trace2skill.cli import imports  # noqa: E402,F401
from trace2skill.cli import evolve  # noqa: E402,F401
from trace2skill.cli import serve  # noqa: E402,F401
from trace2skill.cli import traces  # noqa: E402,F401
from trace2skill.cli import demo  # noqa: E402,F401
