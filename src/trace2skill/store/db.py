"""Opening the one SQLite database every module shares, and the rules for touching it.

The database is opened once per process and its connection is shared: the MCP server runs sync
tools on worker threads and the evolve engine writes from many asyncio tasks. So the connection is
opened with `check_same_thread=False`, and every operation holds the database's re-entrant lock
(`connection_lock(db)`) for the length of one short transaction. Other processes are kept apart by
SQLite itself: WAL journal, a 30 s busy timeout, and `BEGIN IMMEDIATE` for writes so that a writer
waits for the lock up front instead of failing half-way through with SQLITE_BUSY.

A database in a home that cannot be written (a read-only mount, a folder or file without write
permission) opens read-only: reading works, and every write stops at `write_transaction` with one
line saying the home is read-only, before SQLite is asked.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from trace2skill.errors import InvalidInput, StorageError

__all__ = [
    "BUSY_TIMEOUT_S",
    "PAGE_SIZE",
    "apply_migrations",
    "background_checkpoints",
    "connection_lock",
    "is_read_only",
    "open_database",
    "write_transaction",
]

BUSY_TIMEOUT_S = 30.0
PAGE_SIZE = 16384
"""For new files: a 5 KB trajectory fits in one page instead of spilling into an overflow chain."""

_LOCKS_GUARD = threading.Lock()
_LOCK_ATTR = "_trace2skill_lock"
_READ_ONLY_ATTR = "_trace2skill_read_only"


def is_read_only(db: sqlite_utils.Database) -> bool:
    """Whether `db` was opened read-only (its home cannot be written)."""
    return getattr(db, _READ_ONLY_ATTR, None) is not None


def _refuse_writes(db: sqlite_utils.Database) -> None:
    path = getattr(db, _READ_ONLY_ATTR, None)
    if path is not None:
        raise StorageError(
            f"read-only: the home {os.path.dirname(path)} cannot be written, so this command cannot run "
            "(reading works: list, show, search); make it writable, or use another home (--home)"
        )


def connection_lock(db: sqlite_utils.Database) -> threading.RLock:
    """The lock that serialises use of `db`'s shared connection across threads (one per Database)."""
    lock = getattr(db, _LOCK_ATTR, None)
    if lock is None:
        with _LOCKS_GUARD:
            lock = getattr(db, _LOCK_ATTR, None)
            if lock is None:
                lock = threading.RLock()
                setattr(db, _LOCK_ATTR, lock)
    return lock


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One short write transaction under the connection lock.

    `BEGIN IMMEDIATE` takes SQLite's write lock at the start (waiting up to the busy timeout), so
    concurrent writers in other processes queue instead of failing at commit. Inside a transaction
    someone else opened (on this thread), a savepoint is used instead, so the caller's work stays
    all-or-nothing either way.
    """
    _refuse_writes(db)
    conn = db.conn
    with connection_lock(db):
        if conn.in_transaction:
            name = f"t2s_{secrets.token_hex(6)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.commit()
        except BaseException as e:
            if conn.in_transaction:
                conn.rollback()
            named = _storage_failure(db, e)
            if named is None:
                raise
            raise named from None


def _storage_failure(db: sqlite_utils.Database, error: BaseException) -> StorageError | None:
    """SQLite's "database or disk is full" and kin as a StorageError naming the database file; else None."""
    if not isinstance(error, sqlite3.OperationalError):
        return None
    from trace2skill.explain import explain

    known = explain(error, database=_database_file(db))
    return known if isinstance(known, StorageError) else None


def apply_migrations(db: sqlite_utils.Database, migrations: sqlite_utils.Migrations) -> None:
    """Apply `migrations` while holding SQLite's write lock.

    `Migrations.apply` checks what is pending and then applies it; two processes opening a fresh
    file at once would both see the same migration as pending. Running it inside `BEGIN IMMEDIATE`
    makes the check and the change one step (the migrations nest as savepoints). A read-only
    database is only checked: pending migrations there are a StorageError (they need a write).
    """
    path = getattr(db, _READ_ONLY_ATTR, None)
    if path is not None:
        if migrations.pending(db):
            raise StorageError(
                f"read-only: the database {path} needs an upgrade that writes to it; open it once from a "
                "writable home, or use another home (--home)"
            )
        return
    with write_transaction(db):
        migrations.apply(db)


