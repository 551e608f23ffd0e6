"""Opening the one SQLite database every module shares, and the rules for touching it.

The database is opened once per process and its connection is shared: the MCP server runs sync
tools on worker threads and the evolve engine writes from many asyncio tasks. So the connection is
opened with `check_same_thread=False`, and every operation holds the database's re-entrant lock
(`connection_lock(db)`) for the length of one short transaction. Other processes are kept apart by
SQLite itself: WAL journal, a 30 s busy timeout, and `BEGIN IMMEDIATE` for writes so that a writer
waits for the lock up front instead of failing half-way through with SQLITE_BUSY.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from trace2skill.errors import InvalidInput

__all__ = [
    "BUSY_TIMEOUT_S",
    "PAGE_SIZE",
    "CommitBehind",
    "apply_migrations",
    "background_checkpoints",
    "connection_lock",
    "open_database",
    "write_transaction",
]

BUSY_TIMEOUT_S = 30.0
PAGE_SIZE = 16384
"""For new files: a 5 KB trajectory fits in one page instead of spilling into an overflow chain."""

_LOCKS_GUARD = threading.Lock()
_LOCK_ATTR = "_trace2skill_lock"


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
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        conn.commit()


def apply_migrations(db: sqlite_utils.Database, migrations: sqlite_utils.Migrations) -> None:
    """Apply `migrations` while holding SQLite's write lock.

    `Migrations.apply` checks what is pending and then applies it; two processes opening a fresh
    file at once would both see the same migration as pending. Running it inside `BEGIN IMMEDIATE`
    makes the check and the change one step (the migrations nest as savepoints).
    """
    with write_transaction(db):
        migrations.apply(db)


def open_database(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open (creating if needed) the trace2skill database at `path`, with the trace store's schema applied.

    WAL journal, 30 s busy timeout, `synchronous=NORMAL` (a crash of the process loses nothing
    committed; only a power cut may lose the last transactions). Other modules apply their own
    `sqlite_utils.Migrations` on the same Database with `apply_migrations`.
    """
    from trace2skill.store.schema import MIGRATIONS

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


class CommitBehind:
    """For a bulk write: each transaction's COMMIT runs on a helper thread while the caller prepares the next.

    A COMMIT is one long call into SQLite that holds no Python lock (it flushes the full-text index's
    pending terms and writes the transaction's pages to the WAL), so it can use the second core
    while the caller serialises the next batch. The caller's thread holds the connection lock from
    BEGIN until that commit has finished, so no other thread touches the connection in between, and
    transactions still commit one at a time, in order: `transaction()` first waits for the last one.
    Use it as a context manager; leaving it waits for the last commit.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._conn = db.conn
        self._lock = connection_lock(db)
        self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace2skill-commit")
        self._pending: Future[None] | None = None

    def __enter__(self) -> CommitBehind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.wait()
        finally:
            self._helper.shutdown()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`BEGIN IMMEDIATE`; if the block succeeds its COMMIT starts behind, else it is rolled back."""
        self.wait()
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            yield self._conn
        except BaseException:
            try:
                if self._conn.in_transaction:
                    self._conn.rollback()
            finally:
                self._lock.release()
            raise
        started = threading.Event()
        try:
            self._pending = self._helper.submit(self._commit, started)
        except BaseException:
            self._lock.release()
            raise
        # Wait for the helper to be inside COMMIT (where it holds no Python lock): otherwise, while
        # this thread serialises, the helper would queue for the GIL for a whole switch interval.
        started.wait()

    def _commit(self, started: threading.Event) -> None:
        started.set()
        self._conn.commit()

    def wait(self) -> None:
        """Block until the last commit has finished and release the lock; raises that commit's error."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending.result()
        except BaseException:
            futures_wait([pending])  # interrupted while waiting: the commit may still be running
            if self._conn.in_transaction:
                self._conn.rollback()
            raise
        finally:
            self._lock.release()
