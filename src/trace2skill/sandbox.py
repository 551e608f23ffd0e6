"""Run an agent's commands in a fresh work folder holding a copy of the task's input files.

The agent's `bash` tool and the error analyst (which patches and re-runs a failed solution) both need
to run model-written commands without letting them hang the fleet, eat the machine's memory, flood a
prompt with gigabytes of output or see the provider keys in our environment. Two modes do that:
`bwrap` (bubblewrap: read-only system, private /tmp, no network, only the work folder writable) and
`process` (a plain child process with resource limits). Neither is a security boundary against a
hostile model; see docs/sandbox.md. Which mode ran is reported in every result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import errno
import functools
import hashlib
import logging
import math
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO

from trace2skill.errors import InvalidInput, NotFound, UnsafePath
from trace2skill.skills_store.paths import safe_relpath

__all__ = [
    "MAX_CHANGED_FILES",
    "SECRET_NAME_PARTS",
    "SECRET_NAME_PREFIXES",
    "Sandbox",
    "SandboxLimits",
    "SandboxResult",
    "available_modes",
    "choose_mode",
    "is_secret_name",
]

log = logging.getLogger(__name__)

SECRET_NAME_PREFIXES = ("TRACE2SKILL_", "ANTHROPIC_", "OPENAI_")
"""Variables with these prefixes never reach a command, even when passed in `env`."""
SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
"""Nor do variables whose name contains one of these words (case-insensitive)."""
MAX_CHANGED_FILES = 200
"""`changed_files` returns at most this many files: a command that writes thousands is not a result."""

SHELL = shutil.which("bash") or "/bin/sh"
"""String commands run with `SHELL -c`: bash when present, since agents write bash."""

_NO_FILES: Mapping[str, bytes | str | os.PathLike[str]] = MappingProxyType({})
_CHUNK = 1 << 20
_UTF8_CONTINUATION = bytes(range(0x80, 0xC0))
_MEMORY_TEXT = ("memoryerror", "std::bad_alloc", "cannot allocate memory", "out of memory", "unable to allocate")
_FILE_SIZE_TEXT = ("file too large",)
_PR_SET_PDEATHSIG = 1


def is_secret_name(name: str) -> bool:
    """True for an environment variable name that may carry a credential, so it is never passed on."""
    upper = name.upper()
    return upper.startswith(SECRET_NAME_PREFIXES) or any(part in upper for part in SECRET_NAME_PARTS)


@dataclass(frozen=True)
class SandboxLimits:
    """Per-command limits. `processes` (RLIMIT_NPROC) counts all processes of the user and root ignores it."""

    timeout_s: float = 60.0
    memory_mb: int = 2048
    processes: int = 256
    file_mb: int = 256
    output_chars: int = 16_000

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_mb", "processes", "file_mb"):
            if not getattr(self, name) > 0:
                raise InvalidInput(f"sandbox limit {name} must be positive, got {getattr(self, name)!r}")
        if self.output_chars < 0:
            raise InvalidInput(f"sandbox limit output_chars must be 0 or more, got {self.output_chars!r}")


@dataclass
class SandboxResult:
    """What a command did: clipped output, exit code (None when we killed it), and which limit stopped it."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    limit: str | None
    seconds: float
    mode: str
    timeout_s: float | None = None  # the wall-clock limit the command ran under

    def render(self) -> str:
        """One text for a model: stdout, then stderr, then the exit or stop line."""
        text = _with_newline(self.stdout)
        if self.stderr:
            text += "[stderr]\n" + _with_newline(self.stderr)
        return text + self._status()

    def _status(self) -> str:
        if self.timed_out:
            limit = self.timeout_s if self.timeout_s is not None else self.seconds
            return f"[stopped: timeout after {round(limit, 1):g} s]"  # the limit: a loaded machine overshoots it
        names = {"memory": "memory limit", "file_size": "file size limit", "cpu": "CPU time limit"}
        if self.limit in names:
            return f"[stopped: {names[self.limit]}; exit {self.exit_code}]"
        return f"[exit {self.exit_code}]"


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


