"""One line for any exception, said the same way by the CLI (`Error: ...`) and by the MCP tools.

Library errors carry their own line. What the standard library and the database raise is translated
here once: the disk (full, read-only, no permission, not a folder), SQLite (full, read-only, busy,
damaged), input nested too deep to parse or not UTF-8, and pydantic validation errors. Anything else is a bug in
trace2skill and is said so, in one line; the traceback goes to `--debug` or the server's log.
"""

from __future__ import annotations

import os
import sqlite3

from pydantic import ValidationError

from trace2skill.errors import InvalidInput, StorageError, Trace2SkillError, describe_os_error
from trace2skill.models import describe_validation_error

__all__ = ["bug_line", "explain"]

_SQLITE_LINES = (
    ("database or disk is full", "disk full: cannot write the database {db}; free some space, or use another home"),
    ("readonly database", "read-only: cannot write the database {db}; make the home writable, or use another home"),
    ("unable to open database file", "cannot open the database {db}: its folder is missing, unreadable or read-only"),
    ("database is locked", "the database {db} is busy: another process held its write lock too long; run it again"),
    ("disk i/o error", "disk I/O error on the database {db}: the disk or file system is failing"),
    ("file is not a database", "{db} is not a trace2skill database (or it is damaged); use another home"),
    ("malformed", "the database {db} is damaged; restore it from a backup, or use another home"),
)


def explain(error: BaseException, *, database: str | os.PathLike[str] | None = None) -> Trace2SkillError | None:
    """The expected-failure form of `error`, or None when it is a bug. `database` names the SQLite file."""
    if isinstance(error, Trace2SkillError):
        return error
    if isinstance(error, ValidationError):
        return InvalidInput(describe_validation_error(error))
    if isinstance(error, OSError):
        return StorageError(describe_os_error(error))
    if isinstance(error, sqlite3.Error):
        text = str(error).lower()
        db = str(database) if database is not None else "of the home folder"
        for needle, line in _SQLITE_LINES:
            if needle in text:
                return StorageError(line.format(db=db))
        return None
    if isinstance(error, UnicodeError):  # a byte that is not UTF-8 (in an argument, a file name, a file)
        return InvalidInput(
            f"the input is not valid UTF-8 text ({' '.join(str(error).split())[:160]}); fix its encoding"
        )
    if isinstance(error, OverflowError):  # a number past what SQLite (2**63) or a date can hold
        return InvalidInput(f"a number is out of range ({' '.join(str(error).split())[:120]}); use a smaller one")
    if isinstance(error, RecursionError):
        return InvalidInput("the input is nested too deeply to read; flatten it (JSON nests at most 64 levels here)")
    return None


def bug_line(error: BaseException, where_the_traceback_is: str) -> str:
    """One line for an unexpected exception: it is a bug, what it was, and where its traceback is."""
    text = " ".join(str(error).split())[:300]
    shown = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return f"internal error ({shown}); this is a bug in trace2skill: {where_the_traceback_is}"
