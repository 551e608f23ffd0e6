"""How one server process is set up: its home folder, its own model, and what its tools may touch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trace2skill.home import Home
from trace2skill.llm.defaults import DEFAULT_MODELS, MODEL_ENV, configured_model

__all__ = ["DEFAULT_MODELS", "MODEL_ENV", "ServerConfig", "server_model"]


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


def server_model(config: ServerConfig, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(model string, where it came from) from the server's own configuration, or None.

    Order: the `--model` flag, then $TRACE2SKILL_MODEL, then a default model for the first
    provider whose API key is set.
    """
    return configured_model(config.model, env, explicit_source="server --model")
