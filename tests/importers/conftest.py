from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trace2skill.importers import ImportItem, import_paths
from trace2skill.models import Trajectory

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def traces(shared_data: Path) -> Path:
    """The real trace samples in ../shared/data/traces (skips when absent)."""
    folder = shared_data / "traces"
    if not folder.is_dir():
        pytest.skip(f"no trace samples at {folder}")
    return folder


@pytest.fixture
def load() -> Callable[..., list[ImportItem]]:
    """Every ImportItem (trajectories and errors) for one path."""

    def run(path: Path, fmt: str = "auto", **options: Any) -> list[ImportItem]:
        return list(import_paths([path], fmt, **options))

    return run


@pytest.fixture
def imported(load: Callable[..., list[ImportItem]]) -> Callable[..., list[Trajectory]]:
    """The trajectories of one path, after checking that no record failed."""

    def run(path: Path, fmt: str = "auto", **options: Any) -> list[Trajectory]:
        items = load(path, fmt, **options)
        errors = [f"{i.source}: {i.error}" for i in items if i.error]
        assert not errors, errors
        return [i.trajectory for i in items if i.trajectory is not None]

    return run


def call_ids(t: Trajectory) -> set[str | None]:
    return {c.id for c in t.tool_calls}


def result_ids(t: Trajectory) -> set[str | None]:
    return {r.tool_call_id for r in t.tool_results}


@pytest.fixture
def ids() -> Any:
    """(call ids, result ids) of a trajectory, for pairing checks."""
    return lambda t: (call_ids(t), result_ids(t))
