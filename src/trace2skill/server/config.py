"""How one server process is set up: its home folder, its own model, and what its tools may touch.

Clients start the server with environment variables they filled in themselves, and some fill them
badly: an MCP bundle host (the MCPB reference implementation) leaves `${user_config.KEY}` as literal
text when an optional setting has no value, and never expands `${HOME}` inside a default. A server
that took those at their word would send the placeholder to a provider as an API key, and create its
database under `<working directory>/${HOME}/…`, inside the extension folder an update replaces.
`settle_environment` makes the variables mean what they say before anything reads them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from trace2skill.home import ENV_VAR as HOME_ENV
from trace2skill.home import Home
from trace2skill.llm.defaults import DEFAULT_MODELS, MODEL_ENV, configured_model

__all__ = [
    "DEFAULT_MODELS",
    "HOME_ENV",
    "MODEL_ENV",
    "SETTLED_ENV",
    "ServerConfig",
    "server_model",
    "settle_environment",
]

SETTLED_ENV = (HOME_ENV, MODEL_ENV, "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_TOKEN")
"""The variables a client configuration (or manifest.json) sets for the server."""

_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_HOME_PLACEHOLDER = re.compile(r"\$\{HOME\}|\$HOME(?![A-Za-z0-9_])")


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one server process.

    `model` is the `--model` flag of `trace2skill serve`. `allow_paths` turns on the tools that read
    or write folders on the server's machine (import_skill, export_skill): on for stdio, where the
    client runs on the same machine as the user, off by default over HTTP. `list_changed_interval`
    is the shortest gap between two `resources/list_changed` notifications: changes inside it are
    sent as one at its end, so a burst of recorded runs costs clients one refresh.
    """

    home: Home | None = None
    model: str | None = None
    allow_paths: bool = True
    name: str = "trace2skill"
    list_changed_interval: float = 1.0


def server_model(config: ServerConfig, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(model string, where it came from) from the server's own configuration, or None.

    Order: the `--model` flag, then $TRACE2SKILL_MODEL, then a default model for the first
    provider whose API key is set.
    """
    return configured_model(config.model, env, explicit_source="server --model")


def _note_on_stderr(line: str) -> None:
    print(f"trace2skill: {line}", file=sys.stderr, flush=True)  # stdout is the protocol on stdio


def _settled_home(value: str, user_home: Path, note: Callable[[str], None]) -> str | None:
    """An absolute home folder from what the client wrote, or None (the default home) with a note."""
    expanded = _HOME_PLACEHOLDER.sub(lambda _: str(user_home), value)
    if expanded == "~" or expanded.startswith(("~/", "~\\")):
        expanded = str(user_home) + expanded[1:]
    if _PLACEHOLDER.search(expanded):
        default = user_home / ".trace2skill"
        note(f"${HOME_ENV} is the unexpanded placeholder {value!r}; using the default home {default}")
        return None
    path = Path(expanded)
    if not path.is_absolute():
        path = user_home / path
        note(f"${HOME_ENV} {value!r} is a relative path; using {path} (never the working directory)")
    return str(path)


def settle_environment(
    environ: MutableMapping[str, str] | None = None,
    *,
    user_home: Path | None = None,
    note: Callable[[str], None] = _note_on_stderr,
) -> None:
    """Make the server's variables mean what they say; `environ` defaults to os.environ.

    An empty value, or one that still holds a `${…}` placeholder, is removed (a note on stderr for
    the placeholder, which names no secret: only the placeholder text is printed). The home folder
    has `${HOME}`, `$HOME` and a leading `~` expanded, and a relative one is resolved against the
    user's home folder, never the working directory a client happened to start the server in.
    """
    env = os.environ if environ is None else environ
    home = user_home or Path.home()
    for name in SETTLED_ENV:
        value = env.get(name)
        if value is None:
            continue
        settled: str | None = value.strip() or None
        if settled is not None and name == HOME_ENV:
            settled = _settled_home(settled, home, note)
        elif settled is not None and (placeholders := _PLACEHOLDER.findall(settled)):
            shown = ", ".join(placeholders)  # the placeholder only: the rest of the value may be a secret
            note(f"${name} holds the unexpanded placeholder {shown} (a setting left empty); treating it as unset")
            settled = None
        if settled is None:
            del env[name]
        else:
            env[name] = settled
