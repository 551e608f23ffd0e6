"""`trace2skill setup CLIENT`: register the MCP server with an agent client, install the capture hook
where the client has one, and point publishing at the client's skills folder; `--undo` takes it back.

One small declarative entry per client (`CLIENTS`) says where its MCP configuration lives and in
which format, whether it has a capture hook we can install, and which skills folder it reads
(`../shared/reference/client-integration.md`):

| client         | MCP configuration                     | hook                      | skills folder      |
|----------------|---------------------------------------|---------------------------|--------------------|
| claude-code    | `~/.claude.json`, `mcpServers`        | `~/.claude/settings.json` | `~/.claude/skills` |
| claude-desktop | `claude_desktop_config.json`          | none                      | none (ZIP uploads) |
| cursor         | `~/.cursor/mcp.json`, `mcpServers`    | none (runs Claude's)      | `~/.cursor/skills` |
| codex          | `~/.codex/config.toml`, `mcp_servers` | none (needs /hooks trust) | `~/.agents/skills` |

`$CLAUDE_CONFIG_DIR` replaces `~/.claude` (and holds `.claude.json`), `$CODEX_HOME` replaces `~/.codex`,
`$XDG_CONFIG_HOME` is honoured for Claude Desktop on Linux; `~` is `$HOME`.

"Publishing at the skills folder" is the home's `export-to` setting (`Home.export_dirs`): every
publish also exports the version into those folders.

Editing rules:
- only our own entry is touched: the server named `trace2skill`, our hook handlers, our folder in
  `export-to`; every other key, server, comment (TOML, through tomlkit) and their order stay;
- a file that does not parse is never overwritten: one clear error, nothing changed;
- running setup again changes nothing ("already set up"); `--dry-run` writes nothing at all;
- what setup changed is recorded in `<home>/setup.json` (mode 0600): per change the file, hashes of
  the file before and after, and the changed span of the old text. `--undo` puts a file back byte
  for byte when nobody touched it since; otherwise it removes only our entry (an entry edited by
  someone since is left alone, with a note), and deletes files and folders setup created.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trace2skill.errors import InvalidInput, NotFound, StorageError, storage_error
from trace2skill.home import EXPORT_KEY, Home
from trace2skill.integrations.claude_code import json_object

__all__ = [
    "CLIENTS",
    "SERVER_NAME",
    "Client",
    "ClientStatus",
    "ServerCommand",
    "SetupResult",
    "Step",
    "client_status",
    "get_client",
    "server_command",
    "setup",
    "undo",
]

SERVER_NAME = "trace2skill"
RECORD_NAME = "setup.json"
FORWARDED_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_MODEL")
"""Codex starts servers with a clean environment; these are forwarded from its own (`env_vars`)."""

Kind = Literal["mcp-server", "hook", "skills-folder"]
Action = Literal["add", "update", "unchanged", "remove", "restore", "kept", "missing", "none"]


# --- where each client keeps things ---------------------------------------------------------------


def _claude_dir() -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    return Path(base).expanduser() if base else Path.home() / ".claude"


def _claude_code_config() -> Path:
    """User-scope servers: top-level `mcpServers` of `~/.claude.json` (`$CLAUDE_CONFIG_DIR/.claude.json`)."""
    base = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    return Path(base).expanduser() / ".claude.json" if base else Path.home() / ".claude.json"


def _claude_desktop_config() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":  # pragma: no cover - Windows
        appdata = os.environ.get("APPDATA", "").strip()
        base = Path(appdata) if appdata else Path.home() / "AppData" / "Roaming"
        return base / "Claude" / "claude_desktop_config.json"
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".config") / "Claude" / "claude_desktop_config.json"


def _codex_dir() -> Path:
    base = os.environ.get("CODEX_HOME", "").strip()
    return Path(base).expanduser() if base else Path.home() / ".codex"


@dataclass(frozen=True)
class ServerCommand:
    """How a client starts the server: `command args...` with the home pinned in the environment."""

    command: str
    args: tuple[str, ...]
    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {"TRACE2SKILL_HOME": str(self.home)}


def _stdio_entry(cmd: ServerCommand) -> dict[str, Any]:
    return {"type": "stdio", "command": cmd.command, "args": list(cmd.args), "env": cmd.env}


def _desktop_entry(cmd: ServerCommand) -> dict[str, Any]:
    return {"command": cmd.command, "args": list(cmd.args), "env": cmd.env}


def _codex_entry(cmd: ServerCommand) -> dict[str, Any]:
    return {"command": cmd.command, "args": list(cmd.args), "env": cmd.env, "env_vars": list(FORWARDED_ENV)}


@dataclass(frozen=True)
class Client:
    """One client: its MCP configuration file and format, its hook file, its skills folder."""

    name: str
    title: str
    config_file: Callable[[], Path]
    config_format: Literal["json", "toml"]
    servers_key: str
    entry: Callable[[ServerCommand], dict[str, Any]]
    marker: Callable[[], Path]
    """A folder whose existence says the client is installed here."""
    hook_file: Callable[[], Path] | None = None
    skills_dir: Callable[[], Path] | None = None
    no_hook: str = ""
    after: str = ""


CLIENTS: dict[str, Client] = {
    c.name: c
    for c in (
        Client(
            "claude-code",
            "Claude Code",
            _claude_code_config,
            "json",
            "mcpServers",
            _stdio_entry,
            marker=_claude_dir,
            hook_file=lambda: _claude_dir() / "settings.json",
            skills_dir=lambda: _claude_dir() / "skills",
            after="start a new Claude Code session (or /mcp) to load the server",
        ),
        Client(
            "claude-desktop",
            "Claude Desktop",
            _claude_desktop_config,
            "json",
            "mcpServers",
            _desktop_entry,
            marker=lambda: _claude_desktop_config().parent,
            no_hook="Claude Desktop has no capture hook: agents record runs with the record_trajectory tool",
            after="quit Claude Desktop fully and start it again; it has no skills folder (upload skills as ZIPs)",
        ),
        Client(
            "cursor",
            "Cursor",
            lambda: Path.home() / ".cursor" / "mcp.json",
            "json",
            "mcpServers",
            _stdio_entry,
            marker=lambda: Path.home() / ".cursor",
            skills_dir=lambda: Path.home() / ".cursor" / "skills",
            no_hook="Cursor runs the Claude Code hook (`trace2skill setup claude-code`); none of its own is installed",
            after="reload Cursor's MCP servers (Settings, MCP) to load the server",
        ),
        Client(
            "codex",
            "Codex",
            lambda: _codex_dir() / "config.toml",
            "toml",
            "mcp_servers",
            _codex_entry,
            marker=_codex_dir,
            skills_dir=lambda: Path.home() / ".agents" / "skills",
            no_hook=(
                "Codex hooks run only once trusted in /hooks, so none is installed: "
                "import sessions with `trace2skill import auto ~/.codex/sessions`"
            ),
            after="restart Codex to load the server and the skills",
        ),
    )
}


def get_client(name: str) -> Client:
    try:
        return CLIENTS[name]
    except KeyError:
        raise InvalidInput(f"unknown client {name!r}; choose one of: {', '.join(CLIENTS)}") from None


def server_command(home: Home, command: str | None = None) -> ServerCommand:
    """`trace2skill serve` by absolute path: `command`, else the script beside this Python, else PATH's."""
    if command is None:
        beside = Path(sys.executable).parent / ("trace2skill.exe" if os.name == "nt" else "trace2skill")
        found = str(beside) if beside.is_file() else shutil.which("trace2skill")
        if found is None:
            raise NotFound(
                "cannot find the trace2skill command to register; install trace2skill, or pass --command PATH"
            )
        command = found
    elif os.sep not in command and "/" not in command:  # a name on PATH
        located = shutil.which(command)
        if located is None:
            raise NotFound(f"{command!r} is not on PATH; pass the full path of the trace2skill command")
        command = located
    return ServerCommand(str(Path(command).expanduser().absolute()), ("serve",), home.root)


