"""Streamable HTTP: the server behind uvicorn, on a socket bound before the app is built.

Binding first means the endpoint URL (needed by the auth metadata) is known even for `--port 0`, and
a client may connect as soon as the socket listens: connections wait in the backlog until uvicorn
accepts them, so nobody has to poll for "server started".
"""

from __future__ import annotations

import socket

import uvicorn

from trace2skill.errors import InvalidInput
from trace2skill.server.app import Trace2SkillServer, create_server
from trace2skill.server.auth import check_bind
from trace2skill.server.config import ServerConfig

__all__ = ["DEFAULT_PATH", "DEFAULT_PORT", "HttpEndpoint", "bind", "build_http", "serve_http"]

DEFAULT_PORT = 8765
DEFAULT_PATH = "/mcp"


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

    def __init__(self, sock: socket.socket, server: Trace2SkillServer, host: str, path: str) -> None:
        self.sock = sock
        self.server = server
        self.host = host
        self.path = path

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"


def build_http(
    config: ServerConfig, host: str = "127.0.0.1", port: int = DEFAULT_PORT, token: str | None = None,
    path: str = DEFAULT_PATH,
) -> HttpEndpoint:  # fmt: skip
    """Check the bind is safe, bind, and build the server with bearer auth when `token` is set."""
    check_bind(host, token)
    sock = bind(host, port)
    display = f"[{host}]" if ":" in host else host
    url = f"http://{display}:{sock.getsockname()[1]}{path}"
    try:
        server = create_server(config, token=token, resource_url=url)
    except BaseException:
        sock.close()
        raise
    return HttpEndpoint(sock, server, host, path)


def uvicorn_server(endpoint: HttpEndpoint, log_level: str = "warning") -> uvicorn.Server:
    app = endpoint.server.streamable_http_app(streamable_http_path=endpoint.path, host=endpoint.host)
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, lifespan="on"))


async def serve_http(endpoint: HttpEndpoint, log_level: str = "warning") -> None:
    """Serve until cancelled (or until uvicorn is told to exit)."""
    await uvicorn_server(endpoint, log_level).serve(sockets=[endpoint.sock])