def open_database(path: str | os.PathLike[str], *, read_only: bool = False) -> sqlite_utils.Database:
    """Open (creating if needed) the trace2skill database at `path`, with the trace store's schema applied.

    WAL journal, 30 s busy timeout, `synchronous=NORMAL` (a crash of the process loses nothing
    committed; only a power cut may lose the last transactions). Other modules apply their own
    `sqlite_utils.Migrations` on the same Database with `apply_migrations`. `read_only` opens an
    existing file without writing anything to it or its folder (`write_transaction` then refuses).
    """
    from trace2skill.store.schema import MIGRATIONS

    if read_only:
        return _open_read_only(Path(path).expanduser(), MIGRATIONS)
    memory = str(path) == ":memory:"
    if not memory:
        target = Path(path).expanduser()
        if target.exists() and target.is_dir():
            raise InvalidInput(f"database path {str(target)!r} is a folder, not a file")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InvalidInput(f"cannot create the folder for the database {str(target)!r}: {e.strerror}") from None
        path = target
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False)
    except sqlite3.Error as e:
        raise InvalidInput(f"cannot open the database {str(path)!r}: {e}") from None
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    try:
        if not memory:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # no effect once the file has tables
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        db = sqlite_utils.Database(conn)
        apply_migrations(db, MIGRATIONS)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise InvalidInput(f"cannot use the database {str(path)!r}: {e}") from None
    return db


def _open_read_only(path: Path, migrations: sqlite_utils.Migrations) -> sqlite_utils.Database:
    """`mode=ro`; where SQLite cannot make the WAL index beside a read-only file, `immutable=1` (no locking:
    nothing in this process writes, and a home that cannot be written is rarely written by others)."""
    if not path.is_file():
        raise StorageError(f"read-only: the home {path.parent} has no database yet and cannot get one (--home)")
    uri = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    conn: sqlite3.Connection | None = None
    for suffix in ("", "&immutable=1"):
        try:
            conn = sqlite3.connect(uri + suffix, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            conn.execute("PRAGMA schema_version").fetchone()
            break
        except sqlite3.Error as e:
            if conn is not None:
                conn.close()
                conn = None
            if suffix:
                raise InvalidInput(f"cannot open the database {str(path)!r} read-only: {e}") from None
    assert conn is not None
    db = sqlite_utils.Database(conn)
    setattr(db, _READ_ONLY_ATTR, str(path))
    try:
        apply_migrations(db, migrations)
    except BaseException:
        conn.close()
        raise
    return db


def _database_file(db: sqlite_utils.Database) -> str | None:
    for _, name, filename in db.conn.execute("PRAGMA database_list"):
        if name == "main":
            return filename or None
    return None


class _Checkpointer:
    """Copies the WAL into the database file on its own connection and thread.

    A checkpoint is one long call into SQLite (copying pages, then fsync) that holds no Python
    lock, so it runs on the second core while the writer keeps serialising and inserting.
    """

    def __init__(self, filename: str) -> None:
        self._conn = sqlite3.connect(filename, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="trace2skill-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                with contextlib.suppress(sqlite3.Error):  # an optimisation: the next autocheckpoint catches up
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            self._conn.close()

    def poke(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stopping = True
        self._wake.set()
        self._thread.join()


_BULK_ATTR = "_trace2skill_bulk"


@contextmanager
def background_checkpoints(db: sqlite_utils.Database) -> Iterator[Callable[[], None]]:
    """For a bulk write: move WAL checkpoints off the writing thread; yields `poke()`, call it after each commit.

    The connection's automatic checkpoints are paused meanwhile (and restored after the last of
    any overlapping bulk writes ends), so the writer never stops to fsync the database file. A
    connection whose automatic checkpoints were turned off (`wal_autocheckpoint = 0`) keeps them off.
    """
    filename = _database_file(db)
    if filename is None:
        yield lambda: None
        return
    lock = connection_lock(db)
    with lock:
        depth, saved = getattr(db, _BULK_ATTR, (0, None))
        if depth == 0:
            (saved,) = db.conn.execute("PRAGMA wal_autocheckpoint").fetchone()
            if saved <= 0:  # turned off on purpose: nobody checkpoints
                saved = None
            else:
                db.conn.execute("PRAGMA wal_autocheckpoint = 0")
        if saved is not None:
            setattr(db, _BULK_ATTR, (depth + 1, saved))
    if saved is None:
        yield lambda: None
        return
    checkpointer = _Checkpointer(filename)
    try:
        yield checkpointer.poke
    finally:
        checkpointer.close()
        with lock:
            depth, saved = getattr(db, _BULK_ATTR)
            if depth == 1:
                db.conn.execute(f"PRAGMA wal_autocheckpoint = {int(saved)}")
            setattr(db, _BULK_ATTR, (depth - 1, saved))
