"""The MCP server, as `trace2skill serve` takes it: the MCP bundle's entry point.

Runs both as `python -m trace2skill.server [serve options]` and as a file
(`python src/trace2skill/server/__main__.py`, which is how manifest.json starts it). Run as a file,
Python puts this folder first on sys.path, where a module named like a standard one would shadow it,
so the folder is swapped for `src/` before anything else is imported. The environment is settled
(placeholders a bundle host left unexpanded, a relative home) before the command line reads it.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if __name__ == "__main__" and not __package__ and sys.path and Path(sys.path[0] or ".").resolve() == _HERE:
    sys.path[0] = str(_HERE.parents[1])  # src/, where the trace2skill package is

from trace2skill.cli import cli  # noqa: E402 (after the sys.path fix)
from trace2skill.server.config import settle_environment  # noqa: E402


def main() -> None:
    settle_environment()
    cli(["serve", *sys.argv[1:]], prog_name="trace2skill")


if __name__ == "__main__":
    main()
