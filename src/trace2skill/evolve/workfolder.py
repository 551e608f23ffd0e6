"""The error analyst's work folder: a sandbox over a copy of one run's files, never the reference's.

The paper's error analyst patches the agent's solution and runs it again; for that it needs the
task's input files and what the agent wrote. Inputs come from `metadata["task_files"]` ({name:
absolute path}, recorded by the bench runner); those that no longer exist are named, not invented.
The agent's files come from the trajectory's artifacts (base64 ones decoded to bytes). A file that
belongs to the reference (a path the reference names, or the same bytes as one) is never copied in:
the xlsx-cells reference names its golden workbooks, and an analyst that could read one would copy
it back instead of finding the fix.

A run that kept no files gets an empty folder, and that one is made when the analyst first needs it
(a `run`, or an `evaluate` of files): an analysis that only reads steps and checks answers makes
none, and pays no folder set-up and removal. The first message reads the same either way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from trace2skill.errors import Trace2SkillError, UnsafePath
from trace2skill.evaluators.base import reference_leaves
from trace2skill.models import Trajectory
from trace2skill.sandbox import Sandbox, SandboxLimits, choose_mode
from trace2skill.skills_store.paths import safe_relpath

__all__ = ["ANALYST_LIMITS", "SANDBOX_MODE", "WorkFolder", "open_work_folder"]

SANDBOX_MODE = "auto"
"""bwrap where it works here, else a plain child process (docs/sandbox.md)."""
ANALYST_LIMITS = SandboxLimits(timeout_s=120, output_chars=8_000)
MAX_INPUT_MB = 64
"""A task file larger than this is not copied (and is named as missing)."""
_LISTED = 60
_PYTHON = "python3 has openpyxl" if importlib.util.find_spec("openpyxl") else "python3 is available"
_ORIGINALS = "original"


@dataclass
class _Entry:
    name: str
    size: int
    origin: str


@dataclass
class _Deferred:
    """An empty sandbox not made yet: its mode (already chosen) and limits."""

    mode: str
    limits: SandboxLimits


@dataclass
class WorkFolder:
    """The sandbox (None when it could not be made, with `problem` saying why) and what was put in it.

    An empty folder may be deferred (`box` None until `ready()` makes it); `mode` is known either way."""

    box: Sandbox | None
    entries: list[_Entry] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problem: str | None = None
    deferred: _Deferred | None = field(default=None, repr=False)

    @property
    def mode(self) -> str | None:
        if self.box is not None:
            return self.box.mode
        return self.deferred.mode if self.deferred is not None else None

    async def ready(self) -> Sandbox | None:
        """The sandbox, made now if it was deferred; None (and `problem` set) when it cannot be made."""
        deferred, self.deferred = self.deferred, None
        if deferred is not None:
            try:
                self.box = await asyncio.to_thread(Sandbox, {}, mode=deferred.mode, limits=deferred.limits)
            except (Trace2SkillError, OSError) as e:
                self.problem = f"the sandbox could not be made: {e}"
        return self.box

    def describe(self) -> str:
        """The first message's part about the folder: every file in it, and the task files that are not."""
        mode = self.mode
        if mode is None:
            return f"Work folder: none for this run ({self.problem}); `run` is unavailable."
        network = "no network" if mode == "bwrap" else "network as the user"
        lines = [
            f"Work folder (sandbox: {mode}, {network}): a copy of this run's files. `run` executes shell "
            f"commands here ({_PYTHON}); `evaluate` scores files from here by name."
        ]
        lines += [f"- {e.name} ({e.size:,} bytes): {e.origin}" for e in self.entries[:_LISTED]]
        if len(self.entries) > _LISTED:
            lines.append(f"- … {len(self.entries) - _LISTED} more (list them with `run`: find . -type f)")
        if not self.entries:
            lines.append("- (empty: the run kept no files)")
        if self.missing:
            lines.append("Task files that could not be copied: " + "; ".join(self.missing[:20]))
        return "\n".join(lines)

    async def close(self) -> None:
        self.deferred = None
        if self.box is not None:
            await asyncio.to_thread(self.box.close)


async def open_work_folder(
    t: Trajectory, *, mode: str | None = None, limits: SandboxLimits | None = None
) -> WorkFolder:
    """A sandbox holding the run's input files and the agent's files; the caller closes it."""
    mode, limits = mode or SANDBOX_MODE, limits or ANALYST_LIMITS
    if _no_files(t) and (_modes_probed or mode == "process"):  # no disk work to do: not worth a thread
        deferred = _deferred(mode, limits)
        if deferred is not None:
            return WorkFolder(None, deferred=deferred)
    return await asyncio.to_thread(_open, t, mode, limits)


_modes_probed = False
"""Whether `available_modes()` has run: its first call starts bwrap once, which stays off the event loop."""


