from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlite_utils

from trace2skill.store import TraceStore, open_database, trajectories
from trace2skill.store import search as search_module
from trace2skill.store.query import Filters
from trace2skill.store.schema import MIGRATIONS
from trace2skill.store.search import MESSAGE_TEXT_CHARS, fts_row, fts_row_from_json

from .conftest import MakeTrajectory, trajectory_data


def weather_run(i: int, **fields: object) -> dict[str, object]:
    """A run that called get_weather and got 'drizzle in Reykjavik' back."""
    messages = [
        {"role": "user", "content": f"What should I wear today? ({i})"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look outside."},
                {"type": "tool_call", "id": "w1", "name": "get_weather", "arguments": {"city": "Reykjavik"}},
            ],
        },
        {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": "w1", "output": {"sky": "drizzle"}}]},
        {"role": "assistant", "content": "Take a raincoat."},
    ]
    return trajectory_data(i, **{"task": f"What should I wear today? ({i})", "messages": messages, **fields})


def test_search_finds_a_run_by_the_tool_it_called(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    other = store.add(make_trajectory(1))
    weather = store.add(weather_run(2))
    assert [t.id for t in store.filter(text="get_weather")] == [weather]
    assert [t.id for t in store.filter(text="bash")] == [other]


def test_search_finds_message_text_and_tool_output(store: TraceStore, make_trajectory: MakeTrajectory) -> None:
    weather = store.add(weather_run(2))
    store.add(make_trajectory(1))
    assert [t.id for t in store.filter(text="raincoat")] == [weather]  # an assistant message
    assert [t.id for t in store.filter(text="drizzle")] == [weather]  # a tool's JSON output
    assert store.count(text="KeyError Sheet1") == 1  # a tool's error text, in the other run


def test_message_text_is_indexed_up_to_its_bound_and_no_further(store: TraceStore) -> None:
    filler = "lorem " * (MESSAGE_TEXT_CHARS // 6 + 10)
    data = weather_run(3)
    data["messages"] = [
        {"role": "user", "content": "early"},
        {"role": "assistant", "content": filler},
        {"role": "assistant", "content": "zanzibar"},
    ]
    store.add(data)
    assert store.count(text="early") == 1
    assert store.count(text="zanzibar") == 0
    row = fts_row(store.filter()[0])
    assert len(row[3]) == MESSAGE_TEXT_CHARS


def test_the_row_from_a_model_and_from_its_stored_json_agree(
    store: TraceStore, make_trajectory: MakeTrajectory
) -> None:
    for trajectory in (make_trajectory(1), store.get(store.add(weather_run(2)))):
        assert fts_row_from_json(trajectory.model_dump_json()) == fts_row(trajectory)


def old_layout_database(path: Path) -> None:
    """A database as the store wrote it before migration 0004: the three-column full-text table."""
    db = sqlite_utils.Database(path)
    MIGRATIONS.apply(db, stop_before="0004_search_messages")  # the store's own migrations, as they were
    runs = [weather_run(1, id="old-weather"), trajectory_data(2, id="old-bash")]
    for seq, run in enumerate(runs, 1):
        created = f"2025-01-0{seq}T00:00:00.000000+00:00"
        data = json.dumps({**run, "created_at": created})
        db.execute(
            "INSERT INTO trajectories (seq, id, created_at, skill, outcome, tags) VALUES (?, ?, ?, 'xlsx', ?, ?)",
            [seq, run["id"], created, "failure", '["spreadsheet"]'],
        )
        db.execute("INSERT INTO trajectory_data (seq, data) VALUES (?, ?)", [seq, data])
        db.execute(
            "INSERT INTO trajectories_fts (rowid, task, final_answer, feedback) VALUES (?, ?, ?, ?)",
            [seq, run["task"], run["final_answer"], "B20 empty in output"],
        )
        db.execute("INSERT INTO trajectory_tags (tag, seq) VALUES ('spreadsheet', ?)", [seq])
    db.conn.commit()
    columns = [row[1] for row in db.execute("PRAGMA table_info(trajectories_fts)").fetchall()]
    assert columns == ["task", "final_answer", "feedback"]
    assert db.execute(
        "SELECT count(*) FROM trajectories_fts WHERE trajectories_fts MATCH 'get_weather'"
    ).fetchone() == (0,)
    db.close()


def test_a_database_with_the_old_search_table_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_layout_database(path)
    db = open_database(path)
    try:
        columns = [row[1] for row in db.execute("PRAGMA table_info(trajectories_fts)").fetchall()]
        assert columns == ["task", "final_answer", "feedback", "messages", "tools"]
        store = TraceStore(db)
        assert [t.id for t in store.filter(text="get_weather")] == ["old-weather"]
        assert [t.id for t in store.filter(text="B20 empty")] == ["old-bash", "old-weather"]  # feedback kept
        assert [s.task for s in store.summaries(text="drizzle")] == ["What should I wear today? (1)"]
        # the migrated rows are the rows a fresh insert writes
        migrated = db.execute("SELECT task, final_answer, feedback, messages, tools FROM trajectories_fts").fetchall()
        assert migrated == [fts_row(store.get("old-weather")), fts_row(store.get("old-bash"))]
    finally:
        db.close()
    reopened = open_database(path)  # applied once: opening again changes nothing
    assert TraceStore(reopened).count(text="get_weather") == 1
    reopened.close()


def test_reindexing_reads_every_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    old_layout_database(path)
    monkeypatch.setattr(search_module, "_REINDEX_BATCH", 1)
    db = open_database(path)
    assert TraceStore(db).count(text="Sum column") == 1
    assert TraceStore(db).count(text="raincoat") == 1
    db.close()


def test_a_word_most_runs_contain_gives_the_same_newest_runs_walked_row_by_row(
    store: TraceStore, make_trajectory: MakeTrajectory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):  # every run has "Sum column"; every third one called get_weather
        store.add(weather_run(i, task=f"Sum column {i}") if i % 3 == 0 else make_trajectory(i))
    monkeypatch.setattr(trajectories, "SELECTIVE_TEXT", 5)  # a 30-row table behaves like a large one
    walked = [s.id for s in store.summaries(text="Sum column", limit=7)]
    filters = Filters.of(text="Sum column")
    assert store._plan(store.db.conn, filters, 7) == ["walk"]
    assert store._plan(store.db.conn, filters, None) == ["probe"]  # every row asked for: build the set
    monkeypatch.setattr(trajectories, "DENSE_TEXT", 0.5)
    assert store._plan(store.db.conn, Filters.of(text="get_weather"), 7) == ["probe"]  # in a third of the runs
    assert store._plan(store.db.conn, filters, 7) == ["walk"]  # in all of them
    assert store._plan(store.db.conn, Filters.of(skill="xlsx", text="Sum column"), 7) == ["probe"]  # not alone
    monkeypatch.setattr(trajectories, "DENSE_TEXT", 2.0)  # never walk
    assert store._plan(store.db.conn, filters, 7) == ["probe"]
    assert [s.id for s in store.summaries(text="Sum column", limit=7)] == walked
    assert walked == [t.id for t in store.filter(limit=7)]  # the seven newest runs
