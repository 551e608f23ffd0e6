"""Which model a command uses when it names none: one rule for the CLI, the MCP server and the demo.

Order: the explicit model (a `--model` flag or argument), then `$TRACE2SKILL_MODEL`, then a default
model for the first provider whose API key is set. Empty values count as unset, because MCP bundles
substitute '' for optional settings the user left blank.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["DEFAULT_MODELS", "MODEL_ENV", "configured_model", "no_model_message"]

MODEL_ENV = "TRACE2SKILL_MODEL"
DEFAULT_MODELS = (
    ("ANTHROPIC_API_KEY", "anthropic:claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "openai:gpt-5"),
)
"""With no model configured, the first provider whose key is set supplies the default model."""


def _env(env: Mapping[str, str], key: str) -> str | None:
    value = env.get(key, "").strip()
    return value or None


def configured_model(
    explicit: str | None = None, env: Mapping[str, str] | None = None, *, explicit_source: str = "--model"
) -> tuple[str, str] | None:
    """(model string, where it came from), or None when nothing is configured."""
    env = os.environ if env is None else env
    if explicit and explicit.strip():
        return explicit.strip(), explicit_source
    named = _env(env, MODEL_ENV)
    if named:
        return named, f"${MODEL_ENV}"
    for key, model in DEFAULT_MODELS:
        if _env(env, key):
            return model, f"default for ${key}"
    return None


def no_model_message(what: str) -> str:
    """One line that says every way to configure a model."""
    keys = " or ".join(f"${key}" for key, _ in DEFAULT_MODELS)
    return f"no model to {what}: pass --model provider:name, set ${MODEL_ENV}, or export {keys}"
