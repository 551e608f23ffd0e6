"""`trace2skill serve`: the MCP server on stdio (default) or streamable HTTP with a bearer token.

On stdio, stdout carries the protocol, so nothing else may be written there: logs go to stderr.
The environment a client set is settled first (`trace2skill.server.config.settle_environment`):
an unexpanded `${…}` placeholder counts as unset, and the home folder is never relative to the
working directory the client started the server in.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from trace2skill.cli.config import model_option_callback
from trace2skill.cli.main import State, cli, pass_state
from trace2skill.errors import InvalidInput

if TYPE_CHECKING:
    from trace2skill.server.config import ServerConfig

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


@cli.command()
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for a client that starts the server (Claude Code, Claude Desktop, Cursor, Codex); "
    "http for streamable HTTP.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to listen on.")
@click.option("--port", type=int, default=8765, show_default=True, help="HTTP: port (0 picks a free one).")
@click.option("--path", "mcp_path", default="/mcp", show_default=True, help="HTTP: path of the MCP endpoint.")
@click.option(
    "--token",
    envvar="TRACE2SKILL_TOKEN",
    default=None,
    help="HTTP: require `Authorization: Bearer TOKEN` (or set $TRACE2SKILL_TOKEN). Required to listen beyond loopback.",
)
@click.option(
    "--no-token",
    is_flag=True,
    help="HTTP: serve loopback without a token. Any local process can then read every trajectory "
    "and take every session slot.",
)
@click.option(
    "--session-timeout",
    type=float,
    default=300.0,
    show_default=True,
    help="HTTP: seconds after which a 2025-era session with no request and no open stream ends.",
)
@click.option(
    "-m",
    "--model",
    default=None,
    callback=model_option_callback,
    help="Model for evolve_skill, provider:model or an alias (default: $TRACE2SKILL_MODEL, else "
    "`config get model`, else the "
    "ANTHROPIC_API_KEY / OPENAI_API_KEY defaults, else the client's model through MCP sampling).",
)
@click.option(
    "--allow-paths/--no-allow-paths",
    default=None,
    help="Offer import_skill/export_skill, which read and write folders on this machine "
    "(default: on for stdio, off for http).",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), default="WARNING", show_default=True)
@pass_state
def serve(
    state: State,
    transport: str,
    host: str,
    port: int,
    mcp_path: str,
    token: str | None,
    no_token: bool,
    session_timeout: float,
    model: str | None,
    allow_paths: bool | None,
    log_level: str,
) -> None:
    """Run the MCP server: tools, skill:// resources and prompts over this home folder.

    Register it with Claude Code:

    \b
        claude mcp add --scope user --transport stdio trace2skill -- trace2skill serve
    """
    from trace2skill.home import Home
    from trace2skill.llm import parse_model
    from trace2skill.server import ServerConfig, create_server
    from trace2skill.server.config import settle_environment

    settle_environment()
    if click.get_current_context().find_root().params.get("home") is None:
        state.home = Home.resolve()  # read again: settling may have changed $TRACE2SKILL_HOME
    _logging(log_level)
    if model:
        parse_model(model)  # a typo is reported now, not at the first evolve_skill call
    from trace2skill.workspace import Workspace

    Workspace.open(state.home).close()  # an unusable home is one line now, not a failed first connection
    token = token.strip() if token and token.strip() else None
    if transport == "stdio":
        if token:
            raise InvalidInput("--token applies to --transport http; stdio is only reachable by the client that ran it")
        config = ServerConfig(home=state.home, model=model, allow_paths=True if allow_paths is None else allow_paths)
        import anyio

        from trace2skill.llm.eventloop import anyio_run_options

        anyio.run(create_server(config).run_stdio_async, **anyio_run_options())  # uvloop when installed
        return
    if not mcp_path.startswith("/"):
        raise InvalidInput(f"--path must start with '/', got {mcp_path!r}")
    config = ServerConfig(home=state.home, model=model, allow_paths=bool(allow_paths))
    _serve_http(state, config, host, port, mcp_path, token, no_token, session_timeout, log_level)


def _serve_http(
    state: State, config: ServerConfig, host: str, port: int, path: str, token: str | None, no_token: bool,
    session_timeout: float, level: str,
) -> None:  # fmt: skip
    import anyio

    from trace2skill.server.http_app import build_http, serve_http

    endpoint = build_http(
        config, host=host, port=port, token=token, path=path, allow_no_token=no_token,
        session_idle_timeout=session_timeout,
    )  # fmt: skip
    _logging(level)
    auth = "bearer token required" if token else "no token: any local process can use it"
    click.echo(f"trace2skill MCP server on {endpoint.url} ({auth}); home {state.home.root}", err=True)
    try:
        from trace2skill.llm.eventloop import anyio_run_options

        anyio.run(serve_http, endpoint, level.lower(), **anyio_run_options())  # uvloop when installed
    except KeyboardInterrupt:
        pass
