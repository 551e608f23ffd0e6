"""The trace store: trajectories and the evolution tables in one SQLite file, through sqlite-utils.

    db = open_database(home.db_path)      # WAL, busy timeout, schema migrations applied
    store = TraceStore(db)
    tid = store.add(trajectory)
    store.filter(skill="xlsx", outcome="failure", text="KeyError", limit=20)
    store.sample(200, seed=0, balance=True, skill="xlsx")

Other modules that keep tables in the same file apply their own `sqlite_utils.Migrations` with
`apply_migrations(db, migrations)` and hold `connection_lock(db)` while they use the connection.
"""

from trace2skill.store.codec import parse_time
from trace2skill.store.db import (
    BUSY_TIMEOUT_S,
    PAGE_SIZE,
    apply_migrations,
    background_checkpoints,
    connection_lock,
    open_database,
    write_transaction,
)
from trace2skill.store.evolution import CALL_FIELDS, CALL_OUTCOMES, TERMINAL_STATUSES, EvolutionLog
from trace2skill.store.ids import new_id
from trace2skill.store.query import STATUSES, fts_query
from trace2skill.store.schema import MIGRATIONS
from trace2skill.store.trajectories import (
    DEFAULT_BATCH,
    FAILURE_SIDE,
    SUCCESS_SIDE,
    TraceChanges,
    TraceStore,
    TraceSummary,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "CALL_FIELDS",
    "CALL_OUTCOMES",
    "DEFAULT_BATCH",
    "FAILURE_SIDE",
    "MIGRATIONS",
    "PAGE_SIZE",
    "STATUSES",
    "SUCCESS_SIDE",
    "TERMINAL_STATUSES",
    "EvolutionLog",
    "TraceChanges",
    "TraceStore",
    "TraceSummary",
    "apply_migrations",
    "background_checkpoints",
    "connection_lock",
    "fts_query",
    "new_id",
    "open_database",
    "parse_time",
    "write_transaction",
]
