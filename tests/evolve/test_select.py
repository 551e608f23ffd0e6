from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.doubles.simulated import make_trajectories

from trace2skill.errors import InvalidInput
from trace2skill.evolve.select import outcome_statuses, select_trajectories, version_scope
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


def _versioned(store: TraceStore, seed: int, n: int, version: int | None) -> list[str]:
    made = make_trajectories(n, seed=seed)
    return store.add_many(t.model_copy(update={"skill_version": version}) for t in made)


@pytest.fixture
def versions(tmp_path: Path) -> TraceStore:
    """Runs of v1 (10), of v2 (6) and with no recorded version (4)."""
    traces = TraceStore(open_database(tmp_path / "v.db"))
    _versioned(traces, 20, 10, 1)
    _versioned(traces, 21, 6, 2)
    _versioned(traces, 22, 4, None)
    return traces


def test_only_runs_of_the_base_version_are_used_and_the_rest_are_counted_in_a_note(versions: TraceStore) -> None:
    config = EvolutionConfig(skill="sheets")
    selection = select_trajectories(versions, config, version_scope(config, 2, only_version=False))
    assert {t.skill_version for t in selection.trajectories} == {2} and len(selection.trajectories) == 6
    assert selection.versions == {"v2": 6}
    (note,) = selection.notes
    assert "left out 14 runs not made with the base version v2 (v1: 10, no recorded version: 4)" in note
    assert "--any-version takes them" in note


def test_any_version_takes_every_run_and_counts_them_by_version(versions: TraceStore) -> None:
    config = EvolutionConfig(skill="sheets", any_version=True)
    selection = select_trajectories(versions, config, version_scope(config, 2, only_version=False))
    assert len(selection.trajectories) == 20 and selection.notes == []
    assert selection.versions == {"v1": 10, "v2": 6, "unversioned": 4}


def test_runs_without_a_version_count_as_the_base_only_while_the_skill_has_one_version(versions: TraceStore) -> None:
    config = EvolutionConfig(skill="sheets")
    only = select_trajectories(versions, config, version_scope(config, 1, only_version=True))
    assert only.versions == {"v1": 10, "unversioned": 4}
    assert "left out 6 runs" in only.notes[0] and "v2: 6" in only.notes[0]


def test_a_sample_is_drawn_from_the_base_versions_runs_only(versions: TraceStore) -> None:
    config = EvolutionConfig(skill="sheets", limit=4, seed=3)
    chosen = select_trajectories(versions, config, version_scope(config, 1, only_version=False)).trajectories
    assert len(chosen) == 4 and {t.skill_version for t in chosen} == {1}


def test_when_only_other_versions_have_runs_the_error_says_how_to_take_them(versions: TraceStore) -> None:
    config = EvolutionConfig(skill="sheets")
    with pytest.raises(InvalidInput) as caught:
        select_trajectories(versions, config, version_scope(config, 3, only_version=False))
    message = str(caught.value)
    assert message.startswith("no trajectories to learn from: none of skill 'sheets' made with its base version v3")
    assert "20 runs of other versions match (v1: 10, v2: 6, no recorded version: 4)" in message
    assert "add --any-version" in message


def test_named_runs_are_kept_whatever_their_version_and_the_split_is_reported(versions: TraceStore) -> None:
    ids = [t.id or "" for t in versions.filter(skill="sheets", limit=None) if t.skill_version in (1, 2)][:8]
    config = EvolutionConfig(skill="sheets", trajectory_ids=ids)
    selection = select_trajectories(versions, config, version_scope(config, 2, only_version=False))
    assert selection.ids == ids
    assert sum(selection.versions.values()) == 8 and set(selection.versions) == {"v1", "v2"}
    assert any("were not made with the base version v2" in note for note in selection.notes)


def test_create_mode_says_that_none_of_its_runs_used_the_draft(versions: TraceStore) -> None:
    selection = select_trajectories(versions, EvolutionConfig(skill="sheets", mode="create"))
    assert len(selection.trajectories) == 20
    (note,) = selection.notes
    assert "none of them used it" in note and "v1: 10, v2: 6, no recorded version: 4" in note
    assert "--suite SUITE" in note