# --- results ----------------------------------------------------------------------------------------


@dataclass
class Step:
    """One thing setup did (or would do, or left): an MCP server entry, a hook, a skills folder."""

    kind: Kind
    file: Path
    action: Action
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": str(self.file), "action": self.action, "detail": self.detail}


@dataclass
class SetupResult:
    client: str
    undo: bool
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(s.action in ("add", "update", "remove", "restore") for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "undo": self.undo,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "steps": [s.as_dict() for s in self.steps],
            "notes": self.notes,
        }


# --- reading and writing other programs' files ------------------------------------------------------


def _read(path: Path) -> str | None:
    """The file's text exactly as stored (line endings kept), None when it does not exist."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text; fix it first, nothing was changed") from None
    except OSError as e:
        raise storage_error(e, path) from None


def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _missing_dirs(path: Path) -> list[Path]:
    """The folders above `path` that do not exist yet, deepest first."""
    out = []
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _write(path: Path, text: str) -> None:
    """Replace `path` atomically, keeping its permissions; a symlink (a dotfiles repository) stays a link."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".trace2skill.tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
            if path.exists():
                shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        raise storage_error(e, path) from None


def _remove(path: Path, created_dirs: list[str]) -> None:
    try:
        path.unlink(missing_ok=True)
        for folder in created_dirs:  # deepest first; only when empty
            try:
                Path(folder).rmdir()
            except OSError:
                break
    except OSError as e:
        raise storage_error(e, path) from None


