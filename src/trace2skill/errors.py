"""The errors trace2skill raises on purpose: each carries one clear line for the user.

The CLI prints `Error: <message>` to stderr and exits non-zero; the MCP server turns them into tool
errors the model can read. Anything else is a bug and is reported as such.
"""

from __future__ import annotations

import errno
import os

__all__ = [
    "BudgetExceeded",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "OutputCutOff",
    "ProviderError",
    "ProviderUnreachable",
    "StorageError",
    "Trace2SkillError",
    "UnsafePath",
    "describe_os_error",
    "storage_error",
]


class Trace2SkillError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class InvalidInput(Trace2SkillError, ValueError):
    """Input that does not fit a contract (a trajectory, a skill, an option)."""


class NotFound(Trace2SkillError, LookupError):
    """An id, skill, version or run that does not exist."""


class UnsafePath(InvalidInput):
    """A path or name that would escape its folder: '..', absolute, a symlink outside, NUL bytes."""


class Conflict(Trace2SkillError):
    """The request contradicts the current state (e.g. a published skill changed underneath)."""


class BudgetExceeded(Trace2SkillError):
    """The run's token or dollar budget is spent; no new LLM calls start."""


class ProviderError(Trace2SkillError):
    """An LLM provider failed after retries, or returned output that could not be repaired."""


class ProviderUnreachable(Trace2SkillError):
    """The model's endpoint cannot be reached at all (connection refused, unknown host, TLS failure).

    Not a ProviderError on purpose: code that skips one failed call and carries on must not skip
    this one, because every other call of the run would fail the same way. A run stops on it.
    """


class StorageError(Trace2SkillError):
    """The disk refused: full, read-only, no permission, not a folder. The message names the path."""


class OutputCutOff(ProviderError):
    """An answer stopped at its output cap (max_tokens) and could not be used; a larger cap or a smaller ask fits."""


_OS_LINES = {
    errno.ENOSPC: "disk full: cannot write {path}; free some space, or use another disk",
    errno.EDQUOT: "disk quota exceeded: cannot write {path}; free some space, or use another disk",
    errno.EROFS: "read-only: cannot write {path} (the file system is mounted read-only); use a writable folder",
    errno.EACCES: "read-only: no permission to write {path} (or to read it); fix its permissions or use another folder",
    errno.EPERM: "read-only: the system does not permit changing {path}; fix its permissions or use another folder",
    errno.ENOTDIR: "not a folder: {path} (or a folder above it) is a file; use another folder",
    errno.EEXIST: "not a folder: {path} exists and is not a folder; use another folder",
    errno.EISDIR: "{path} is a folder, not a file",
    errno.ENOENT: "{path} does not exist",
    errno.ENAMETOOLONG: "the name is too long: {path}",
    errno.ELOOP: "too many levels of symbolic links at {path}",
    errno.EIO: "disk I/O error on {path}: the disk or file system is failing",
    errno.EMFILE: "too many open files while using {path}; raise the limit (ulimit -n)",
    errno.ENFILE: "too many open files in the system while using {path}",
}


def describe_os_error(error: OSError, path: str | os.PathLike[str] | None = None) -> str:
    """One line for a failed file operation: what the disk said, the path, and what to do next."""
    where = path if path is not None else error.filename
    template = _OS_LINES.get(error.errno or 0)
    if where is None and template is None:
        return f"the system refused: {error.strerror or error}"
    shown = os.fsdecode(where) if where is not None else "a file"
    if template is None:
        return f"cannot use {shown}: {error.strerror or error}"
    return template.format(path=shown)


def storage_error(error: OSError, path: str | os.PathLike[str] | None = None, hint: str = "") -> StorageError:
    """`StorageError` with `describe_os_error`'s line and `hint` after it (raise it `from None`)."""
    return StorageError(describe_os_error(error, path) + hint)
