"""Names and paths that cannot escape: the one gate every skill path passes through.

A skill's files are written below a folder we own (the published skills folder, a client's
`~/.claude/skills`), so a path such as `../../.bashrc` or `/etc/passwd` coming from an imported
folder, an LLM edit or a tool call must be refused before it reaches the filesystem. The checks are
purely lexical (no filesystem access), so they give the same answer at import, at read, at publish
and in the evolve engine's guardrails.
"""

from __future__ import annotations

import re

from trace2skill.errors import InvalidInput, UnsafePath
from trace2skill.models import LIMITS, SKILL_NAME_RE, Skill

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_PATH_DEPTH",
    "MAX_SEGMENT_BYTES",
    "check_skill_files",
    "check_skill_name",
    "safe_relpath",
]

MAX_PATH_CHARS = 300
"""Same bound as `Edit.file`: a skill's paths are short (`references/forms.md`)."""
MAX_SEGMENT_BYTES = 255
"""NAME_MAX on Linux, macOS and Windows file systems."""
MAX_PATH_DEPTH = 16

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _show(value: str) -> str:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return repr(shown)


def safe_relpath(path: str) -> str:
    """The normalised POSIX path of a file inside a skill, or UnsafePath saying why not.

    Accepts `a/b.md`, `./a//b.md` (returned as `a/b.md`). Refuses empty paths, NUL and control
    characters, backslashes, absolute paths, drive letters, `..` segments, segments longer than
    255 bytes, paths longer than 300 characters or deeper than 16 folders.
    """
    if not isinstance(path, str):
        raise UnsafePath(f"a skill file path must be a string, got {type(path).__name__}")
    if not path or not path.strip():
        raise UnsafePath("empty file path")
    if "\x00" in path:
        raise UnsafePath(f"file path {_show(path)} contains a NUL byte")
    if _CONTROL.search(path):
        raise UnsafePath(f"file path {_show(path)} contains a control character")
    if len(path) > MAX_PATH_CHARS:
        raise UnsafePath(f"file path {_show(path)} is {len(path)} characters; the limit is {MAX_PATH_CHARS}")
    if "\\" in path:
        raise UnsafePath(f"file path {_show(path)} contains a backslash; use '/' between folders")
    if path.startswith("/"):
        raise UnsafePath(f"file path {_show(path)} is absolute; paths are relative to the skill folder")
    if _DRIVE.match(path):
        raise UnsafePath(f"file path {_show(path)} starts with a drive letter; paths are relative to the skill folder")
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments):
        raise UnsafePath(f"file path {_show(path)} contains '..'; paths must stay inside the skill folder")
    if not segments:
        raise UnsafePath(f"file path {_show(path)} names no file")
    if len(segments) > MAX_PATH_DEPTH:
        raise UnsafePath(f"file path {_show(path)} is {len(segments)} folders deep; the limit is {MAX_PATH_DEPTH}")
    for segment in segments:
        size = len(segment.encode("utf-8", "surrogatepass"))
        if size > MAX_SEGMENT_BYTES:
            raise UnsafePath(
                f"file path {_show(path)} has a {size}-byte name; the limit is {MAX_SEGMENT_BYTES} bytes per name"
            )
    return "/".join(segments)


def check_skill_name(name: str) -> str:
    """`name` if it is a valid Agent Skills name, which also makes it a safe folder name.

    Raises UnsafePath for names that try to leave the skills folder (separators, `..`, NUL) and
    InvalidInput for any other break of the Agent Skills rule.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"a skill name must be a string, got {type(name).__name__}")
    if "\x00" in name:
        raise UnsafePath(f"skill name {_show(name)} contains a NUL byte")
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name:
        raise UnsafePath(f"skill name {_show(name)} would leave the skills folder; use a plain name like 'pdf-forms'")
    if len(name) > 64:
        raise InvalidInput(f"skill name {_show(name)} is {len(name)} characters; the limit is 64")
    if not SKILL_NAME_RE.match(name):
        raise InvalidInput(
            f"skill name {_show(name)} is not a valid Agent Skills name "
            "(1-64 chars of a-z, 0-9 and '-', no leading, trailing or doubled '-')"
        )
    return name


def check_skill_files(skill: Skill) -> None:
    """Refuse a Skill whose files could not be written safely as one folder.

    Every path must already be in `safe_relpath` form, unique, and not also used as a folder by
    another path; counts and sizes stay within LIMITS. Used before a version is stored and by the
    evolve engine's guardrails on a patched skill.
    """
    check_skill_name(skill.name)
    if len(skill.files) > LIMITS.skill_files:
        raise InvalidInput(f"skill {skill.name!r} has {len(skill.files)} files; the limit is {LIMITS.skill_files}")
    seen: set[str] = set()
    total = 0
    for f in skill.files:
        rel = safe_relpath(f.path)
        if rel != f.path:
            raise UnsafePath(f"file path {_show(f.path)} is not in normal form; use {rel!r}")
        if rel in seen:
            raise InvalidInput(f"skill {skill.name!r} lists {rel!r} twice")
        seen.add(rel)
        size = len(f.data)
        if size > LIMITS.skill_file_bytes:
            raise InvalidInput(f"{rel} is {size:,} bytes; the limit per skill file is {LIMITS.skill_file_bytes:,}")
        total += size
    if total > LIMITS.skill_bytes:
        raise InvalidInput(f"skill {skill.name!r} is {total:,} bytes; the limit is {LIMITS.skill_bytes:,}")
    for rel in seen:
        parts = rel.split("/")
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder in seen:
                raise InvalidInput(f"{folder!r} is both a file and the folder of {rel!r}")