def _no_files(t: Trajectory) -> bool:
    """The run kept no files and names no task files: its folder starts empty."""
    return not t.artifacts and not isinstance(t.metadata.get("task_files"), dict)


def _deferred(mode: str, limits: SandboxLimits) -> _Deferred | None:
    """An empty folder to make on first use, its mode chosen as `Sandbox` would; None for a mode only
    `Sandbox` itself may judge (an explicit `bwrap`, an unknown one), which is made at once."""
    global _modes_probed
    if mode not in ("auto", "process"):
        return None
    chosen = choose_mode(mode)
    _modes_probed = _modes_probed or mode == "auto"
    return _Deferred(chosen, limits)


def _open(t: Trajectory, mode: str, limits: SandboxLimits) -> WorkFolder:
    if _no_files(t) and (deferred := _deferred(mode, limits)) is not None:
        return WorkFolder(None, deferred=deferred)
    secret = _ReferenceFiles(t.reference)
    files: dict[str, bytes | Path] = {}
    entries: dict[str, _Entry] = {}
    missing: list[str] = []
    for name, source in _task_files(t, missing):
        if secret.holds_path(name, source):
            continue
        try:
            size = source.stat().st_size
        except OSError:
            missing.append(f"{name} (no longer exists)")
            continue
        if size > MAX_INPUT_MB << 20:
            missing.append(f"{name} ({size:,} bytes: too large to copy)")
        elif not secret.holds_file(source):
            files[name], entries[name] = source, _Entry(name, size, "task input")
    for name, data in _agent_files(t):
        if secret.holds_path(name, None) or secret.holds_bytes(data):
            continue
        if name in files and f"{_ORIGINALS}/{name}" not in files:
            original = entries.pop(name)
            files[f"{_ORIGINALS}/{name}"] = files[name]
            entries[f"{_ORIGINALS}/{name}"] = _Entry(f"{_ORIGINALS}/{name}", original.size, "task input, as given")
        files[name], entries[name] = data, _Entry(name, len(data), "written by the agent")
    if not files and (deferred := _deferred(mode, limits)) is not None:  # nothing to copy in: made on first use
        return WorkFolder(None, missing=missing, deferred=deferred)
    try:
        box = Sandbox(files, mode=mode, limits=limits)
    except (Trace2SkillError, OSError) as e:
        return WorkFolder(None, missing=missing, problem=f"the sandbox could not be made: {e}")
    ordered = sorted(entries.values(), key=lambda e: (e.origin == "written by the agent", e.name))
    return WorkFolder(box, ordered, missing)


def _safe(name: Any) -> str | None:
    try:
        return safe_relpath(name) if isinstance(name, str) else None
    except UnsafePath:
        return None


def _task_files(t: Trajectory, missing: list[str]) -> list[tuple[str, Path]]:
    recorded = t.metadata.get("task_files")
    if not isinstance(recorded, dict):
        return []
    found: list[tuple[str, Path]] = []
    for raw, path in recorded.items():
        name = _safe(raw)
        if name is None or not isinstance(path, str) or not path:
            missing.append(f"{str(raw)[:80]} (not a usable name or path)")
        elif not Path(path).is_file():
            missing.append(f"{name} (no longer exists)")
        else:
            found.append((name, Path(path)))
    return found


def _agent_files(t: Trajectory) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for artifact in t.artifacts:
        name = _safe(artifact.name)
        if name is None:
            continue
        if artifact.encoding == "base64":
            try:
                out.append((name, base64.b64decode(artifact.content, validate=True)))
            except (binascii.Error, ValueError):
                continue
        else:
            out.append((name, artifact.content.encode("utf-8")))
    return out


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _ReferenceFiles:
    """The files a reference names (the golden workbooks of xlsx-cells): by path, by file name, by content."""

    def __init__(self, reference: Any) -> None:
        self.paths: set[str] = set()
        self.names: set[str] = set()
        self.digests: set[str] = set()
        for leaf in reference_leaves(reference):
            if not isinstance(leaf, str) or "\n" in leaf or len(leaf) > 4096 or not ("/" in leaf or "\\" in leaf):
                continue
            base = PurePosixPath(leaf.replace("\\", "/")).name
            if "." in base.strip("."):
                self.names.add(base)
            path = Path(leaf)
            if path.is_absolute() and path.is_file():
                self.paths.add(os.path.realpath(path))
                self.digests.add(_file_digest(path))

    def holds_path(self, name: str, source: Path | None) -> bool:
        if PurePosixPath(name).name in self.names:
            return True
        return source is not None and os.path.realpath(source) in self.paths

    def holds_file(self, path: Path) -> bool:
        return bool(self.digests) and _file_digest(path) in self.digests

    def holds_bytes(self, data: bytes) -> bool:
        return bool(self.digests) and hashlib.sha256(data).hexdigest() in self.digests
