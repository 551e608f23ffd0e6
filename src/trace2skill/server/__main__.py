"""`python -m trace2skill.server [serve options]`: the same as `trace2skill serve` (the MCP bundle's entry point)."""

import sys

from trace2skill.cli import cli

if __name__ == "__main__":
    cli(["serve", *sys.argv[1:]], prog_name="trace2skill")
