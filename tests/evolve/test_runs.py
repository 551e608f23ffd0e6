from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from trace2skill.evolve.runs import Persister, config_fingerprint, find_resumable
from trace2skill.models import EvolutionConfig
from trace2skill.store import TraceStore, open_database


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(open_database(tmp_path / "t.db"))


def test_workers_and_budgets_do_not_change_the_fingerprint_but_results_changing_settings_do() -> None:
    base = EvolutionConfig(skill="s", model="m")
    same = base.model_copy(update={"workers": 99, "budget_usd": 3.0, "budget_tokens": 10})
    assert config_fingerprint(base, 1) == config_fingerprint(same, 1)
    assert config_fingerprint(base, 1) != config_fingerprint(base, 2)
    for change in ({"seed": 1}, {"fan_in": 3}, {"model": "other"}, {"analysts": "error"}, {"limit": 5}):
        assert config_fingerprint(base.model_copy(update=change), 1) != config_fingerprint(base, 1)


def test_only_the_newest_unfinished_run_with_the_same_fingerprint_is_resumed(store: TraceStore) -> None:
    store.create_run("r1", "s", {"fingerprint": "A"})
    store.update_run("r1", status="failed")
    assert find_resumable(store, "s", "A")["run_id"] == "r1"
    store.create_run("r2", "s", {"fingerprint": "B"})  # newer, unfinished, different settings
    assert find_resumable(store, "s", "A") is None
    store.update_run("r2", status="succeeded")
    assert find_resumable(store, "s", "A")["run_id"] == "r1"
    assert find_resumable(store, "other", "A") is None


@pytest.mark.anyio
async def test_the_persister_writes_in_batches_and_flush_waits_for_everything(store: TraceStore) -> None:
    store.create_run("r1", "s", {})
    persist = Persister(store, "r1")
    for i in range(50):
        persist.analysis(f"t{i}", "error", {"i": i})
        persist.patch(0, i, {"edits": [], "i": i})
    await persist.flush()
    assert persist.written == 100
    assert len(store.analyses("r1")) == 50 and len(store.patches("r1", level=0)) == 50
    assert store.analyses("r1")["t7"] == {"i": 7}


@pytest.mark.anyio
async def test_a_failed_write_keeps_its_items_and_is_reported_by_flush(store: TraceStore) -> None:
    persist = Persister(store, "r1")
    persist.analysis(None, "error", {})  # type: ignore[arg-type]  # violates NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        await persist.flush()
    assert persist.written == 0 and len(persist._pending) == 1
