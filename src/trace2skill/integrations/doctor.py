"""`trace2skill doctor`: is this installation healthy? One check per line: ok, warn or fail, and what to do.

Checks, in order: the home folder (exists, is a folder, can be written), its `config.json`, the
database (SQLite's `PRAGMA integrity_check`, and the schema: migrations applied, pending, or made by a
newer trace2skill), the provider configuration (which model a run would use, from where, and whether
the key it needs is set: never the key itself), optionally one tiny call to that model
(`check_model=True`, the only check that costs anything), and each client's registration (the same
code as `trace2skill setup`). Nothing here writes: the database is opened read-only.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trace2skill.errors import Trace2SkillError
from trace2skill.home import Home

__all__ = ["Check", "Status", "check_clients", "check_database", "check_home", "check_model", "check_provider", "run"]

Status = Literal["ok", "warn", "fail"]


@dataclass
class Check:
    """One line of the report: what was checked, how it went, and what to do about it."""

    name: str
    status: Status
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "message": self.message, "fix": self.fix}


def _line(error: BaseException) -> str:
    from trace2skill.explain import bug_line, explain

    known = explain(error)
    text = str(known) if known is not None else bug_line(error, "run it again with --debug and report the traceback")
    return " ".join(text.splitlines())


# --- the home folder ------------------------------------------------------------------------------


def check_home(home: Home) -> list[Check]:
    root = home.root
    if not root.exists():
        return [
            Check(
                "home", "warn", f"{root} does not exist yet", "it is created on first use (e.g. `trace2skill record`)"
            )
        ]
    if not root.is_dir():
        return [
            Check("home", "fail", f"{root} is not a folder", "move the file away, or choose another home with --home")
        ]
    checks = []
    if home.writable and _can_create_file(root):
        checks.append(Check("home", "ok", f"{root} exists and can be written"))
    else:
        checks.append(
            Check(
                "home",
                "fail",
                f"{root} cannot be written: listings work, recording and evolving do not",
                f"make it writable (chmod u+w {root}), or use another home with --home",
            )
        )
    try:
        settings = home.read_config()
        home.export_dirs()
    except Trace2SkillError as e:
        checks.append(Check("config", "fail", _line(e), f"fix or delete {home.config_path}"))
    else:
        if settings:
            checks.append(Check("config", "ok", f"{home.config_path.name}: {', '.join(sorted(settings))}"))
    return checks


def _can_create_file(folder: Path) -> bool:
    """`os.access` trusts permission bits; creating a file also catches a read-only mount and a full quota."""
    probe = folder / f".doctor-{os.getpid()}.tmp"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True


# --- the database ---------------------------------------------------------------------------------


def _migration_sets() -> list[tuple[Any, bool]]:
    """Each set of migrations, and whether opening a workspace applies it (the usage log's waits for first use)."""
    from trace2skill.skills_store.schema import MIGRATIONS as SKILLS
    from trace2skill.store.schema import MIGRATIONS as STORE
    from trace2skill.store.usage import MIGRATIONS as USAGE

    return [(STORE, True), (SKILLS, True), (USAGE, False)]


def check_database(home: Home) -> list[Check]:
    import sqlite_utils

    path = home.db_path
    if not path.exists():
        return [Check("database", "warn", f"{path} does not exist yet", "it is created on first use")]
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5)
    except sqlite3.Error as e:
        return [Check("database", "fail", f"cannot open {path}: {e}", "check its permissions")]
    try:
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as e:
            return [
                Check(
                    "database",
                    "fail",
                    f"{path} is damaged or not a database ({e})",
                    f"move it away (mv {path} {path}.broken) and restore a backup, or start afresh",
                )
            ]
        if rows != ["ok"]:
            shown = "; ".join(rows[:3]) + (f" (and {len(rows) - 3} more)" if len(rows) > 3 else "")
            return [
                Check(
                    "database",
                    "fail",
                    f"{path} failed SQLite's integrity check: {shown}",
                    f"restore a backup, or try `sqlite3 {path} .recover | sqlite3 {path}.recovered`",
                )
            ]
        checks = [Check("database", "ok", f"{path.name}: integrity ok")]
        db = sqlite_utils.Database(conn)
        blank = sqlite_utils.Database(memory=True)
        pending: list[str] = []
        unknown: list[str] = []
        applied = 0
        for migrations, on_open in _migration_sets():
            done = migrations.applied(db)
            waiting = migrations.pending(db)
            applied += len(done)
            if on_open or done:  # a set applied on first use is not pending before that use
                pending += [f"{migrations.name}:{m.name}" for m in waiting]
            known = {m.name for m in migrations.pending(blank)}  # every migration this version has
            unknown += [f"{migrations.name}:{n}" for n in sorted({m.name for m in done} - known)]
        if unknown:
            checks.append(
                Check(
                    "schema",
                    "fail",
                    f"the database was upgraded by a newer trace2skill ({', '.join(unknown[:3])})",
                    "upgrade trace2skill: pip install -U trace2skill",
                )
            )
        elif pending:
            checks.append(
                Check(
                    "schema",
                    "warn",
                    f"{len(pending)} upgrade(s) pending ({', '.join(pending[:3])})",
                    "applied by the next command that opens the database from a writable home",
                )
            )
        else:
            checks.append(Check("schema", "ok", f"schema current ({applied} migrations applied)"))
        return checks
    finally:
        conn.close()


