"""`trace2skill config get|set|unset|list`: defaults kept in `<home>/config.json`, and their use.

Keys: `model` (a model string or an alias), `workers` (analyses at once), `budget-usd` (dollars a run
may spend) and `alias.NAME` (a model alias of your own). A command uses a default only where its
flag is not given; for the model the order is `--model`, then `$TRACE2SKILL_MODEL`, then `model` here,
then the default for a provider whose API key is set. Aliases (`sonnet`, `opus`, `haiku`, `gpt-5-mini`,
`local`, and yours) are resolved to the exact model id before anything runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import click

from trace2skill.cli.main import State, cli, pass_state
from trace2skill.cli.output import Column, emit, format_options, resolve_format
from trace2skill.cli.params import DOLLARS
from trace2skill.errors import InvalidInput
from trace2skill.home import Home
from trace2skill.llm.aliases import ALIAS_PREFIX, BUILTIN_MODEL_ALIASES, resolve_alias, user_aliases

__all__ = [
    "KEYS",
    "alias_option_callback",
    "config_group",
    "configured_default",
    "effective_model",
    "model_option_callback",
]

_ALIAS_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _model(value: str, settings: dict[str, Any]) -> str:
    from trace2skill.llm.factory import parse_model

    text = value.strip()
    parse_model(resolve_alias(text, user_aliases(settings)))  # a typo is refused now, not at the next evolve
    return text


def _workers(value: str, settings: dict[str, Any]) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(f"workers {value[:40]!r} is not a whole number; give one such as 8") from None
    if not 1 <= number <= 1024:
        raise InvalidInput(f"workers {number} is outside 1 to 1024")
    return number


def _budget(value: str, settings: dict[str, Any]) -> float:
    try:
        return DOLLARS.convert(value, None, None)
    except InvalidInput as e:
        raise InvalidInput(str(e).replace("the value", "budget-usd", 1)) from None


KEYS: dict[str, tuple[str, Callable[[str, dict[str, Any]], Any]]] = {
    "model": ("default model: provider:model or an alias (e.g. sonnet)", _model),
    "workers": ("default --workers of evolve and bench", _workers),
    "budget-usd": ("default --budget-usd of evolve and bench (dollars)", _budget),
}
"""Settable keys (besides `alias.NAME`): what each is, and how its text is checked and stored."""


def _check_key(key: str) -> str:
    if key in KEYS:
        return key
    if key.startswith(ALIAS_PREFIX):
        name = key[len(ALIAS_PREFIX) :]
        if _ALIAS_NAME.match(name):
            return key
        raise InvalidInput(f"alias name {name!r}: use lower-case letters, digits, '.', '_' and '-' (no ':')")
    known = ", ".join([*KEYS, "alias.NAME"])
    raise InvalidInput(f"unknown setting {key!r}: the settings are {known}")


def _rows(settings: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [{"key": key, "value": settings[key], "source": "config"} for key in KEYS if key in settings]
    mine = user_aliases(settings)
    for name, model in sorted(mine.items()):
        rows.append({"key": ALIAS_PREFIX + name, "value": model, "source": "config"})
    for name, model in BUILTIN_MODEL_ALIASES.items():
        if name not in mine:
            rows.append({"key": ALIAS_PREFIX + name, "value": model, "source": "built-in"})
    return rows


# --- defaults for other commands ----------------------------------------------------------------


def _home(ctx: click.Context) -> Home | None:
    state = ctx.find_object(State)
    return state.home if state is not None else None


def _settings(home: Home | None) -> dict[str, Any]:
    return home.read_config() if home is not None else {}


def effective_model(home: Home | None, given: str | None, env: dict[str, str] | None = None) -> str | None:
    """The model a command runs with, aliases resolved: `given`, else `$TRACE2SKILL_MODEL` when it is an
    alias, else the configured `model`; None leaves the choice to `llm.defaults.configured_model`."""
    settings = _settings(home)
    aliases = user_aliases(settings)
    if given and given.strip():
        return resolve_alias(given, aliases)
    named = (os.environ if env is None else env).get("TRACE2SKILL_MODEL", "").strip()
    if named:
        resolved = resolve_alias(named, aliases)
        return resolved if resolved != named else None  # unchanged: the library names its source itself
    default = settings.get("model")
    return resolve_alias(default, aliases) if isinstance(default, str) and default.strip() else None


def configured_default(state: State, key: str) -> Any:
    """The configured value of `key` (`workers`, `budget-usd`), or None."""
    return _settings(state.home).get(key)


def model_option_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """For `--model`: resolve an alias; with no flag, the configured default model."""
    return effective_model(_home(ctx), value)


def alias_option_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """For other model options (`--analyst-model`): resolve an alias, no default."""
    if value is None or not value.strip():
        return value
    return resolve_alias(value, user_aliases(_settings(_home(ctx))))


# --- the commands -------------------------------------------------------------------------------


@cli.group("config")
def config_group() -> None:
    """Defaults for the model, workers and budget, and model aliases (<home>/config.json)."""


@config_group.command("get")
@click.argument("key")
@pass_state
def get_command(state: State, key: str) -> None:
    """Print the value of KEY (model, workers, budget-usd, alias.NAME)."""
    key = _check_key(key)
    settings = state.home.read_config()
    if key in settings:
        click.echo(settings[key])
        return
    builtin = BUILTIN_MODEL_ALIASES.get(key[len(ALIAS_PREFIX) :]) if key.startswith(ALIAS_PREFIX) else None
    if builtin is not None:
        click.echo(builtin)
        return
    raise InvalidInput(f"{key} is not set: set it with `trace2skill config set {key} VALUE`")


@config_group.command("set")
@click.argument("key")
@click.argument("value")
@pass_state
def set_command(state: State, key: str, value: str) -> None:
    """Set KEY to VALUE, checked first (a model must parse, workers be 1-1024, a budget a number)."""
    key = _check_key(key)
    settings = state.home.read_config()
    if key.startswith(ALIAS_PREFIX):
        from trace2skill.llm.factory import parse_model

        stored: Any = value.strip()
        mine = {**user_aliases(settings), key[len(ALIAS_PREFIX) :]: stored}
        parse_model(resolve_alias(key[len(ALIAS_PREFIX) :], mine))  # a loop or a non-model is refused
    else:
        stored = KEYS[key][1](value, settings)
    settings[key] = stored
    state.home.write_config(settings)
    click.echo(f"{key} = {stored}")


@config_group.command("unset")
@click.argument("key")
@pass_state
def unset_command(state: State, key: str) -> None:
    """Remove KEY from the configuration (a built-in alias comes back)."""
    key = _check_key(key)
    settings = state.home.read_config()
    if key not in settings:
        click.echo(f"{key} was not set")
        return
    del settings[key]
    state.home.write_config(settings)
    click.echo(f"{key} unset")


CONFIG_COLUMNS = (
    Column("key", ident=True),
    Column("value", fill=True, width=24),
    Column("source", priority=1, width=8),
)


@config_group.command("list")
@format_options
@pass_state
def list_command(state: State, output_format: str | None, as_json: bool, no_headers: bool) -> None:
    """Every setting and model alias (built-in aliases marked as such)."""
    fmt = resolve_format(output_format, as_json)
    emit(_rows(state.home.read_config()), CONFIG_COLUMNS, fmt, headers=not no_headers)
