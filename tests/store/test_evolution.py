from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.models import EvolutionConfig, Patch
from trace2skill.store import TraceStore


def call(run_id: str | None = "r1", **fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "run_id": run_id,
        "purpose": "analyst",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "input_tokens": 1000,
        "output_tokens": 200,
        "cached_tokens": 600,
        "cache_write_tokens": 50,
        "cost_usd": 0.0125,
        "latency_s": 1.5,
        "outcome": "ok",
        "error": None,
        "request_hash": "abc",
        "created_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    record.update(fields)
    return record


def test_a_run_is_created_updated_and_listed(store: TraceStore) -> None:
    config = EvolutionConfig(skill="xlsx", fan_in=4)
    run = store.create_run("r1", "xlsx", config)
    assert run["run_id"] == run["id"] == "r1" and run["status"] == "running" and run["finished_at"] is None
    assert run["config"]["fan_in"] == 4
    store.create_run("r2", "pdf", {"skill": "pdf"})

    store.update_run("r1", base_version=3, stage="analyse", trajectories=["t_1", "t_2"])
    run = store.get_run("r1")
    assert run["base_version"] == 3 and run["stage"] == "analyse" and run["trajectories"] == ["t_1", "t_2"]
    assert run["finished_at"] is None

    done = store.update_run("r1", status="succeeded", new_version=4, report={"changelog": ["a"]})
    assert done["status"] == "succeeded" and done["new_version"] == 4 and done["report"] == {"changelog": ["a"]}
    assert done["finished_at"] is not None and done["stage"] == "analyse"
    assert [r["id"] for r in store.list_runs()] == ["r2", "r1"]
    assert [r["id"] for r in store.list_runs(skill="xlsx")] == ["r1"]
    assert store.list_runs(limit=1)[0]["id"] == "r2"


def test_run_errors_are_clear(store: TraceStore) -> None:
    store.create_run("r1", "xlsx", {})
    with pytest.raises(Conflict, match="run 'r1' already exists"):
        store.create_run("r1", "xlsx", {})
    with pytest.raises(NotFound, match="no evolution run with id 'r9'"):
        store.get_run("r9")
    with pytest.raises(NotFound):
        store.update_run("r9", status="failed")
    failed = store.update_run("r1", status="failed", error="provider down")
    assert failed["error"] == "provider down" and failed["finished_at"] is not None
    resumed = store.update_run("r1", status="running", error=None, resumed=1)
    assert resumed["finished_at"] is None and resumed["error"] is None and resumed["resumed"] == 1


def test_analyses_are_upserted_per_trajectory(store: TraceStore) -> None:
    store.save_analysis("r1", "t_1", "error", {"cause": "wrong sheet"})
    store.save_analysis("r1", "t_2", "success", {"lesson": "check headers"})
    store.save_analysis("r1", "t_1", "error", {"cause": "wrong sheet name"})
    store.save_analysis("r2", "t_1", "error", {"cause": "other run"})
    assert store.analyses("r1") == {"t_1": {"cause": "wrong sheet name"}, "t_2": {"lesson": "check headers"}}
    rows = store.analysis_rows("r1")
    assert [(r["trajectory_id"], r["kind"]) for r in rows] == [("t_1", "error"), ("t_2", "success")]
    assert store.analyses("r3") == {}


def test_patches_come_back_ordered_by_level_then_index(store: TraceStore) -> None:
    store.save_patch("r1", 1, 0, Patch(reasoning="merged", support=["t_1", "t_2"]))
    store.save_patch("r1", 0, 1, {"reasoning": "second"})
    store.save_patch("r1", 0, 0, {"reasoning": "first"})
    store.save_patch("r1", 0, 1, {"reasoning": "second, redone"})
    assert [p["reasoning"] for p in store.patches("r1")] == ["first", "second, redone", "merged"]
    assert [p["reasoning"] for p in store.patches("r1", level=0)] == ["first", "second, redone"]
    assert Patch.model_validate(store.patches("r1", level=1)[0]).support == ["t_1", "t_2"]
    assert [(r["level"], r["index"]) for r in store.patch_rows("r1")] == [(0, 0), (0, 1), (1, 0)]


def test_llm_calls_are_logged_listed_and_totalled(store: TraceStore) -> None:
    assert store.log_calls([call(), call(outcome="cache_hit", cost_usd=0), call("r2", extra_field="kept")]) == 3
    store.log_calls([call(outcome="error", error="429", input_tokens=None, created_at=1767323045.0)])
    calls = store.calls("r1")
    assert [c["outcome"] for c in calls] == ["ok", "cache_hit", "error"]
    assert calls[0]["created_at"] == "2026-01-02T03:04:05.000000+00:00"
    assert calls[2]["input_tokens"] == 0 and calls[2]["error"] == "429"
    assert store.calls("r2")[0]["extra_field"] == "kept"
    assert [c["outcome"] for c in store.calls(limit=2)] == ["ok", "error"]  # the two most recent, oldest first
    totals = store.call_totals("r1")
    assert totals == {
        "calls": 3,
        "input_tokens": 2000,
        "output_tokens": 600,
        "cached_tokens": 1800,
        "cache_write_tokens": 150,
        "cost_usd": pytest.approx(0.025),
        "errors": 1,
        "cache_hits": 1,
    }
    assert store.call_totals()["calls"] == 4
    assert store.call_totals("nobody") == {**totals, **dict.fromkeys(totals, 0), "cost_usd": 0.0}


def test_an_unknown_call_outcome_writes_none_of_the_records(store: TraceStore) -> None:
    with pytest.raises(InvalidInput, match="outcome 'timeout'"):
        store.log_calls([call(), call(outcome="timeout")])
    assert store.calls() == []


def test_writes_from_many_threads_all_land(store: TraceStore) -> None:
    def work(worker: int) -> None:
        for i in range(25):
            store.log_calls([call(f"r{worker}")])
            store.save_analysis(f"r{worker}", f"t_{i}", "error", {"i": i})
            store.save_patch(f"r{worker}", 0, i, {"i": i})

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.call_totals()["calls"] == 200
    assert all(len(store.analyses(f"r{w}")) == 25 and len(store.patches(f"r{w}")) == 25 for w in range(8))
