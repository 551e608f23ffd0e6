from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.evolve.select import outcome_statuses, select_trajectories
from trace2skill.evolve.simulated import make_trajectories
from trace2skill.models import EvolutionConfig, Trajectory
from trace2skill.store import TraceStore, open_database


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    traces = TraceStore(open_database(tmp_path / "t.db"))
    traces.add_many(make_trajectories(40, seed=1))
    traces.add_many(make_trajectories(5, seed=2, skill="other"))
    unlabelled = make_trajectories(3, seed=3)
    traces.add_many(
        [t.model_copy(update={"outcome": t.outcome.model_copy(update={"status": "unknown"})}) for t in unlabelled]
    )
    return traces


def test_combined_analysts_take_failures_and_successes_of_the_skill_only(store: TraceStore) -> None:
    chosen = select_trajectories(store, EvolutionConfig(skill="sheets")).trajectories
    assert len(chosen) == 40
    assert {t.skill for t in chosen} == {"sheets"}
    assert {t.outcome.status for t in chosen} == {"failure", "success"}


def test_error_analysts_take_only_failures_and_success_analysts_only_successes(store: TraceStore) -> None:
    errors = select_trajectories(store, EvolutionConfig(skill="sheets", analysts="error")).trajectories
    successes = select_trajectories(store, EvolutionConfig(skill="sheets", analysts="success")).trajectories
    assert errors and {t.outcome.status for t in errors} == {"failure"}
    assert successes and {t.outcome.status for t in successes} == {"success"}
    assert len(errors) + len(successes) == 40


def test_unknown_outcomes_are_refused_with_a_hint_to_label_them(store: TraceStore) -> None:
    with pytest.raises(InvalidInput, match="label them first"):
        outcome_statuses(EvolutionConfig(skill="sheets", outcome=["unknown"]))
    with pytest.raises(InvalidInput, match="not analysed"):
        outcome_statuses(EvolutionConfig(skill="sheets", analysts="error", outcome=["success"]))


def test_a_capped_sample_is_seeded_and_balanced(store: TraceStore) -> None:
    config = EvolutionConfig(skill="sheets", limit=10, seed=7)
    first = [t.id for t in select_trajectories(store, config).trajectories]
    again = [t.id for t in select_trajectories(store, config).trajectories]
    other = [t.id for t in select_trajectories(store, config.model_copy(update={"seed": 8})).trajectories]
    assert first == again and len(first) == 10
    assert first != other
    chosen = select_trajectories(store, config).trajectories
    assert sum(t.outcome.status == "failure" for t in chosen) == 5


def test_tags_and_time_window_narrow_the_selection(store: TraceStore) -> None:
    dated = Trajectory.model_validate(
        {
            "id": "old-1",
            "task": "old [topic:dates]",
            "messages": [],
            "skill": "sheets",
            "outcome": "success",
            "created_at": datetime(2020, 1, 1, tzinfo=UTC),
            "tags": ["dates"],
        }
    )
    store.add(dated)
    by_tag = select_trajectories(store, EvolutionConfig(skill="sheets", tags=["units"])).trajectories
    assert by_tag and all("units" in t.tags for t in by_tag)
    window = EvolutionConfig(skill="sheets", until=datetime(2021, 1, 1, tzinfo=UTC))
    assert [t.id for t in select_trajectories(store, window).trajectories] == ["old-1"]


def test_no_matching_trajectories_is_a_clear_error(store: TraceStore) -> None:
    with pytest.raises(InvalidInput, match="no trajectories to learn from"):
        select_trajectories(store, EvolutionConfig(skill="missing"))
