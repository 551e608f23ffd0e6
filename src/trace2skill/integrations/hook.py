"""The Claude Code capture hook: read the payload, hand the import to a detached worker, exit 0 at once.

    python -m trace2skill.integrations.hook claude-code --home H          # what settings.json runs
    python -m trace2skill.integrations.hook claude-code --home H --sync   # import in this process
    python -m trace2skill.integrations.hook worker --home H --transcript P [--session S]

Why a module and not the `trace2skill` command: this file imports only the standard library until
the worker runs, so the hook returns in tens of milliseconds however large the CLI grows.

Safety of the background worker: it runs in its own session (it survives `claude -p` teardown) with
no terminal streams; one lock file per session serializes workers of the same session (Stop fires on
every turn), and the import is idempotent (`ingest.store_trajectories`), so a Stop import is simply
superseded by the next one and by SessionEnd's. The hook never exits non-zero and never prints: a
problem goes to `<home>/logs/hooks.log`, one line each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "run_import", "spawn_worker"]

MODULE = "trace2skill.integrations.hook"
_MAX_PAYLOAD = 1 << 20
_LOG_MAX = 1 << 20


def _log(home: Path, line: str) -> None:
    try:
        folder = home / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "hooks.log"
        if log.exists() and log.stat().st_size > _LOG_MAX:
            os.replace(log, folder / "hooks.log.1")
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")
    except OSError:
        pass  # logging must never break the hook


def _resolve_home(raw: str | None) -> Path:
    if raw:
        return Path(raw).expanduser().resolve()
    env = os.environ.get("TRACE2SKILL_HOME")
    return Path(env).expanduser().resolve() if env else (Path.home() / ".trace2skill").resolve()


def _payload(stream: Any) -> dict[str, Any]:
    text = stream.read(_MAX_PAYLOAD)
    data = json.loads(text) if text.strip() else {}
    return data if isinstance(data, dict) else {}


def spawn_worker(home: Path, transcript: Path, session: str | None) -> int:
    """Start the import in a detached process; returns its pid."""
    args = [sys.executable, "-m", MODULE, "worker", "--home", str(home), "--transcript", str(transcript)]
    if session:
        args += ["--session", session]
    kwargs: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "close_fds": True,
        "cwd": str(home) if home.is_dir() else None,
    }
    if sys.platform == "win32":  # pragma: no cover - Windows
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
    else:
        kwargs["start_new_session"] = True
    return subprocess.Popen(args, **kwargs).pid


class _SessionLock:
    """An exclusive lock per session (POSIX flock); a no-op where flock does not exist."""

    def __init__(self, home: Path, key: str) -> None:
        folder = home / "hooks"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.lock"
        self.handle: Any = None

    def __enter__(self) -> _SessionLock:
        self.handle = self.path.open("a")
        try:
            import fcntl

            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def session_files(transcript: Path, session: str | None) -> list[Path]:
    """The transcript plus its subagent transcripts (`<dir>/<session>/subagents/agent-*.jsonl`)."""
    files = [transcript]
    session = session or transcript.stem
    sub = transcript.parent / session / "subagents"
    if sub.is_dir():
        files += sorted(sub.glob("agent-*.jsonl"))
    return files


def run_import(home: Path, transcript: Path, session: str | None) -> dict[str, Any]:
    """Import one session (and its subagents) into the store at `home`; returns the counts."""
    from trace2skill.home import Home
    from trace2skill.importers import RedactionConfig, import_paths
    from trace2skill.integrations.ingest import store_imported
    from trace2skill.workspace import Workspace

    with _SessionLock(home, session or str(transcript)):
        resolved = Home.resolve(home)
        redaction = RedactionConfig.load(resolved.redaction_path)
        items = list(import_paths(session_files(transcript, session), "claude-code", redaction=redaction))
        errors = [f"{i.source}: {i.error}" for i in items if i.error]
        workspace = Workspace.open(resolved)
        try:
            runs = (i.trajectory for i in items if i.trajectory)
            counts = store_imported(workspace, runs)
        finally:
            workspace.close()
    reads = dict(sorted(counts.skill_reads.items()))
    result = {**counts.as_dict(), "skill_reads": reads, "errors": len(errors), "ids": counts.ids}
    summary = json.dumps({**counts.as_dict(), "skill_reads": reads})
    _log(home, f"imported {transcript} session={session}: {summary} errors={len(errors)}")
    for error in errors[:5]:
        _log(home, f"  record error: {error}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    parser.add_argument("mode", choices=["claude-code", "worker"])
    parser.add_argument("--home")
    parser.add_argument("--sync", action="store_true", help="import in this process instead of a detached one")
    parser.add_argument("--transcript")
    parser.add_argument("--session")
    args = parser.parse_args(argv)
    home = _resolve_home(args.home)
    try:
        if args.mode == "worker":
            if not args.transcript:
                _log(home, "worker started without --transcript")
                return 0
            run_import(home, Path(args.transcript), args.session)
            return 0
        payload = _payload(sys.stdin)
        raw = payload.get("transcript_path")
        session = payload.get("session_id") or payload.get("conversation_id")  # Cursor runs Claude hooks too
        if not raw:
            _log(home, f"{payload.get('hook_event_name', 'hook')}: payload has no transcript_path; nothing to import")
            return 0
        transcript = Path(str(raw)).expanduser()
        if not transcript.is_file():
            _log(home, f"transcript {transcript} does not exist; nothing to import")
            return 0
        if args.sync:
            run_import(home, transcript, str(session) if session else None)
        else:
            spawn_worker(home, transcript, str(session) if session else None)
        return 0
    except Exception as e:  # the hook must never fail the session: record and move on
        _log(home, f"hook error: {type(e).__name__}: {e}")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
