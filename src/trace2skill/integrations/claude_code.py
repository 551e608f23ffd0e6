"""Install and remove the trace2skill capture hook in Claude Code's settings.json.

The hook runs on `Stop` (after every turn) and `SessionEnd`: Claude Code passes a JSON payload on
stdin with the session's `transcript_path`; our command (`python -m trace2skill.integrations.hook
claude-code --home <home>`) hands the work to a detached process and exits at once, so the session
is never slowed (SessionEnd hooks share a 1.5 s budget). See `hook.py` for what runs.

Editing rules (`../shared/reference/client-integration.md` §1.7):
- only handlers we own are touched: a `command` hook whose command contains our module name;
- installing twice leaves one entry per event; an up-to-date file is not rewritten at all;
- everything else in the file is kept: keys, their order, other hooks; the file is written back with
  the indentation it had, so a file that was formatted that way stays byte-for-byte the same around
  our entry; the previous content is kept in `settings.json.bak` and the write is atomic;
- an existing file that is not valid JSON is never overwritten: we stop with a clear error.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.errors import InvalidInput

__all__ = [
    "EVENTS",
    "HOOK_MODULE",
    "HookChange",
    "hook_command",
    "install",
    "installed_events",
    "settings_path",
    "uninstall",
]

HOOK_MODULE = "trace2skill.integrations.hook"
EVENTS = ("Stop", "SessionEnd")
TIMEOUTS = {"Stop": 10, "SessionEnd": 5}
SCOPES = ("user", "project", "local")


@dataclass
class HookChange:
    """What an install/uninstall did to one settings file."""

    path: Path
    changed: bool
    events: list[str]
    backup: Path | None = None


def settings_path(scope: str = "user", cwd: Path | None = None) -> Path:
    """`~/.claude/settings.json` ($CLAUDE_CONFIG_DIR replaces ~/.claude), `.claude/settings.json`,
    or `.claude/settings.local.json` under `cwd`."""
    if scope == "user":
        base = os.environ.get("CLAUDE_CONFIG_DIR")
        return (Path(base).expanduser() if base else Path.home() / ".claude") / "settings.json"
    root = cwd or Path.cwd()
    if scope == "project":
        return root / ".claude" / "settings.json"
    if scope == "local":
        return root / ".claude" / "settings.local.json"
    raise InvalidInput(f"unknown scope {scope!r}; choose one of: {', '.join(SCOPES)}")


def hook_command(home: Path, python: str | None = None) -> str:
    """The shell command Claude Code runs: this Python, our hook module, the home folder pinned."""
    interpreter = python or sys.executable
    return f"{shlex.quote(interpreter)} -m {HOOK_MODULE} claude-code --home {shlex.quote(str(home))}"


def _ours(handler: Any) -> bool:
    return isinstance(handler, dict) and HOOK_MODULE in str(handler.get("command", ""))


def json_object(path: Path, text: str | None) -> dict[str, Any]:
    """A client's JSON settings file as a dict ({} when missing or blank); anything else is refused in one line
    before a byte of it is changed (also used by `integrations.setup`)."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInput(
            f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); fix it first, nothing was changed"
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a JSON object; fix it first, nothing was changed")
    return data


def _load(path: Path) -> tuple[dict[str, Any], str | None]:
    if not path.exists():
        return {}, None
    text = path.read_text(encoding="utf-8")
    data = json_object(path, text)
    if "hooks" in data and not isinstance(data["hooks"], dict):
        raise InvalidInput(f"{path}: 'hooks' must be an object; nothing was changed")
    return data, text


def _indent(text: str | None) -> int | str:
    """The indentation the file uses (Claude Code writes 2 spaces)."""
    if text:
        found = re.search(r"\n([ \t]+)\S", text)
        if found:
            unit = found.group(1)
            return "\t" if unit.startswith("\t") else len(unit)
    return 2


def _write(path: Path, data: dict[str, Any], original: str | None, backup: bool = True) -> Path | None:
    rendered = json.dumps(data, indent=_indent(original), ensure_ascii=False)
    if original is None or original.endswith("\n"):
        rendered += "\n"
    if rendered == original:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = None
    if original is not None and backup:
        saved = path.with_name(path.name + ".bak")
        shutil.copy2(path, saved)
    tmp = path.with_name(path.name + ".trace2skill.tmp")
    tmp.write_text(rendered, encoding="utf-8")
    if path.exists():
        shutil.copymode(path, tmp)
    os.replace(tmp, path)
    return saved


def _strip_ours(hooks: dict[str, Any], events: tuple[str, ...] | None = None) -> None:
    """Remove our handlers (from `events`, or all events); drop groups and events left empty."""
    for event in list(hooks):
        if events is not None and event not in events:
            continue
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept = []
        for group in groups:
            if isinstance(group, dict) and isinstance(group.get("hooks"), list):
                remaining = [h for h in group["hooks"] if not _ours(h)]
                if len(remaining) != len(group["hooks"]):
                    if not remaining:
                        continue
                    group = {**group, "hooks": remaining}
            kept.append(group)
        if kept:
            hooks[event] = kept
        else:
            del hooks[event]


def install(
    path: Path, home: Path, events: tuple[str, ...] = EVENTS, python: str | None = None, *, backup: bool = True
) -> HookChange:
    """Add (or refresh) our hook for `events` in the settings file at `path`; idempotent.

    `backup=False` writes no `settings.json.bak` (`trace2skill setup` keeps its own record to undo)."""
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidInput(f"unsupported hook event(s) {unknown}; choose from {', '.join(EVENTS)}")
    data, original = _load(path)
    command = hook_command(home, python)
    hooks = data.get("hooks")
    if hooks is None:
        hooks = data["hooks"] = {}
    current = _current(hooks)
    if all(current.get(e) == command for e in events) and all(sum(1 for _ in _handlers(hooks, e)) == 1 for e in events):
        return HookChange(path, False, list(events))
    _strip_ours(hooks, events)
    for event in events:
        handler = {"type": "command", "command": command, "timeout": TIMEOUTS[event]}
        hooks.setdefault(event, []).append({"hooks": [handler]})
    saved = _write(path, data, original, backup)
    return HookChange(path, True, list(events), saved)


def uninstall(path: Path, *, backup: bool = True) -> HookChange:
    """Remove every handler of ours from the settings file; other settings and hooks stay."""
    data, original = _load(path)
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return HookChange(path, False, [])
    removed = [e for e in EVENTS if any(True for _ in _handlers(hooks, e))]
    removed += [e for e in hooks if e not in EVENTS and any(True for _ in _handlers(hooks, e))]
    if not removed:
        return HookChange(path, False, [])
    _strip_ours(hooks)
    if not hooks:
        del data["hooks"]
    saved = _write(path, data, original, backup)
    return HookChange(path, True, removed, saved)


def _handlers(hooks: dict[str, Any], event: str) -> Any:
    for group in hooks.get(event) or []:
        if isinstance(group, dict):
            for handler in group.get("hooks") or []:
                if _ours(handler):
                    yield handler


def _current(hooks: dict[str, Any]) -> dict[str, str]:
    return {e: str(h.get("command")) for e in EVENTS for h in _handlers(hooks, e)}


def installed_events(path: Path) -> dict[str, str]:
    """Event -> our installed command, for `hooks status`."""
    data, _ = _load(path)
    hooks = data.get("hooks")
    return _current(hooks) if isinstance(hooks, dict) else {}
