"""Where the server's own model comes from, what the environment a client set means, and the
bearer-token rules for HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.server import ServerConfig, server_model
from trace2skill.server.auth import StaticTokenVerifier, check_bind, is_loopback
from trace2skill.server.config import settle_environment

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


def test_http_needs_a_token_and_only_loopback_may_waive_it() -> None:
    with pytest.raises(InvalidInput, match=r"refusing to serve on 0\.0\.0\.0 without a token"):
        check_bind("0.0.0.0", None, allow_no_token=True)
    with pytest.raises(InvalidInput, match=r"streamable HTTP needs a token: set \$TRACE2SKILL_TOKEN.*--no-token"):
        check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "a-long-enough-token-123")
    check_bind("127.0.0.1", None, allow_no_token=True)


USER_HOME = Path("/home/someone")


@pytest.mark.parametrize(
    ("value", "settled", "note"),
    [
        ("${HOME}/.trace2skill", "/home/someone/.trace2skill", None),
        ("$HOME/t2s", "/home/someone/t2s", None),
        ("~/t2s", "/home/someone/t2s", None),
        ("/srv/t2s", "/srv/t2s", None),
        ("data/t2s", "/home/someone/data/t2s", "'data/t2s' is a relative path; using /home/someone/data/t2s"),
        ("${user_config.home}", None, "'${user_config.home}'; using the default home /home/someone/.trace2skill"),
        ("${DOCUMENTS}/t2s", None, "placeholder '${DOCUMENTS}/t2s'"),
        ("  ", None, None),
    ],
    ids=["HOME-placeholder", "shell-HOME", "tilde", "absolute", "relative", "unfilled", "unknown-dir", "blank"],
)  # fmt: skip
def test_the_home_folder_is_expanded_and_never_relative_to_the_working_directory(
    value: str, settled: str | None, note: str | None
) -> None:
    env, notes = {"TRACE2SKILL_HOME": value}, []
    settle_environment(env, user_home=USER_HOME, note=notes.append)
    assert env.get("TRACE2SKILL_HOME") == settled
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1 and note in notes[0] and notes[0].startswith("$TRACE2SKILL_HOME")


def test_an_unexpanded_placeholder_counts_as_unset_and_the_note_names_no_secret() -> None:
    env = {
        "ANTHROPIC_API_KEY": "${user_config.anthropic_api_key}",
        "OPENAI_API_KEY": "sk-real-part${user_config.openai_api_key}",
        "TRACE2SKILL_MODEL": "",
        "TRACE2SKILL_TOKEN": "a-long-enough-token-123",
        "UNRELATED": "${kept}",
    }
    notes: list[str] = []
    settle_environment(env, user_home=USER_HOME, note=notes.append)
    assert env == {"TRACE2SKILL_TOKEN": "a-long-enough-token-123", "UNRELATED": "${kept}"}
    assert notes == [
        "$ANTHROPIC_API_KEY holds the unexpanded placeholder ${user_config.anthropic_api_key} (a setting left "
        "empty); treating it as unset",
        "$OPENAI_API_KEY holds the unexpanded placeholder ${user_config.openai_api_key} (a setting left empty); "
        "treating it as unset",
    ]
    assert not any("sk-real-part" in n for n in notes)
    assert server_model(ServerConfig(), env) is None


async def test_the_token_verifier_accepts_exactly_its_token_and_refuses_short_ones() -> None:
    verifier = StaticTokenVerifier("s3cret-token-of-some-length")
    accepted = await verifier.verify_token("s3cret-token-of-some-length")
    assert accepted is not None and accepted.scopes == ["trace2skill"]
    assert await verifier.verify_token("s3cret-token-of-some-lengtH") is None
    assert await verifier.verify_token("") is None
    with pytest.raises(InvalidInput, match="use at least 16"):
        StaticTokenVerifier("short")
