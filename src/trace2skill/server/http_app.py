"""Streamable HTTP: the server behind uvicorn, on a socket bound before the app is built.

Binding first means the endpoint URL is known even for `--port 0`, and a client may connect as soon
as the socket listens: connections wait in the backlog until uvicorn accepts them, so nobody has to
poll for "server started". (Named `http_app`, not `http`: run as a file, this folder comes first on
sys.path, and a module named `http` would shadow the standard library's.)

2025-era clients hold a session each. The SDK keeps an abandoned one for 30 minutes and up to
10,000 of them; here a session with no request in flight and no open GET stream (a live client
keeps one open) ends after `session_idle_timeout` seconds, at most `MAX_SESSIONS` are open at once,
and with a token each is bound to it, so a process without the token can neither use nor open one.
2026-07-28 clients hold no session at all.
"""

from __future__ import annotations

import socket

import uvicorn
from starlette.types import ASGIApp

from trace2skill.errors import InvalidInput
from trace2skill.server.app import Trace2SkillServer, create_server
from trace2skill.server.auth import check_bind
from trace2skill.server.body_limit import MAX_BODY_BYTES, BodyLimit
from trace2skill.server.config import ServerConfig

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_PORT",
    "MAX_SESSIONS",
    "SESSION_IDLE_TIMEOUT",
    "HttpEndpoint",
    "bind",
    "build_http",
    "http_app",
    "serve_http",
    "uvicorn_server",
]

DEFAULT_PORT = 8765
DEFAULT_PATH = "/mcp"
SESSION_IDLE_TIMEOUT = 300.0
MAX_SESSIONS = 100

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
"""A wildcard bind address is no address a client can connect to: show the loopback one instead."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class HttpEndpoint:
    """A bound socket and the server that will answer on it."""

    def __init__(
        self, sock: socket.socket, server: Trace2SkillServer, host: str, path: str,
        session_idle_timeout: float = SESSION_IDLE_TIMEOUT,
    ) -> None:  # fmt: skip
        self.sock = sock
        self.server = server
        self.host = host
        self.path = path
        self.session_idle_timeout = session_idle_timeout

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        """The URL a client on this machine uses (never a wildcard address such as 0.0.0.0)."""
        host = self.host.strip("[]")
        host = _WILDCARDS.get(host, host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}{self.path}"


def build_http(
    config: ServerConfig, host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None,
    path: str = DEFAULT_PATH, *, allow_no_token: bool = False, session_idle_timeout: float = SESSION_IDLE_TIMEOUT,
) -> HttpEndpoint:  # fmt: skip
    """Check the setup is safe, bind, and build the server (bearer auth when `token` is set)."""
    check_bind(host, token, allow_no_token=allow_no_token)
    if not session_idle_timeout > 0:
        raise InvalidInput(f"the session timeout must be a positive number of seconds, got {session_idle_timeout}")
    sock = bind(host, port)
    try:
        server = create_server(config, token=token)
    except BaseException:
        sock.close()
        raise
    return HttpEndpoint(sock, server, host, path, session_idle_timeout)


def http_app(endpoint: HttpEndpoint) -> ASGIApp:
    """The ASGI app: the SDK's streamable-HTTP app with this server's limits, behind the body limit."""
    app = endpoint.server.streamable_http_app(
        streamable_http_path=endpoint.path,
        host=endpoint.host,
        max_request_body_size=MAX_BODY_BYTES,
        session_idle_timeout=endpoint.session_idle_timeout,
        max_sessions=MAX_SESSIONS,
    )
    return BodyLimit(app, MAX_BODY_BYTES)


def uvicorn_server(endpoint: HttpEndpoint, log_level: str = "warning") -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(http_app(endpoint), log_level=log_level, lifespan="on"))


async def serve_http(endpoint: HttpEndpoint, log_level: str = "warning") -> None:
    """Serve until cancelled (or until uvicorn is told to exit); then stop the background evolutions, each
    recorded `interrupted` so that it resumes (`Trace2SkillServer.shutdown`)."""
    try:
        await uvicorn_server(endpoint, log_level).serve(sockets=[endpoint.sock])
    finally:
        await endpoint.server.shutdown()