def _indent(text: str | None) -> int | str:
    if text:
        found = re.search(r"\n([ \t]+)\S", text)
        if found:
            unit = found.group(1)
            return "\t" if unit.startswith("\t") else len(unit)
    return 2


def _json_dump(data: dict[str, Any], original: str | None) -> str:
    rendered = json.dumps(data, indent=_indent(original), ensure_ascii=False)
    newline = "\r\n" if original and "\r\n" in original else "\n"
    if newline != "\n":
        rendered = rendered.replace("\n", newline)
    return rendered + newline if original is None or original.endswith(("\n", "\r\n")) else rendered


def _toml_load(path: Path, text: str | None) -> Any:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(text or "")
    except TOMLKitError as e:
        raise InvalidInput(f"{path} is not valid TOML ({e}); fix it first, nothing was changed") from None


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


class _ServersFile:
    """The MCP configuration file of a client: read our entry, set it, remove it (JSON or TOML)."""

    def __init__(self, client: Client, path: Path, text: str | None) -> None:
        self.client, self.path, self.text = client, path, text
        self.toml = client.config_format == "toml"
        self.doc: Any = _toml_load(path, text) if self.toml else json_object(path, text)
        servers = self.doc.get(client.servers_key)
        if servers is not None and not isinstance(_plain(servers), dict):
            raise InvalidInput(f"{path}: {client.servers_key!r} must be a table of servers; nothing was changed")

    def get(self) -> Any:
        servers = self.doc.get(self.client.servers_key)
        return None if servers is None or SERVER_NAME not in servers else _plain(servers[SERVER_NAME])

    def servers(self) -> dict[str, Any]:
        servers = self.doc.get(self.client.servers_key)
        return {} if servers is None else dict(_plain(servers))

    def set(self, value: Any) -> str:
        """The file's new text with our entry set to `value` (None removes it)."""
        key = self.client.servers_key
        servers = self.doc.get(key)
        if value is None:
            if servers is not None and SERVER_NAME in servers:
                del servers[SERVER_NAME]
                if len(servers) == 0:
                    del self.doc[key]
        elif self.toml:
            import tomlkit

            entry = tomlkit.table()
            for name, item in value.items():
                if isinstance(item, dict):
                    inline = tomlkit.inline_table()
                    inline.update(item)
                    entry[name] = inline
                else:
                    entry[name] = item
            entry.add(tomlkit.nl())  # a blank line before whatever table follows
            if servers is None:
                servers = tomlkit.table(is_super_table=True)
                self.doc[key] = servers
            servers[SERVER_NAME] = entry
        else:
            if servers is None:
                servers = self.doc[key] = {}
            servers[SERVER_NAME] = value
        if self.toml:
            import tomlkit

            return str(tomlkit.dumps(self.doc))
        return _json_dump(self.doc, self.text)

    @property
    def empty(self) -> bool:
        return len(self.doc) == 0


