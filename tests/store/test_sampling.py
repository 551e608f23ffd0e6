from __future__ import annotations

import random
from collections import Counter

import pytest
import sqlite_utils

from trace2skill.errors import InvalidInput
from trace2skill.models import Trajectory
from trace2skill.store import TraceStore, sampling
from trace2skill.store.query import Filters
from trace2skill.store.sampling import sample_seqs


def fill(store: TraceStore, statuses: list[str], **fields: object) -> list[str]:
    rows = [
        Trajectory.model_validate(
            {
                "task": f"task {i}",
                "messages": [{"role": "user", "content": f"task {i}"}],
                "outcome": {"status": status},
                "tags": ["even" if (i // 4) % 2 == 0 else "odd"],
                "metadata": {"n": i},
                **fields,
            }
        )
        for i, status in enumerate(statuses)
    ]
    return store.add_many(rows, batch_size=500)


@pytest.fixture
def big(store: TraceStore) -> TraceStore:
    """2,000 rows: large enough for sampling to draw keys at random instead of listing every match."""
    fill(store, ["success", "failure", "partial", "unknown"] * 500)
    return store


def test_the_same_seed_gives_the_same_sample_and_another_seed_another(big: TraceStore) -> None:
    first = big.sample_ids(50, seed=7)
    assert big.sample_ids(50, seed=7) == first
    assert [t.id for t in big.sample(50, seed=7)] == first
    assert big.sample_ids(50, seed=8) != first
    assert len(set(first)) == 50


def test_a_sample_respects_every_filter(big: TraceStore) -> None:
    picked = big.sample(40, seed=1, outcome=["failure", "partial"], tags=["odd"])
    assert len(picked) == 40
    assert all(t.outcome.status in ("failure", "partial") and t.tags == ["odd"] for t in picked)
    assert {t.outcome.status for t in picked} == {"failure", "partial"}


def test_drawn_samples_keep_to_the_version_filter(store: TraceStore) -> None:
    fill(store, ["success"] * 1000, skill_version=1)
    fill(store, ["failure"] * 1000)  # no recorded version
    picked = store.sample(30, seed=2, skill_version=1)  # 30 of 2,000 keys: drawn, not listed
    assert len(picked) == 30 and {t.skill_version for t in picked} == {1}
    unversioned = store.sample(30, seed=2, skill_version=[None], balance=True)
    assert len(unversioned) == 30 and {t.skill_version for t in unversioned} == {None}


def test_asking_for_more_than_match_returns_every_match_once(big: TraceStore) -> None:
    picked = big.sample_ids(5000, seed=3, outcome="failure")
    assert len(picked) == len(set(picked)) == 500
    assert set(picked) == {t.id for t in big.filter(outcome="failure", limit=None)}
    assert big.sample(0) == [] and big.sample(10, skill="nobody") == []
    with pytest.raises(InvalidInput, match="sample size"):
        big.sample(-1)


def test_sampling_an_empty_store_returns_nothing(store: TraceStore) -> None:
    assert store.sample(10, seed=0) == [] and store.sample(10, balance=True) == []


def test_every_row_can_be_drawn_and_draws_are_roughly_uniform(store: TraceStore) -> None:
    ids = fill(store, ["success"] * 400)
    seen: Counter[str] = Counter()
    for seed in range(300):
        seen.update(store.sample_ids(20, seed=seed))
    assert set(seen) == set(ids)  # 6,000 draws over 400 rows: each expected 15 times
    assert max(seen.values()) < 45


def test_both_paths_agree_on_what_matches(
    store: TraceStore, db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(store, ["success", "failure"] * 1000)
    for victim in store.filter(limit=600, offset=200):  # holes in the key range
        store.delete(victim.id)
    filters = Filters.of(outcome="failure", tags=["even"])
    matching = {t.metadata["n"] for t in store.filter(outcome="failure", tags=["even"], limit=None)}
    drawn = sample_seqs(db.conn, filters, 30, random.Random(5))  # 30 of ~2,000 keys: random draws
    listed = sample_seqs(db.conn, filters, 900, random.Random(5))  # most of them: list every match
    n_of = {seq: n for seq, n in db.execute("SELECT seq, json_extract(data, '$.metadata.n') FROM trajectory_data")}
    assert len(drawn) == 30 and {n_of[s] for s in drawn} <= matching
    assert {n_of[s] for s in listed} == matching

    def no_listing(*args: object) -> list[int]:
        raise AssertionError("dense matches must be sampled by drawing keys")

    monkeypatch.setattr(sampling, "_all_matches", no_listing)
    failures = sample_seqs(db.conn, Filters.of(outcome="failure"), 30, random.Random(6))
    statuses = dict(db.execute("SELECT seq, outcome FROM trajectories").fetchall())
    assert len(set(failures)) == 30 and {statuses[s] for s in failures} == {"failure"}


def test_balance_splits_evenly_between_failures_and_successes(big: TraceStore) -> None:
    picked = big.sample(100, seed=2, balance=True)
    counts = Counter(t.outcome.status for t in picked)
    assert counts["success"] == 50
    assert counts["failure"] + counts["partial"] == 50
    assert counts["unknown"] == 0
    assert [t.id for t in big.sample(100, seed=2, balance=True)] == [t.id for t in picked]


def test_balance_tops_up_from_the_other_side_then_from_the_rest(store: TraceStore) -> None:
    fill(store, ["failure"] * 5 + ["success"] * 300 + ["unknown"] * 50)
    picked = store.sample(40, seed=0, balance=True)
    assert Counter(t.outcome.status for t in picked) == {"failure": 5, "success": 35}
    assert [t.outcome.status for t in picked[:5]] == ["failure"] * 5  # failures first
    everything = store.sample(400, seed=0, balance=True)
    assert Counter(t.outcome.status for t in everything) == {"failure": 5, "success": 300, "unknown": 50}


def test_balance_with_one_side_missing_samples_the_whole_selection(store: TraceStore) -> None:
    fill(store, ["success"] * 30 + ["unknown"] * 30)
    picked = store.sample(60, seed=0, balance=True)
    assert Counter(t.outcome.status for t in picked) == {"success": 30, "unknown": 30}
    only_failures = store.sample(10, seed=0, balance=True, outcome="success")
    assert len(only_failures) == 10
