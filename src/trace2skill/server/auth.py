"""Bearer-token auth for the streamable-HTTP transport.

One shared secret (`--token` or $TRACE2SKILL_TOKEN) is enough for a server a user runs for their own
clients: the SDK's bearer middleware asks our verifier, which compares in constant time, and
answers 401 with `WWW-Authenticate` otherwise. A server bound beyond loopback without a token
would hand the trace store and every skill to the network, so it is refused.
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


def auth_settings(resource_url: str) -> AuthSettings:
    """Resource-server settings for a static token; the server is its own (token-less) issuer."""
    return AuthSettings(
        issuer_url=AnyHttpUrl(resource_url),
        resource_server_url=AnyHttpUrl(resource_url),
        required_scopes=list(SCOPES),
        validate_token_resource=False,
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


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond loopback without a token."""
    if token is None and not is_loopback(host):
        raise InvalidInput(
            f"refusing to serve on {host} without a token: anyone who can reach it could read every trajectory "
            f"and skill. Pass --token TOKEN (or set ${TOKEN_ENV}), or bind to 127.0.0.1"
        )
