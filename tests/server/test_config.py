"""Where the server's own model comes from, and the bearer-token rules for HTTP."""

from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.server import ServerConfig, server_model
from trace2skill.server.auth import StaticTokenVerifier, check_bind, is_loopback

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        ("openai:gpt-5-mini", {"TRACE2SKILL_MODEL": "anthropic:claude-haiku-4-5"},
         ("openai:gpt-5-mini", "server --model")),
        (None, {"TRACE2SKILL_MODEL": "anthropic:claude-haiku-4-5", "OPENAI_API_KEY": "k"},
         ("anthropic:claude-haiku-4-5", "$TRACE2SKILL_MODEL")),
        (None, {"TRACE2SKILL_MODEL": "  ", "OPENAI_API_KEY": "k"}, ("openai:gpt-5", "default for $OPENAI_API_KEY")),
        (None, {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"},
         ("anthropic:claude-sonnet-4-5", "default for $ANTHROPIC_API_KEY")),
        (None, {"ANTHROPIC_API_KEY": ""}, None),
    ],
    ids=["flag-wins", "env-model", "blank-is-unset", "anthropic-first", "nothing"],
)  # fmt: skip
def test_the_server_model_comes_from_the_flag_then_the_env_then_the_provider_keys(
    flag: str | None, env: dict[str, str], expected: tuple[str, str] | None
) -> None:
    assert server_model(ServerConfig(model=flag), env) == expected


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("[::1]", True),
                                                ("localhost", True), ("0.0.0.0", False), ("192.168.1.7", False),
                                                ("example.com", False)])  # fmt: skip
def test_only_loopback_addresses_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(InvalidInput, match=r"refusing to serve on 0\.0\.0\.0 without a token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "a-long-enough-token-123")
    check_bind("127.0.0.1", None)


async def test_the_token_verifier_accepts_exactly_its_token_and_refuses_short_ones() -> None:
    verifier = StaticTokenVerifier("s3cret-token-of-some-length")
    accepted = await verifier.verify_token("s3cret-token-of-some-length")
    assert accepted is not None and accepted.scopes == ["trace2skill"]
    assert await verifier.verify_token("s3cret-token-of-some-lengtH") is None
    assert await verifier.verify_token("") is None
    with pytest.raises(InvalidInput, match="use at least 16"):
        StaticTokenVerifier("short")
