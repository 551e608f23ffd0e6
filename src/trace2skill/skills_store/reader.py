"""Reading a skill folder from disk (leniently, but never past its edges) and writing one out.

The reader walks the folder through directory file descriptors with O_NOFOLLOW, so a symlink cannot
be swapped in between the check and the read. It refuses every symlink inside the folder (one that
points inside today may point outside after the next `git pull`; copying the file in is always
possible), special files, unsafe names, and folders over the skill limits. The folder itself may
be a symlink (tools such as `npx skills add` install skills that way); it is resolved once.
VCS and cache clutter (.git, __pycache__, .DS_Store ...) is skipped, never stored.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from trace2skill.errors import InvalidInput, UnsafePath
from trace2skill.models import LIMITS, Skill, SkillFile
from trace2skill.skills_store.frontmatter import read_frontmatter
from trace2skill.skills_store.paths import safe_relpath

__all__ = ["JUNK_NAMES", "read_skill_dir", "skill_name_for", "write_skill_files"]

JUNK_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".DS_Store",
        "Thumbs.db",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
    }
)
_JUNK_SUFFIXES = (".pyc", ".pyo")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _is_junk(name: str) -> bool:
    return name in JUNK_NAMES or name.endswith(_JUNK_SUFFIXES)


class _Walk:
    """Accumulates files and enforces the limits while walking."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: list[SkillFile] = []
        self.total = 0

    def add(self, rel: str, data: bytes, executable: bool) -> None:
        self.files.append(SkillFile(path=rel, data=data, executable=executable))

    def check_count(self, rel: str) -> None:
        if len(self.files) >= LIMITS.skill_files:
            raise InvalidInput(
                f"{self.root}: more than {LIMITS.skill_files} files (at {rel}); a skill holds at most that"
            )

    def check_size(self, rel: str, size: int) -> None:
        if size > LIMITS.skill_file_bytes:
            raise InvalidInput(
                f"{self.root}/{rel} is {size:,} bytes; the limit per skill file is {LIMITS.skill_file_bytes:,}"
            )
        if self.total + size > LIMITS.skill_bytes:
            raise InvalidInput(
                f"{self.root}: more than {LIMITS.skill_bytes:,} bytes in all (at {rel}); that is the limit"
            )
        self.total += size


def _symlink_message(dir_fd: int, name: str, rel: str, root: Path) -> str:
    try:
        target = os.readlink(name, dir_fd=dir_fd)
    except OSError:
        target = "?"
    resolved = (root / rel).parent / target
    inside = os.path.normpath(resolved).startswith(os.path.normpath(root) + os.sep)
    where = "inside" if inside else "outside"
    return (
        f"{root}/{rel} is a symbolic link to {target!r} ({where} the skill folder); "
        "skills may not contain links: copy the file in instead"
    )


def _read_file(dir_fd: int, name: str, rel: str, walk: _Walk) -> None:
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafePath(_symlink_message(dir_fd, name, rel, walk.root)) from None
        raise InvalidInput(f"cannot read {walk.root}/{rel}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(
                f"{walk.root}/{rel} is not a regular file (a pipe, socket or device); skills hold files only"
            )
        walk.check_count(rel)
        walk.check_size(rel, st.st_size)
        chunks = []
        remaining = st.st_size + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) != st.st_size:
            raise InvalidInput(f"{walk.root}/{rel} changed while it was read; try again")
        walk.add(rel, data, bool(st.st_mode & stat.S_IXUSR))
    finally:
        os.close(fd)


def _walk_dir(dir_fd: int, prefix: str, walk: _Walk) -> None:
    with os.scandir(dir_fd) as entries:
        listing = sorted(entries, key=lambda e: e.name)
    for entry in listing:
        name = entry.name
        if _is_junk(name):
            continue
        rel_raw = f"{prefix}{name}"
        if "/" in name or "\\" in name:
            raise UnsafePath(f"{walk.root}: file name {name!r} contains a path separator")
        rel = safe_relpath(rel_raw)
        if rel != rel_raw:
            raise UnsafePath(f"{walk.root}: file name {rel_raw!r} is not a plain name")
        if entry.is_symlink():
            raise UnsafePath(_symlink_message(dir_fd, name, rel, walk.root))
        if entry.is_dir(follow_symlinks=False):
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise UnsafePath(_symlink_message(dir_fd, name, rel, walk.root)) from None
                raise InvalidInput(f"cannot read {walk.root}/{rel}: {e.strerror}") from None
            try:
                _walk_dir(sub, rel + "/", walk)
            finally:
                os.close(sub)
        else:
            _read_file(dir_fd, name, rel, walk)


def skill_name_for(root: Path, files: tuple[SkillFile, ...] | list[SkillFile]) -> str:
    """The name a folder's skill goes by: SKILL.md's `name` when it reads cleanly, else the folder's."""
    for f in files:
        if f.path == "SKILL.md":
            try:
                name = read_frontmatter(f.data.decode("utf-8")).data.get("name")
            except (UnicodeDecodeError, InvalidInput):
                break
            if isinstance(name, str) and name.strip():
                return name.strip()
    return root.name


def read_skill_dir(path: str | os.PathLike[str], *, name: str | None = None) -> Skill:
    """Read a skill folder into a Skill (files sorted by path, executable bits kept).

    The name is `name` when given, else SKILL.md's `name`, else the folder's name; it is not
    validated here (`validate_skill` and the store do that). Raises UnsafePath for links, unsafe
    names and special files, InvalidInput for missing folders and exceeded limits.
    """
    given = Path(path).expanduser()
    if "\x00" in str(given):
        raise UnsafePath("folder path contains a NUL byte")
    root = Path(os.path.realpath(given))
    try:
        fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        raise InvalidInput(f"{given}: no such folder") from None
    except NotADirectoryError:
        raise InvalidInput(f"{given}: not a folder") from None
    except OSError as e:
        raise InvalidInput(f"cannot read {given}: {e.strerror}") from None
    walk = _Walk(given)
    try:
        _walk_dir(fd, "", walk)
    finally:
        os.close(fd)
    files = tuple(sorted(walk.files, key=lambda f: f.path))
    return Skill(name=name or skill_name_for(root, files), files=files)


def write_skill_files(skill: Skill, folder: Path, *, fsync: bool = True) -> None:
    """Write a skill's files into `folder`, which must be new and empty (created here).

    Files are created with O_EXCL and O_NOFOLLOW below a fresh folder, so nothing outside it can be
    touched; every path goes through `safe_relpath` first. With `fsync`, data reaches the disk
    before the caller renames the folder into place.
    """
    folder.mkdir(mode=0o755)
    made: set[str] = {""}
    for f in skill.files:
        rel = safe_relpath(f.path)
        parts = rel.split("/")
        for i in range(1, len(parts)):
            sub = "/".join(parts[:i])
            if sub not in made:
                (folder / sub).mkdir(mode=0o755, exist_ok=True)
                made.add(sub)
        mode = 0o755 if f.executable else 0o644
        fd = os.open(folder / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        try:
            view = memoryview(f.data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, mode)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    if fsync:
        for sub in sorted(made, key=len, reverse=True):
            dfd = os.open(folder / sub if sub else folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
