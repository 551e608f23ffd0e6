"""How one server process is set up: its home folder, its own model, and what its tools may touch."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from trace2skill.home import Home

__all__ = ["DEFAULT_MODELS", "MODEL_ENV", "ServerConfig", "server_model"]

MODEL_ENV = "TRACE2SKILL_MODEL"
DEFAULT_MODELS = (
    ("ANTHROPIC_API_KEY", "anthropic:claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "openai:gpt-5"),
)
"""With no model configured, the first provider whose key is set supplies the default model."""


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one server process.

    `model` is the `--model` flag of `trace2skill serve`. `allow_paths` turns on the tools that read
    or write folders on the server's machine (import_skill, export_skill): on for stdio, where the
    client runs on the same machine as the user, off by default over HTTP.
    """

    home: Home | None = None
    model: str | None = None
    allow_paths: bool = True
    name: str = "trace2skill"


def _env(env: Mapping[str, str], key: str) -> str | None:
    """An environment value, with empty strings counted as unset (MCP bundles substitute '' for blanks)."""
    value = env.get(key, "").strip()
    return value or None


def server_model(config: ServerConfig, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(model string, where it came from) from the server's own configuration, or None.

    Order: the `--model` flag, then $TRACE2SKILL_MODEL, then a default model for the first
    provider whose API key is set.
    """
    env = os.environ if env is None else env
    if config.model:
        return config.model, "server --model"
    explicit = _env(env, MODEL_ENV)
    if explicit:
        return explicit, f"${MODEL_ENV}"
    for key, model in DEFAULT_MODELS:
        if _env(env, key):
            return model, f"default for ${key}"
    return None