# --- the provider ---------------------------------------------------------------------------------


def _configured(home: Home, env: Mapping[str, str]) -> tuple[str, str] | None:
    """(model, where it came from), aliases resolved; the same order as the CLI's: $TRACE2SKILL_MODEL,
    then `model` in config.json, then the default for a provider whose key is set."""
    from trace2skill.llm.aliases import resolve_alias, user_aliases
    from trace2skill.llm.defaults import MODEL_ENV, configured_model

    try:
        settings = home.read_config()
    except Trace2SkillError:
        settings = {}
    aliases = user_aliases(settings)
    named = env.get(MODEL_ENV, "").strip()
    if named:
        return resolve_alias(named, aliases), f"${MODEL_ENV}"
    default = settings.get("model")
    if isinstance(default, str) and default.strip():
        return resolve_alias(default, aliases), f"`model` in {home.config_path.name}"
    return configured_model(env=env)


def _provider_envs(provider: str) -> tuple[tuple[str, ...], str]:
    if provider == "anthropic":
        from trace2skill.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider.key_envs, AnthropicProvider.base_url_env
    from trace2skill.llm.openai_provider import OpenAIProvider

    return OpenAIProvider.key_envs, OpenAIProvider.base_url_env


def check_provider(home: Home, env: Mapping[str, str] | None = None) -> tuple[list[Check], str | None]:
    """The checks, and the model string a run would use (None when there is none or it cannot work)."""
    from trace2skill.llm.defaults import DEFAULT_MODELS, MODEL_ENV
    from trace2skill.llm.factory import parse_model

    env = os.environ if env is None else env
    keys = [key for key, _ in DEFAULT_MODELS]
    present = [k for k in keys if env.get(k, "").strip()]
    key_note = "keys set: " + (", ".join(present) if present else "none")
    try:
        chosen = _configured(home, env)
    except Trace2SkillError as e:
        return [
            Check("provider", "fail", _line(e), f"fix the model: `trace2skill config set model ...` or ${MODEL_ENV}")
        ], None
    if chosen is None:
        return [
            Check(
                "provider",
                "warn",
                f"no model configured ({key_note}); `serve` can still use a client's model where it offers sampling",
                f"export {' or '.join(keys)}, or `trace2skill config set model provider:name`",
            )
        ], None
    model, source = chosen
    try:
        spec = parse_model(model)
    except Trace2SkillError as e:
        return [
            Check(
                "provider",
                "fail",
                f"{_line(e)} (from {source})",
                "set a valid model: `trace2skill config set model sonnet`",
            )
        ], None
    where = f"model {model} (from {source}; {key_note})"
    if spec.provider in ("anthropic", "openai"):
        key_envs, base_env = _provider_envs(spec.provider)
        custom = spec.base_url or env.get(base_env, "").strip()
        if not custom and not any(env.get(k, "").strip() for k in key_envs):
            return [
                Check(
                    "provider",
                    "fail",
                    f"{where}: {key_envs[0]} is not set",
                    f"export {key_envs[0]}=..., or choose another model",
                )
            ], None
        return [Check("provider", "ok", where + (f", endpoint {custom}" if custom else ""))], model
    if spec.provider == "local":
        from trace2skill.llm.local import resolve_model_path

        try:
            found = resolve_model_path(spec.model, home.models_dir)
        except Trace2SkillError as e:
            return [Check("provider", "fail", f"{where}: {_line(e)}", f"trace2skill models install {spec.model}")], None
        return [Check("provider", "ok", f"{where}: {found}")], model
    return [
        Check(
            "provider",
            "warn",
            f"{where}: {spec.provider} is for tests and MCP clients, not for evolving from the CLI",
            "set a real model",
        )
    ], None


