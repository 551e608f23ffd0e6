"""Model aliases: `-m sonnet` instead of `-m anthropic:claude-sonnet-4-5`.

Each built-in alias names one exact model id of the price table (`prices.BUILTIN_PRICES`), or the
default local model, so an alias is priced, cached and logged exactly as its full name is. Users add
their own with `trace2skill config set alias.NAME provider:model` (kept in `<home>/config.json`);
a user alias may point at another alias, and overrides a built-in one of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping

from trace2skill.errors import InvalidInput

__all__ = ["ALIAS_PREFIX", "BUILTIN_MODEL_ALIASES", "DEFAULT_LOCAL_MODEL", "resolve_alias", "user_aliases"]

ALIAS_PREFIX = "alias."
DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
"""The local model `local` means: the best of the catalog that runs on 2 cores (`trace2skill models install`)."""

BUILTIN_MODEL_ALIASES: dict[str, str] = {
    "sonnet": "anthropic:claude-sonnet-4-5",
    "opus": "anthropic:claude-opus-4-5",
    "haiku": "anthropic:claude-haiku-4-5",
    "gpt-5": "openai:gpt-5",
    "gpt-5-mini": "openai:gpt-5-mini",
    "gpt-5-nano": "openai:gpt-5-nano",
    "local": f"local:{DEFAULT_LOCAL_MODEL}",
}
_MAX_HOPS = 8


def user_aliases(settings: Mapping[str, object]) -> dict[str, str]:
    """The `alias.NAME` entries of a home's settings, as {NAME: model}."""
    return {
        key[len(ALIAS_PREFIX) :]: str(value)
        for key, value in settings.items()
        if key.startswith(ALIAS_PREFIX) and isinstance(value, str)
    }


def resolve_alias(model: str, aliases: Mapping[str, str] | None = None) -> str:
    """The model string an alias stands for (user aliases first, then built-in ones); others unchanged.

    Only a bare name (no `:`) is an alias, so `provider:model` strings pass through as they are."""
    table = {**BUILTIN_MODEL_ALIASES, **(aliases or {})}
    text = model.strip()
    seen: list[str] = []
    while ":" not in text and text in table:
        if text in seen or len(seen) >= _MAX_HOPS:
            chain = " → ".join([*seen, text])
            raise InvalidInput(f"model alias {chain} loops: fix it with `trace2skill config set alias.{text} ...`")
        seen.append(text)
        text = table[text].strip()
    return text
