"""The trace store's tables, as `sqlite_utils.Migrations("trace2skill.store")`.

`trajectories` holds the columns that filters, listings and sampling need (about 150 bytes a row,
so a million rows stay a small, cache-friendly b-tree); the full JSON lives in `trajectory_data`
and is read only for the rows finally returned. `seq` is the integer primary key everything
points at: the JSON row, the full-text row, the tag rows; seeded sampling draws from its range.
Append new migrations; never edit an applied one.
"""

from __future__ import annotations

import sqlite_utils

__all__ = [
    "COUNTS_TABLE",
    "DATA_TABLE",
    "FTS_COLUMNS",
    "FTS_TABLE",
    "MIGRATIONS",
    "TABLE",
    "TAGS_TABLE",
    "TRAJECTORY_DDL",
]

TABLE = "trajectories"
DATA_TABLE = "trajectory_data"
FTS_TABLE = "trajectories_fts"
TAGS_TABLE = "trajectory_tags"
COUNTS_TABLE = "skill_run_counts"
"""How many stored runs name each skill, kept by triggers (0005): counting a skill's runs reads one row."""
FTS_COLUMNS = ("task", "final_answer", "feedback", "messages", "tools")
"""The full-text table's columns since 0004: `messages` is the run's message text and tool output (the first
`search.MESSAGE_TEXT_CHARS` of it), `tools` the names of the tools it called."""

TRAJECTORY_DDL: tuple[str, ...] = (
    f"""CREATE TABLE {TABLE} (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        skill TEXT,
        skill_version INTEGER,
        outcome TEXT NOT NULL,
        score REAL,
        tags TEXT NOT NULL DEFAULT '[]',
        data TEXT NOT NULL
    )""",
    f"CREATE INDEX {TABLE}_created ON {TABLE}(created_at)",
    f"CREATE INDEX {TABLE}_skill ON {TABLE}(skill, created_at)",
    f"CREATE INDEX {TABLE}_skill_outcome ON {TABLE}(skill, outcome, created_at)",
    f"CREATE INDEX {TABLE}_outcome ON {TABLE}(outcome, created_at)",
    # One row per (tag, trajectory): exact tag matches through the primary key, no LIKE on JSON.
    f"CREATE TABLE {TAGS_TABLE} (tag TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag, seq)) WITHOUT ROWID",
    # rowid = trajectories.seq; written in the same transaction as the row it indexes.
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    "task, final_answer, feedback, tokenize = 'unicode61 remove_diacritics 2')",
)

SPLIT_DATA_DDL: tuple[str, ...] = (
    f"CREATE TABLE {DATA_TABLE} (seq INTEGER PRIMARY KEY, data TEXT NOT NULL)",
    f"INSERT INTO {DATA_TABLE} (seq, data) SELECT seq, data FROM {TABLE}",
    f"ALTER TABLE {TABLE} DROP COLUMN data",
)

EVOLUTION_DDL: tuple[str, ...] = (
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        skill TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        config TEXT NOT NULL DEFAULT '{}',
        base_version INTEGER,
        new_version INTEGER,
        report TEXT,
        error TEXT,
        extra TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
    )""",
    "CREATE INDEX runs_skill ON runs(skill, created_at)",
    "CREATE INDEX runs_created ON runs(created_at)",
    """CREATE TABLE analyses (
        run_id TEXT NOT NULL,
        trajectory_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        result TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, trajectory_id)
    )""",
    """CREATE TABLE patches (
        run_id TEXT NOT NULL,
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        patch TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, level, idx)
    )""",
    """CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY,
        run_id TEXT,
        purpose TEXT,
        provider TEXT,
        model TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        cache_write_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        latency_s REAL,
        outcome TEXT NOT NULL,
        error TEXT,
        request_hash TEXT,
        extra TEXT,
        created_at TEXT NOT NULL
    )""",
    "CREATE INDEX llm_calls_run ON llm_calls(run_id, id)",
)

MIGRATIONS = sqlite_utils.Migrations("trace2skill.store")


def _run_all(db: sqlite_utils.Database, statements: tuple[str, ...]) -> None:
    for sql in statements:
        db.conn.execute(sql)


@MIGRATIONS(name="0001_trajectories")
def _trajectories(db: sqlite_utils.Database) -> None:
    _run_all(db, TRAJECTORY_DDL)


@MIGRATIONS(name="0002_evolution")
def _evolution(db: sqlite_utils.Database) -> None:
    _run_all(db, EVOLUTION_DDL)


@MIGRATIONS(name="0003_split_data")
def _split_data(db: sqlite_utils.Database) -> None:
    """The JSON moves out of the filtered table: key look-ups while sampling stop reading 5 KB rows."""
    _run_all(db, SPLIT_DATA_DDL)


SEARCH_MESSAGES_DDL: tuple[str, ...] = (
    f"DROP TABLE {FTS_TABLE}",
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    f"{', '.join(FTS_COLUMNS)}, tokenize = 'unicode61 remove_diacritics 2')",
)


@MIGRATIONS(name="0004_search_messages")
def _search_messages(db: sqlite_utils.Database) -> None:
    """Search reaches message text, tool names and tool output: the full-text table is rebuilt in place from
    the stored JSON (task, answer and feedback come from there too), in the migration's one transaction."""
    from trace2skill.store.search import reindex_all

    _run_all(db, SEARCH_MESSAGES_DDL)
    reindex_all(db.conn)


SKILL_COUNTS_DDL: tuple[str, ...] = (
    f"CREATE TABLE {COUNTS_TABLE} (skill TEXT PRIMARY KEY, runs INTEGER NOT NULL) WITHOUT ROWID",
    f"INSERT INTO {COUNTS_TABLE} (skill, runs) "
    f"SELECT skill, count(*) FROM {TABLE} WHERE skill IS NOT NULL GROUP BY skill",
    f"""CREATE TRIGGER {TABLE}_count_insert AFTER INSERT ON {TABLE} WHEN NEW.skill IS NOT NULL BEGIN
        INSERT INTO {COUNTS_TABLE} (skill, runs) VALUES (NEW.skill, 1)
            ON CONFLICT (skill) DO UPDATE SET runs = runs + 1;
    END""",
    f"""CREATE TRIGGER {TABLE}_count_delete AFTER DELETE ON {TABLE} WHEN OLD.skill IS NOT NULL BEGIN
        UPDATE {COUNTS_TABLE} SET runs = runs - 1 WHERE skill = OLD.skill;
    END""",
    f"""CREATE TRIGGER {TABLE}_count_update AFTER UPDATE OF skill ON {TABLE} WHEN OLD.skill IS NOT NEW.skill BEGIN
        UPDATE {COUNTS_TABLE} SET runs = runs - 1 WHERE skill = OLD.skill;
        INSERT INTO {COUNTS_TABLE} (skill, runs) SELECT NEW.skill, 1 WHERE NEW.skill IS NOT NULL
            ON CONFLICT (skill) DO UPDATE SET runs = runs + 1;
    END""",
)


@MIGRATIONS(name="0005_skill_counts")
def _skill_counts(db: sqlite_utils.Database) -> None:
    """Counting a skill's runs (every `record_trajectory` answers it) reads one row instead of an index range
    that grows with the history: 1 ms at 40,000 runs of one skill."""
    _run_all(db, SKILL_COUNTS_DDL)
