"""Putting a skill folder in place so that a reader never sees a mix of two versions.

Published skills (`<skills_dir>/<name>`) use a symlink swap. Each publish writes a complete new
folder `<skills_dir>/.versions/<name>/<version>-<digest12>-<token>/` (first under a `.tmp-` name,
fsynced, then renamed), and `<skills_dir>/<name>` is a relative symlink to it, replaced by
`os.replace` of a fresh symlink: one atomic rename. Compared with renaming the old folder away and
the new one in, the published path never disappears, and a reader that opened the folder (or
resolved the link) keeps reading one immutable version; the previous few folders are kept for such
readers and older ones pruned. Clients that read `<skills_dir>/<name>/SKILL.md` follow the link as
any path lookup does (`npx skills add` installs skills as per-skill symlinks too).

Exports into a client's folder (`~/.claude/skills`, `.agents/skills`) are plain folders, since
those folders are the user's (checked into git, zipped, synced): the new folder is written next to
the old one and the two are swapped with renameat2(RENAME_EXCHANGE) on Linux, again atomic and
never absent. Where that call is missing, the old folder is renamed away first, leaving a moment
with no folder but still never a mix.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from trace2skill.models import Skill
from trace2skill.skills_store.reader import write_skill_files

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl on Windows; file_lock checks for None

__all__ = ["VERSIONS_DIR", "exchange_paths", "file_lock", "install_dir", "publish_symlinked", "remove_path"]

VERSIONS_DIR = ".versions"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _token() -> str:
    return secrets.token_hex(4)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_path(path: Path) -> None:
    """Remove a file, a symlink (never what it points at) or a folder tree; missing is fine."""
    try:
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)
    except FileNotFoundError:
        pass


def _renameat2() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2()


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2). False when the system cannot."""
    if _RENAMEAT2 is None:
        return False
    rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` (created), so two processes never publish one skill at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _prune(versions: Path, keep: str, keep_previous: int) -> None:
    """Remove stale temporary folders and all but the `keep_previous` newest earlier versions."""
    older: list[tuple[float, Path]] = []
    for entry in versions.iterdir():
        if entry.name == keep:
            continue
        if entry.name.startswith(".tmp-") or entry.is_symlink() or not entry.is_dir():
            remove_path(entry)
            continue
        older.append((entry.lstat().st_mtime, entry))
    older.sort(reverse=True)
    for _, entry in older[keep_previous:]:
        remove_path(entry)


def publish_symlinked(
    skills_dir: Path, skill: Skill, version: int, *, keep_previous: int = 2, fsync: bool = True
) -> str:
    """Publish `skill` at `skills_dir/<skill.name>` by symlink swap; returns the link's target.

    The caller holds the skill's lock and has checked the name and every path.
    """
    name = skill.name
    versions = skills_dir / VERSIONS_DIR / name
    versions.mkdir(parents=True, exist_ok=True)
    token = _token()
    folder_name = f"{version}-{skill.digest[:12]}-{token}"
    staging = versions / f".tmp-{token}"
    try:
        write_skill_files(skill, staging, fsync=fsync)
        os.rename(staging, versions / folder_name)
    except BaseException:
        remove_path(staging)
        raise
    if fsync:
        _fsync_dir(versions)
    target = f"{VERSIONS_DIR}/{name}/{folder_name}"
    link = skills_dir / name
    tmp_link = skills_dir / f".{name}.link-{token}"
    os.symlink(target, tmp_link)
    try:
        if link.is_dir() and not link.is_symlink():
            # A real folder here (replaced by hand, or from an older layout): it was recorded before
            # this point, so move it aside; this is the one case with a brief moment of absence.
            os.rename(link, versions / f"replaced-{token}")
        os.replace(tmp_link, link)
    except BaseException:
        remove_path(tmp_link)
        raise
    if fsync:
        _fsync_dir(skills_dir)
    _prune(versions, folder_name, keep_previous)
    return target


def install_dir(dest: Path, skill: Skill, *, fsync: bool = True) -> None:
    """Write `skill` as a plain folder at `dest`, replacing what is there in one atomic swap."""
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    token = _token()
    staging = parent / f".{dest.name}.tmp-{token}"
    try:
        write_skill_files(skill, staging, fsync=fsync)
        if not os.path.lexists(dest):
            os.rename(staging, dest)
        elif exchange_paths(staging, dest):
            remove_path(staging)  # now the old content
        else:
            old = parent / f".{dest.name}.old-{token}"
            os.rename(dest, old)
            try:
                os.rename(staging, dest)
            except BaseException:
                os.rename(old, dest)
                raise
            remove_path(old)
    except BaseException:
        remove_path(staging)
        raise
    if fsync:
        _fsync_dir(parent)