def check_model(home: Home, model: str, timeout: float = 60.0) -> Check:
    """One tiny call (a few tokens) to `model`; the only check that costs anything."""
    import asyncio

    from trace2skill.llm.factory import open_llm
    from trace2skill.llm.retry import RetryPolicy
    from trace2skill.llm.types import ChatMessage, ChatRequest

    async def call() -> tuple[str, float]:
        llm = open_llm(model, home=home, retry=RetryPolicy(max_attempts=1, connect_attempts=1), timeout=timeout)
        try:
            started = time.perf_counter()
            reply = await llm.chat(
                ChatRequest(
                    messages=[ChatMessage(role="user", content="Reply with the word OK.")],
                    max_tokens=16,
                    purpose="doctor",
                )
            )
            return reply.text.strip(), time.perf_counter() - started
        finally:
            await llm.aclose()

    try:
        text, seconds = asyncio.run(call())
    except Exception as e:
        return Check("model call", "fail", f"{model}: {_line(e)}", "check the key, the endpoint and the model name")
    shown = (text[:40] + "...") if len(text) > 40 else text
    return Check("model call", "ok", f"{model} answered in {seconds:.1f} s: {shown!r}")


# --- clients --------------------------------------------------------------------------------------


def check_clients(home: Home) -> list[Check]:
    from trace2skill.integrations.setup import CLIENTS, client_status

    checks = []
    for name in CLIENTS:
        try:
            status = client_status(name, home)
        except Trace2SkillError as e:
            checks.append(
                Check(
                    f"client {name}",
                    "fail",
                    _line(e),
                    "fix that file; `trace2skill setup` never overwrites a broken one",
                )
            )
            continue
        if not status.registered:
            where = "installed" if status.installed else "not found here"
            checks.append(
                Check(
                    f"client {name}",
                    "ok",
                    f"{status.title} {where}; trace2skill not registered",
                    f"trace2skill setup {name}",
                )
            )
            continue
        parts = [f"registered in {status.config_file}"]
        if status.hook is not None:
            parts.append("capture hook " + ("installed" if status.hook else "not installed"))
        if status.exports is not None:
            parts.append(
                "publishing "
                + ("exports to its skills folder" if status.exports else "does not export to its skills folder")
            )
        if status.problems:
            checks.append(
                Check(
                    f"client {name}",
                    "warn",
                    f"{'; '.join(parts)}; but {'; '.join(status.problems)}",
                    f"trace2skill setup {name}",
                )
            )
        elif status.hook is False or status.exports is False:
            checks.append(Check(f"client {name}", "warn", "; ".join(parts), f"trace2skill setup {name}"))
        else:
            checks.append(Check(f"client {name}", "ok", "; ".join(parts)))
    return checks


def run(home: Home, *, check_model_call: bool = False, env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check, in order (the model call only when asked)."""
    checks = check_home(home)
    if home.root.is_dir():
        checks += check_database(home)
    provider, model = check_provider(home, env)
    checks += provider
    if check_model_call:
        if model is None:
            checks.append(
                Check("model call", "fail", "no usable model to call", provider[0].fix or "configure a model")
            )
        else:
            checks.append(check_model(home, model))
    checks += check_clients(home)
    return checks
