"""`trace2skill serve` refuses unsafe or mistyped setups before it starts listening."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from trace2skill.cli import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transport", "http", "--host", "0.0.0.0", "--port", "0"], "refusing to serve on 0.0.0.0 without a token"),
        (["--transport", "http", "--host", "0.0.0.0", "--port", "0", "--no-token"], "refusing to serve on 0.0.0.0"),
        (["--transport", "http", "--port", "0"], "streamable HTTP needs a token: set $TRACE2SKILL_TOKEN"),
        (["--transport", "http", "--port", "0", "--no-token", "--session-timeout", "0"], "session timeout must be"),
        (["--transport", "http", "--port", "0", "--token", "short"], "use at least 16"),
        (["--transport", "http", "--port", "0", "--path", "mcp"], "--path must start with '/'"),
        (["--token", "a-long-enough-token-123"], "--token applies to --transport http"),
        (["--model", "claude"], "is not of the form provider:model"),
    ],
    ids=[
        "public-without-token",
        "public-no-token",
        "loopback-without-token",
        "zero-session-timeout",
        "short-token",
        "bad-path",
        "token-on-stdio",
        "model-typo",
    ],
)
def test_serve_refuses_an_unsafe_or_mistyped_setup_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path / "home"), "serve", *args], env={"TRACE2SKILL_TOKEN": None}
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ") and message in result.stderr and result.stderr.count("\n") == 1


def test_serve_takes_the_token_from_the_environment(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path / "home"), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        env={"TRACE2SKILL_TOKEN": "tiny"},
    )
    assert result.exit_code == 1 and "use at least 16" in result.stderr
