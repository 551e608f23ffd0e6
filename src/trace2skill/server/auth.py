"""Bearer-token auth for the streamable-HTTP transport: a static token, no OAuth.

One shared secret (`--token` or $TRACE2SKILL_TOKEN) is enough for a server a user runs for their own
clients: the SDK's bearer middleware asks our verifier, which compares in constant time, and
answers 401 with `WWW-Authenticate: Bearer` otherwise. There is no authorization server, so no
OAuth protected-resource metadata is published: it would send clients to a server that does not
exist. The token is required: without one, any process that can reach the port could read every
trajectory and take every session slot. `--no-token` waives it on loopback only, for a user who
accepts that; beyond loopback it is refused outright.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

from trace2skill.errors import InvalidInput

__all__ = [
    "MIN_TOKEN_CHARS",
    "TOKEN_ENV",
    "StaticTokenVerifier",
    "auth_settings",
    "check_bind",
    "is_loopback",
    "token_from_env",
]

TOKEN_ENV = "TRACE2SKILL_TOKEN"
MIN_TOKEN_CHARS = 16
CLIENT_ID = "trace2skill-client"
SCOPES = ["trace2skill"]


class StaticTokenVerifier(TokenVerifier):
    """Accepts exactly one token, compared in constant time."""

    def __init__(self, token: str) -> None:
        if len(token) < MIN_TOKEN_CHARS:
            raise InvalidInput(
                f"the token is {len(token)} characters; use at least {MIN_TOKEN_CHARS} "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        self._token = token.encode("utf-8")

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode("utf-8"), self._token):
            return AccessToken(token=token, client_id=CLIENT_ID, scopes=list(SCOPES))
        return None


def auth_settings() -> AuthSettings:
    """Bearer-token settings that publish no OAuth metadata.

    The SDK publishes protected-resource metadata (and a `resource_metadata` link in
    `WWW-Authenticate`) only when `resource_server_url` is set, so it stays unset. `issuer_url` is a
    required field that is then published nowhere; it names this machine, not a real issuer.
    """
    return AuthSettings(
        issuer_url=AnyHttpUrl("http://127.0.0.1"), resource_server_url=None, required_scopes=list(SCOPES)
    )


def token_from_env() -> str | None:
    value = os.environ.get(TOKEN_ENV, "").strip()
    return value or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None, *, allow_no_token: bool = False) -> None:
    """Refuse to serve without a token, unless `allow_no_token` (`--no-token`) on a loopback address."""
    if token is not None:
        return
    if not is_loopback(host):
        raise InvalidInput(
            f"refusing to serve on {host} without a token: anyone who can reach it could read every trajectory "
            f"and skill. Pass --token TOKEN (or set ${TOKEN_ENV}), or bind to 127.0.0.1"
        )
    if not allow_no_token:
        raise InvalidInput(
            f"streamable HTTP needs a token: set ${TOKEN_ENV} or pass --token (make one with `python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'`). --no-token serves loopback without one, "
            "where any local process can read every trajectory and take every session slot"
        )
