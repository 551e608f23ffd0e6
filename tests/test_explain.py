"""`explain`: one line for whatever the disk, SQLite or the parser raised, the same at the CLI and over MCP."""

from __future__ import annotations

import errno
import sqlite3

import pytest
from pydantic import BaseModel, ValidationError

from trace2skill.errors import InvalidInput, NotFound, StorageError
from trace2skill.explain import bug_line, explain


@pytest.mark.parametrize(
    ("code", "line"),
    [
        (errno.ENOSPC, "disk full: cannot write /h/skills/x; free some space, or use another disk"),
        (errno.EDQUOT, "disk quota exceeded: cannot write /h/skills/x; free some space, or use another disk"),
        (
            errno.EROFS,
            "read-only: cannot write /h/skills/x (the file system is mounted read-only); use a writable folder",
        ),
        (errno.EACCES, "read-only: no permission to write /h/skills/x (or to read it); fix its permissions or use"),
        (errno.ENOTDIR, "not a folder: /h/skills/x (or a folder above it) is a file; use another folder"),
        (errno.EISDIR, "/h/skills/x is a folder, not a file"),
        (errno.EIO, "disk I/O error on /h/skills/x: the disk or file system is failing"),
        (errno.ENOMEM, "cannot use /h/skills/x: the system's words"),
    ],
)
def test_an_os_error_is_a_storage_error_naming_its_path(code: int, line: str) -> None:
    found = explain(OSError(code, "the system's words", "/h/skills/x"))
    assert isinstance(found, StorageError) and str(found).startswith(line)


@pytest.mark.parametrize(
    ("message", "line"),
    [
        (
            "database or disk is full",
            "disk full: cannot write the database /h/t.db; free some space, or use another home",
        ),
        (
            "attempt to write a readonly database",
            "read-only: cannot write the database /h/t.db; make the home writable",
        ),
        ("database is locked", "the database /h/t.db is busy: another process held its write lock too long"),
        ("file is not a database", "/h/t.db is not a trace2skill database (or it is damaged); use another home"),
    ],
)
def test_sqlite_failures_name_the_database(message: str, line: str) -> None:
    found = explain(sqlite3.OperationalError(message), database="/h/t.db")
    assert isinstance(found, StorageError) and str(found).startswith(line)


def test_library_errors_keep_their_line_and_validation_errors_become_one() -> None:
    missing = NotFound("no skill named 'x'")
    assert explain(missing) is missing

    class Point(BaseModel):
        x: int

    with pytest.raises(ValidationError) as caught:
        Point.model_validate({"x": "one\ntwo"})
    found = explain(caught.value)
    assert (
        isinstance(found, InvalidInput)
        and str(found) == "x: Input should be a valid integer, unable to parse string as an integer"
    )
    assert isinstance(explain(RecursionError()), InvalidInput)
    encoding = explain(UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates not allowed"))
    assert isinstance(encoding, InvalidInput) and str(encoding).startswith("the input is not valid UTF-8 text (")


def test_anything_else_is_a_bug_said_in_one_line() -> None:
    error = KeyError("a\nb")
    assert explain(error) is None and explain(sqlite3.OperationalError("no such table: x")) is None
    assert (
        bug_line(error, "see the log")
        == "internal error (KeyError: 'a\\nb'); this is a bug in trace2skill: see the log"
    )