# --- the record of what setup changed ----------------------------------------------------------------


def _record_path(home: Home) -> Path:
    return home.root / RECORD_NAME


def _load_record(home: Home) -> dict[str, Any]:
    path = _record_path(home)
    text = _read(path)
    if text is None:
        return {"version": 1, "clients": {}}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("clients"), dict):
        raise InvalidInput(f"{path} is damaged; undo by hand, then delete it")
    return data


def _save_record(home: Home, record: dict[str, Any]) -> None:
    path = _record_path(home)
    if not any(record["clients"].values()):
        _remove(path, [])
        return
    home.ensure()
    _write(path, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    try:
        path.chmod(0o600)  # it holds spans of other programs' configuration files
    except OSError as e:
        raise storage_error(e, path) from None


def _common_prefix(a: str, b: str, limit: int) -> int:
    i, step = 0, 4096
    while i + step <= limit and a[i : i + step] == b[i : i + step]:  # blocks first: files can be megabytes
        i += step
    while i < limit and a[i] == b[i]:
        i += 1
    return i


def _common_suffix(a: str, b: str, limit: int) -> int:
    i, step = 0, 4096
    while i + step <= limit and a[len(a) - i - step : len(a) - i] == b[len(b) - i - step : len(b) - i]:
        i += step
    while i < limit and a[-1 - i] == b[-1 - i]:
        i += 1
    return i


def _span(before: str, after: str) -> dict[str, Any]:
    """What `after` replaced in `before`: a common prefix and suffix length and the old middle."""
    limit = min(len(before), len(after))
    prefix = _common_prefix(before, after, limit)
    suffix = _common_suffix(before, after, limit - prefix)
    return {"prefix": prefix, "suffix": suffix, "old": before[prefix : len(before) - suffix]}


def _unspan(after: str, span: dict[str, Any]) -> str:
    prefix, suffix = int(span["prefix"]), int(span["suffix"])
    return after[:prefix] + str(span["old"]) + after[len(after) - suffix :]


def _change(
    kind: Kind, path: Path, before: str | None, after: str, created: list[Path], **extra: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "file": str(path),
        "existed": before is not None,
        "sha256_before": _sha(before),
        "sha256_after": _sha(after),
        "span": _span(before, after) if before is not None else None,
        "created_dirs": [str(d) for d in created],
        **extra,
    }


# --- setup -----------------------------------------------------------------------------------------


@dataclass
class _Plan:
    step: Step
    apply: Callable[[], dict[str, Any]] | None = None


def _plan_server(client: Client, cmd: ServerCommand) -> _Plan:
    path = client.config_file()
    text = _read(path)
    servers = _ServersFile(client, path, text)
    desired = client.entry(cmd)
    current = servers.get()
    if current == desired:
        return _Plan(Step("mcp-server", path, "unchanged", f"MCP server {SERVER_NAME!r} already registered"))
    new_text = servers.set(desired)
    action: Action = "add" if current is None else "update"
    detail = f"MCP server {SERVER_NAME!r}: {cmd.command} {' '.join(cmd.args)} (TRACE2SKILL_HOME={cmd.home})"

    def apply() -> dict[str, Any]:
        created = _missing_dirs(path)
        _write(path, new_text)
        return _change("mcp-server", path, text, new_text, created, previous=current, added=desired)

    return _Plan(Step("mcp-server", path, action, detail), apply)


def _plan_hook(client: Client, home: Home) -> _Plan | None:
    if client.hook_file is None:
        return None
    from trace2skill.integrations import claude_code

    path = client.hook_file()
    command = claude_code.hook_command(home.root)
    installed = claude_code.installed_events(path)  # refuses a settings file that does not parse
    events = ", ".join(claude_code.EVENTS)
    if all(installed.get(e) == command for e in claude_code.EVENTS):
        return _Plan(Step("hook", path, "unchanged", f"capture hook ({events}) already installed"))
    action: Action = "update" if installed else "add"

    def apply() -> dict[str, Any]:
        before = _read(path)
        created = _missing_dirs(path)
        claude_code.install(path, home.root, backup=False)
        after = _read(path) or ""
        return _change("hook", path, before, after, created, previous=installed)

    return _Plan(Step("hook", path, action, f"capture hook ({events}): {command}"), apply)


def _plan_skills(client: Client, home: Home) -> _Plan | None:
    if client.skills_dir is None:
        return None
    folder = str(client.skills_dir().expanduser().absolute())
    path = home.config_path
    present = [str(p) for p in home.export_dirs()]  # refuses a broken config.json
    if folder in present:
        return _Plan(Step("skills-folder", path, "unchanged", f"publishing already exports to {folder}"))
    text = _read(path)
    detail = f"publishing also exports to {folder} ({EXPORT_KEY} in {path.name})"

    def apply() -> dict[str, Any]:
        data = json_object(path, text)
        data[EXPORT_KEY] = [*data.get(EXPORT_KEY, []), folder]
        after = _json_dump(data, text)
        created = _missing_dirs(path)
        _write(path, after)
        return _change("skills-folder", path, text, after, created, added=folder)

    return _Plan(Step("skills-folder", path, "add", detail), apply)


def setup(client_name: str, home: Home, *, dry_run: bool = False, command: str | None = None) -> SetupResult:
    """Register the server, install the hook, point publishing at the skills folder (see the module)."""
    client = get_client(client_name)
    cmd = server_command(home, command)
    result = SetupResult(client.name, undo=False, dry_run=dry_run)
    plans = [_plan_server(client, cmd), _plan_hook(client, home), _plan_skills(client, home)]
    todo = [p for p in plans if p is not None]  # every file was read and parsed before anything is written
    result.steps = [p.step for p in todo]
    if client.no_hook:
        result.notes.append(client.no_hook)
    if dry_run or not any(p.apply is not None for p in todo):
        if result.changed and client.after:
            result.notes.append(f"after setting up: {client.after}")
        return result
    home.ensure()
    if not home.writable:  # checked before any client file changes: the record of what changed must fit
        raise StorageError(f"the home {home.root} cannot be written, so setup could not record what it changes")
    record = _load_record(home)
    entry = record["clients"].setdefault(client.name, {"changes": []})
    for plan in todo:
        if plan.apply is None:
            continue
        entry["changes"].append(plan.apply())
        _save_record(home, record)  # after every change, so an interrupted setup can still be undone
    if client.after:
        result.notes.append(client.after)
    return result


# --- undo ------------------------------------------------------------------------------------------


def _claimed_by_others(record: dict[str, Any], client: str, folder: str) -> bool:
    return any(
        ch.get("kind") == "skills-folder" and ch.get("added") == folder
        for name, entry in record["clients"].items()
        if name != client
        for ch in entry.get("changes", [])
    )


def _undo_change(client: Client, record: dict[str, Any], change: dict[str, Any], dry_run: bool) -> Step:
    kind: Kind = change["kind"]
    path = Path(change["file"])
    text = _read(path)
    what = {"mcp-server": f"MCP server {SERVER_NAME!r}", "hook": "capture hook", "skills-folder": "skills folder"}[kind]
    if text is None:
        return Step(kind, path, "missing", f"{path} no longer exists; nothing to remove")
    if _sha(text) == change["sha256_after"]:  # untouched since setup: put it back byte for byte
        if not change["existed"]:
            if not dry_run:
                _remove(path, change.get("created_dirs", []))
            return Step(kind, path, "restore", f"{what}: removed the file setup created")
        original = _unspan(text, change["span"])
        if _sha(original) == change["sha256_before"]:
            if not dry_run:
                _write(path, original)
            return Step(kind, path, "restore", f"{what}: file put back as it was before setup")
    # changed since setup (the client rewrote it, or another setup ran): remove only our entry
    if kind == "mcp-server":
        servers = _ServersFile(client, path, text)
        if servers.get() is None:
            return Step(kind, path, "missing", f"{what} is no longer there")
        if servers.get() != change.get("added"):
            return Step(kind, path, "kept", f"{what} was changed since setup; left as it is")
        new_text = servers.set(change.get("previous"))
        if not dry_run:
            if servers.empty and not change["existed"]:
                _remove(path, change.get("created_dirs", []))
            else:
                _write(path, new_text)
        return Step(kind, path, "remove", f"{what} removed; the rest of the file kept")
    if kind == "hook":
        from trace2skill.integrations import claude_code

        if not claude_code.installed_events(path):
            return Step(kind, path, "missing", f"{what} is no longer there")
        if not dry_run:
            claude_code.uninstall(path, backup=False)
        return Step(kind, path, "remove", f"{what} removed; other hooks and settings kept")
    folder = str(change.get("added"))
    data = json_object(path, text)
    folders = data.get(EXPORT_KEY)
    if not isinstance(folders, list) or folder not in folders:
        return Step(kind, path, "missing", f"{folder} is no longer in {EXPORT_KEY}")
    if _claimed_by_others(record, client.name, folder):
        return Step(kind, path, "kept", f"{folder} stays in {EXPORT_KEY}: another client's setup uses it")
    rest = [f for f in folders if f != folder]
    if rest:
        data[EXPORT_KEY] = rest
    else:
        del data[EXPORT_KEY]
    if not dry_run:
        _write(path, _json_dump(data, text))
    return Step(kind, path, "remove", f"publishing no longer exports to {folder}")


def undo(client_name: str, home: Home, *, dry_run: bool = False) -> SetupResult:
    """Take back what `setup` recorded for this client, newest change first."""
    client = get_client(client_name)
    result = SetupResult(client.name, undo=True, dry_run=dry_run)
    record = _load_record(home)
    changes = record["clients"].get(client.name, {}).get("changes", [])
    if not changes:
        result.notes.append(f"nothing to undo: `trace2skill setup {client.name}` changed nothing from {home.root}")
        return result
    for change in reversed(changes):
        result.steps.append(_undo_change(client, record, change, dry_run))
    if not dry_run:
        del record["clients"][client.name]
        _save_record(home, record)
    return result


# --- status (for doctor) --------------------------------------------------------------------------


@dataclass
class ClientStatus:
    client: str
    title: str
    installed: bool
    config_file: Path
    registered: bool
    problems: list[str] = field(default_factory=list)
    hook: bool | None = None
    exports: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "installed": self.installed,
            "config_file": str(self.config_file),
            "registered": self.registered,
            "hook": self.hook,
            "exports_to_skills_folder": self.exports,
            "problems": self.problems,
        }


def client_status(client_name: str, home: Home) -> ClientStatus:
    """Whether trace2skill is registered with this client, for this home, with a command that exists."""
    client = get_client(client_name)
    path = client.config_file()
    servers = _ServersFile(client, path, _read(path))
    entry = servers.get()
    status = ClientStatus(client.name, client.title, client.marker().is_dir(), path, entry is not None)
    if isinstance(entry, dict):
        command = entry.get("command")
        if isinstance(command, str) and not (Path(command).is_file() or shutil.which(command)):
            status.problems.append(f"its command {command} does not exist")
        env = entry.get("env") if isinstance(entry.get("env"), dict) else {}
        pinned = env.get("TRACE2SKILL_HOME") if isinstance(env, dict) else None
        if isinstance(pinned, str) and Path(pinned).expanduser().absolute() != home.root:
            status.problems.append(f"it uses the home {pinned}, not {home.root}")
    if client.hook_file is not None:
        from trace2skill.integrations import claude_code

        status.hook = bool(claude_code.installed_events(client.hook_file()))
    if client.skills_dir is not None:
        folder = client.skills_dir().expanduser().absolute()
        status.exports = folder in [p.absolute() for p in home.export_dirs()]
    return status