# --- which modes work here ------------------------------------------------------------------------


def _bwrap_isolation() -> list[str]:
    """The bwrap flags every command gets; the probe runs with the same ones."""
    flags = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    tail = ["--unshare-all", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        # Real root keeps its capabilities in bwrap; without them it cannot remount or ignore file modes.
        tail += ["--cap-drop", "ALL"]
    return flags + tail


@functools.cache
def _bwrap_problem() -> str | None:
    """None when `bwrap ... true` runs here, else why not. Probed once per process."""
    path = shutil.which("bwrap")
    if path is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    try:
        done = subprocess.run(
            [path, *_bwrap_isolation(), "--", "true"],
            capture_output=True,
            timeout=10,
            env={"PATH": os.defpath},
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not be started: {exc}"
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap failed its test run ({reason[-1] if reason else f'exit {done.returncode}'})"
    return None


def available_modes() -> list[str]:
    """`["bwrap", "process"]` when bubblewrap works here, else `["process"]`."""
    return ["process"] if _bwrap_problem() else ["bwrap", "process"]


def choose_mode(mode: str) -> str:
    """The mode a Sandbox asked for `mode` runs in: `auto` is bwrap where it works, else process."""
    if mode not in ("auto", "bwrap", "process"):
        raise InvalidInput(f"sandbox mode {mode!r} is unknown; use 'auto', 'bwrap' or 'process'")
    if mode == "process":
        return mode
    if "bwrap" in available_modes():
        return "bwrap"
    if mode == "bwrap":
        raise InvalidInput(f"sandbox mode 'bwrap' is not available: {_bwrap_problem() or 'probe failed'}")
    return "process"


# --- environment ------------------------------------------------------------------------------------


def _check_env(env: Mapping[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in env.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise InvalidInput(f"sandbox env entries must be strings, got {name!r}={value!r}")
        if not name or "=" in name or "\x00" in name or "\x00" in value:
            raise InvalidInput(f"sandbox env name {name!r} or its value is not a valid environment entry")
        if is_secret_name(name):
            log.warning("sandbox: not passing %s to commands (it looks like a credential)", name)
            continue
        kept[name] = value
    return kept


def _search_path() -> str:
    """The interpreter running trace2skill first, so `python` has our packages (openpyxl and friends)."""
    dirs = [os.path.dirname(sys.executable)]
    for entry in (os.environ.get("PATH") or os.defpath).split(os.pathsep):
        if os.path.isabs(entry) and entry not in dirs:
            dirs.append(entry)
    return os.pathsep.join(dirs)


def _environment(home: Path, tmpdir: str, cache: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """Built from an allow-list: nothing of ours is inherited wholesale."""
    env = {
        "PATH": _search_path(),
        "HOME": str(home),
        "TMPDIR": tmpdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": os.environ.get("TZ") or "UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        # Caches go outside the work folder, so they never show up as produced files.
        "XDG_CACHE_HOME": str(cache),
        "MPLCONFIGDIR": str(cache / "matplotlib"),
    }
    env.update(extra)
    return {name: value for name, value in env.items() if not is_secret_name(name)}


# --- resource limits ----------------------------------------------------------------------------------


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl()


def _capped(kind: int, soft: int, hard: int | None = None) -> tuple[int, int, int]:
    """(kind, soft, hard) lowered to the current hard limit, so setrlimit never fails for lack of privilege."""
    hard = soft if hard is None else hard
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    return kind, soft, hard


def _limiter(limits: SandboxLimits, timeout_s: float) -> Callable[[], None]:
    """The preexec function: computed before the fork, so the child only makes system calls."""
    cpu = math.ceil(timeout_s) + 1
    settings = [
        _capped(resource.RLIMIT_AS, limits.memory_mb << 20),
        _capped(resource.RLIMIT_NPROC, limits.processes),
        _capped(resource.RLIMIT_FSIZE, limits.file_mb << 20),
        # The soft limit sends SIGXCPU (which we can name); the hard one a second later SIGKILL.
        _capped(resource.RLIMIT_CPU, cpu, cpu + 1),
        _capped(resource.RLIMIT_CORE, 0),
    ]
    prctl = _PRCTL

    def apply() -> None:
        for kind, soft, hard in settings:
            resource.setrlimit(kind, (soft, hard))
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # if trace2skill dies, the command dies with it

    return apply


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _exit_code(returncode: int) -> int:
    """Death by signal N as 128+N, as a shell and bwrap report it, so both modes read the same."""
    return 128 - returncode if returncode < 0 else returncode


def _which_limit(exit_code: int | None, timed_out: bool, stdout: str, stderr: str) -> str | None:
    """Best effort: the signal a limit sends, or the error text a program prints when it hits one."""
    if timed_out:
        return "timeout"
    if not exit_code:
        return None
    if exit_code == 128 + signal.SIGXFSZ:
        return "file_size"
    if exit_code == 128 + signal.SIGXCPU:
        return "cpu"
    text = (stderr + "\n" + stdout).lower()
    if any(marker in text for marker in _FILE_SIZE_TEXT):
        return "file_size"
    if any(marker in text for marker in _MEMORY_TEXT):
        return "memory"
    return None


# --- output read-back ----------------------------------------------------------------------------------


def _count_chars(f: IO[bytes]) -> int:
    """UTF-8 characters in the file, streamed: every byte that is not a continuation byte starts one."""
    f.seek(0)
    count = 0
    while chunk := f.read(_CHUNK):
        count += len(chunk.translate(None, _UTF8_CONTINUATION))
    return count


def _budgets(out_chars: int, err_chars: int, total: int) -> tuple[int, int]:
    """Split the character budget: a short stream keeps everything, the long one gets the rest."""
    if out_chars + err_chars <= total:
        return out_chars, err_chars
    half = total // 2
    if out_chars <= half:
        return out_chars, total - out_chars
    if err_chars <= half:
        return total - err_chars, err_chars
    return total - half, half


def _clip(f: IO[bytes], chars: int, budget: int) -> str:
    """The head and tail of the file within `budget` characters, a marker line for the middle."""
    f.seek(0)
    if chars <= budget:
        return f.read().decode("utf-8", "replace")
    head_n = budget // 2
    tail_n = budget - head_n
    head = f.read(head_n * 4).decode("utf-8", "replace")[:head_n]
    tail = ""
    if tail_n:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - tail_n * 4))
        tail = f.read().decode("utf-8", "replace")[-tail_n:]
    marker = f"[... {chars - head_n - tail_n:,} characters clipped ...]\n"
    return _with_newline(head) + marker + tail


def _read_back(out: IO[bytes], err: IO[bytes], budget: int) -> tuple[str, str]:
    out_chars, err_chars = _count_chars(out), _count_chars(err)
    out_budget, err_budget = _budgets(out_chars, err_chars, budget)
    return _clip(out, out_chars, out_budget), _clip(err, err_chars, err_budget)


# --- files in the work folder, never through a symlink --------------------------------------------------


def _relpath(path: str, what: str) -> str:
    try:
        return safe_relpath(path)
    except UnsafePath as exc:
        # safe_relpath speaks of skills; the rule is the same for the work folder.
        message = str(exc).replace("the skill folder", "the work folder").replace("a skill file path", "a path")
        raise UnsafePath(f"{what}: {message}") from None


def _open_below(root: Path, rel: str, flags: int, *, make_dirs: bool = False) -> int:
    """A descriptor for `rel` below `root` that follows no symlink on the way, so a link a command
    made (`out -> /etc`) cannot send a read or a write outside the work folder."""
    names = rel.split("/")
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name in names[:-1]:
            if make_dirs:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=dir_fd)
            next_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        return os.open(names[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _fs_error(rel: str, exc: OSError) -> Exception:
    if exc.errno == errno.ENOENT:
        return NotFound(f"no file {rel!r} in the sandbox work folder")
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return UnsafePath(f"{rel!r} goes through a symbolic link or a file; the sandbox follows no links")
    if exc.errno == errno.EISDIR:
        return InvalidInput(f"{rel!r} is a folder in the sandbox work folder, not a file")
    return InvalidInput(f"cannot access {rel!r} in the sandbox work folder: {exc.strerror}")


def _read_below(root: Path, rel: str, max_bytes: int | None = None) -> bytes | None:
    """The file's bytes; None when it is larger than `max_bytes`. Refuses anything but a regular file."""
    try:
        fd = _open_below(root, rel, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise _fs_error(rel, exc) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"{rel!r} in the sandbox work folder is not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            return None
        return f.read()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lock_readonly(path: Path) -> None:
    """chmod a-w on a folder's files and folders: what process mode can do for read-only inputs."""
    if path.is_symlink():
        return
    if path.is_file():
        path.chmod(0o444)
        return
    for dirpath, _dirnames, filenames in os.walk(path, topdown=False):
        for name in filenames:
            file = os.path.join(dirpath, name)
            if not os.path.islink(file):
                os.chmod(file, 0o444)
        os.chmod(dirpath, 0o555)


def _remove_tree(root: str) -> None:
    """rmtree that first gives back write permission on folders (ours read-only ones, or a command's chmod 000)."""
    try:
        os.chmod(root, 0o700)
    except OSError:
        return
    for dirpath, dirnames, _filenames in os.walk(root):
        for name in dirnames:
            folder = os.path.join(dirpath, name)
            if not os.path.islink(folder):
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o700)
    shutil.rmtree(root, ignore_errors=True)


def _input_bytes(rel: str, value: object) -> Iterator[bytes]:
    """The content of one input file in chunks: bytes, text (UTF-8) or a file to copy."""
    if isinstance(value, bytes | bytearray | memoryview):
        yield bytes(value)
    elif isinstance(value, str):
        yield value.encode("utf-8")
    elif isinstance(value, os.PathLike):
        source = Path(value)
        if source.is_dir():
            raise InvalidInput(f"sandbox file {rel!r}: {source} is a folder; pass its files one by one")
        try:
            with source.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    yield chunk
        except FileNotFoundError:
            raise NotFound(f"sandbox file {rel!r}: {source} does not exist") from None
    else:
        raise InvalidInput(f"sandbox file {rel!r}: content must be bytes, str or a path, got {type(value).__name__}")


# --- the sandbox ------------------------------------------------------------------------------------------


class Sandbox:
    """A temporary work folder with the task's input files, and a way to run commands in it.

    The folder is made in `__init__` and removed by `close()` (or leaving a `with` / `async with`
    block). Each `run` is a separate command; background processes it leaves behind are killed
    when it ends.
    """

    workdir: Path
    mode: str

    def __init__(
        self,
        files: Mapping[str, bytes | str | os.PathLike[str]] = _NO_FILES,
        *,
        readonly: Sequence[str] = (),
        limits: SandboxLimits = SandboxLimits(),
        mode: str = "auto",
        env: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(readonly, str):
            raise InvalidInput("sandbox readonly takes a list of folder prefixes, not one string")
        inputs = _check_layout(files)
        self.limits = limits
        self.mode = choose_mode(mode)
        self._readonly = tuple(dict.fromkeys(_relpath(p, "sandbox readonly prefix") for p in readonly))
        self._extra_env = _check_env(env or {})
        self._baseline: dict[str, tuple[int, str]] = {}
        root = os.path.realpath(tempfile.mkdtemp(prefix="trace2skill-sandbox-"))
        self._finalizer = weakref.finalize(self, _remove_tree, root)
        try:
            self._root = Path(root)
            self.workdir = self._root / "work"
            self._tmp = self._root / "tmp"
            self._cache = self._root / "cache"
            for folder in (self.workdir, self._tmp, self._cache):
                folder.mkdir(mode=0o700)
            for rel, value in inputs.items():
                self._put(rel, _input_bytes(rel, value))
            for prefix in self._readonly:
                target = self.workdir / prefix
                if not target.exists():
                    try:
                        target.mkdir(parents=True)
                    except OSError as exc:
                        raise InvalidInput(f"sandbox readonly prefix {prefix!r}: {exc.strerror}") from None
                if self.mode == "process":
                    _lock_readonly(target)
        except BaseException:
            self.close()
            raise

    # lifecycle

    def close(self) -> None:
        """Remove the work folder and everything in it. Safe to call twice."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Sandbox:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.to_thread(self.close)

    # files

    def write(self, path: str, data: bytes | str) -> None:
        """Put a file in the work folder. It counts as an input: reported by `changed_files` only once a command
        changes it."""
        self._check_open()
        rel = _relpath(path, "sandbox file")
        if self._is_readonly(rel):
            raise InvalidInput(f"sandbox file {rel!r} is below a read-only folder; pass it in files= instead")
        self._put(rel, _input_bytes(rel, data))

    def read(self, path: str) -> bytes:
        """A file of the work folder; symlinks are refused, so a command cannot point this outside."""
        self._check_open()
        data = _read_below(self.workdir, _relpath(path, "sandbox file"))
        assert data is not None
        return data

    def changed_files(self) -> dict[str, bytes]:
        """Files created or modified since setup (or the last `write`), by content, outside read-only folders.

        Bounded: files larger than `limits.file_mb` are skipped, as is anything past MAX_CHANGED_FILES
        files or `limits.file_mb` in total; skipped files are logged as a warning. Deleted files and
        symlinks are not reported.
        """
        self._check_open()
        cap = self.limits.file_mb << 20
        found: dict[str, bytes] = {}
        total = 0
        skipped: list[str] = []
        for rel in self._walk():
            if len(found) >= MAX_CHANGED_FILES:
                skipped.append(rel)
                continue
            try:
                data = _read_below(self.workdir, rel, cap)
            except (InvalidInput, NotFound):
                continue  # replaced by a link or removed while we looked
            if data is None:
                skipped.append(rel)
                continue
            if self._baseline.get(rel) == (len(data), _digest(data)):
                continue
            if total + len(data) > cap:
                skipped.append(rel)
                continue
            found[rel] = data
            total += len(data)
        if skipped:
            log.warning(
                "sandbox: %d changed file(s) not returned (over %d files or %d MB): %s",
                len(skipped),
                MAX_CHANGED_FILES,
                self.limits.file_mb,
                ", ".join(skipped[:10]),
            )
        return found

    def _walk(self) -> Iterator[str]:
        """Relative paths of regular files, sorted, skipping read-only folders and not following links."""
        for dirpath, dirnames, filenames in os.walk(self.workdir):
            base = os.path.relpath(dirpath, self.workdir)
            prefix = "" if base == "." else base.replace(os.sep, "/") + "/"
            dirnames[:] = sorted(d for d in dirnames if not self._is_readonly(prefix + d))
            for name in sorted(filenames):
                rel = prefix + name
                if self._is_readonly(rel):
                    continue
                with contextlib.suppress(OSError):
                    if stat.S_ISREG(os.lstat(os.path.join(dirpath, name)).st_mode):
                        yield rel

    def _is_readonly(self, rel: str) -> bool:
        return any(rel == p or rel.startswith(p + "/") for p in self._readonly)

    def _put(self, rel: str, chunks: Iterator[bytes]) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            fd = _open_below(self.workdir, rel, flags, make_dirs=True)
        except OSError as exc:
            raise _fs_error(rel, exc) from None
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        self._baseline[rel] = (size, digest.hexdigest())

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidInput("this sandbox is closed; its work folder is gone")

    # running commands

    async def run(
        self,
        command: str | Sequence[str],
        *,
        timeout_s: float | None = None,
        stdin: str | bytes | None = None,
    ) -> SandboxResult:
        """Run one command in the work folder: a string through the shell, a sequence as argv."""
        self._check_open()
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        if not timeout > 0:
            raise InvalidInput(f"sandbox timeout must be positive, got {timeout!r}")
        argv = _argv(command)
        tmpdir = "/tmp" if self.mode == "bwrap" else str(self._tmp)
        env = _environment(self.workdir, tmpdir, self._cache, self._extra_env)
        if self.mode == "bwrap":
            # The allow-listed environment reaches the command through bwrap's own (bwrap passes it on),
            # not through --setenv on a command line that every user of the machine can read in /proc.
            argv = [_bwrap_path(), *self._bwrap_mounts(), "--", *argv]
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(tempfile.TemporaryFile(dir=self._root))
            err = stack.enter_context(tempfile.TemporaryFile(dir=self._root))
            stdin_file: IO[bytes] | int = subprocess.DEVNULL
            if stdin is not None:
                stdin_file = stack.enter_context(tempfile.TemporaryFile(dir=self._root))
                stdin_file.write(stdin.encode("utf-8") if isinstance(stdin, str) else stdin)
                stdin_file.seek(0)
            start = time.monotonic()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=stdin_file,
                    stdout=out,
                    stderr=err,
                    cwd=self.workdir,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_limiter(self.limits, timeout),
                )
            except (FileNotFoundError, PermissionError) as exc:
                code = 127 if isinstance(exc, FileNotFoundError) else 126
                message = f"{argv[0]}: {exc.strerror}\n"
                return SandboxResult(code, "", message, False, None, time.monotonic() - start, self.mode)
            timed_out = False
            try:
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except TimeoutError:
                    timed_out = True
                    _kill_group(proc.pid)
                    await proc.wait()
            finally:
                _kill_group(proc.pid)  # what it left running in the background, or all of it if we were cancelled
            seconds = time.monotonic() - start
            stdout, stderr = await asyncio.to_thread(_read_back, out, err, self.limits.output_chars)
        assert proc.returncode is not None
        exit_code = None if timed_out else _exit_code(proc.returncode)
        limit = _which_limit(exit_code, timed_out, stdout, stderr)
        return SandboxResult(exit_code, stdout, stderr, timed_out, limit, seconds, self.mode, timeout)

    def run_sync(
        self,
        command: str | Sequence[str],
        *,
        timeout_s: float | None = None,
        stdin: str | bytes | None = None,
    ) -> SandboxResult:
        """`run` for callers without an event loop; inside a running loop it uses a private one on a thread."""
        coroutine = self.run(command, timeout_s=timeout_s, stdin=stdin)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result()

    def _bwrap_mounts(self) -> list[str]:
        """System read-only, private /tmp, the work folder and our cache writable, read-only prefixes on top.

        The work folder usually lies below /tmp, so it is bound after the --tmpfs /tmp that would hide it.
        """
        work, cache = str(self.workdir), str(self._cache)
        flags = _bwrap_isolation()
        split = flags.index("--tmpfs") + 2
        binds = ["--bind", work, work, "--bind", cache, cache]
        for prefix in self._readonly:
            path = str(self.workdir / prefix)
            binds += ["--ro-bind", path, path]
        return [*flags[:split], *binds, *flags[split:], "--chdir", work]


def _bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise InvalidInput("bwrap is no longer on PATH; create the sandbox with mode='process'")
    return path


def _argv(command: str | Sequence[str]) -> list[str]:
    if isinstance(command, str):
        if "\x00" in command:
            raise InvalidInput("a sandbox command cannot contain a NUL byte")
        return [SHELL, "-c", command]
    argv = list(command)
    if not argv or not all(isinstance(arg, str) and "\x00" not in arg for arg in argv):
        raise InvalidInput("a sandbox command is a string or a non-empty list of strings without NUL bytes")
    return argv


def _check_layout(files: Mapping[str, object]) -> dict[str, object]:
    """The inputs by normal path; refuses a path given twice, or used both as a file and as a folder."""
    inputs: dict[str, object] = {}
    for path, value in files.items():
        rel = _relpath(path, "sandbox file")
        if rel in inputs:
            raise InvalidInput(f"sandbox file {rel!r} is given twice")
        inputs[rel] = value
    for rel in inputs:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in inputs:
                raise InvalidInput(f"sandbox file {folder!r} is both a file and the folder of {rel!r}")
    return inputs
