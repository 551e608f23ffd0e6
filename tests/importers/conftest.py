from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trace2skill.importers import ImportItem, import_paths
from trace2skill.models import Trajectory

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = Path(__file__).parent / "samples"
SHARED_TRACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "traces"
HERE = Path(__file__).parent
_left_out: list[str] = []


def _reads_the_shared_corpus(item: pytest.Item) -> bool:
    return "traces" in getattr(item, "fixturenames", ()) and HERE in Path(str(item.path)).parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ../shared/data/traces (a fresh clone anywhere), the tests that read only that extended corpus
    are left out, not skipped: every format they cover has its own small sample under samples/, read
    by the tests next to them. With the corpus present they run as well."""
    if SHARED_TRACES.is_dir():
        return
    corpus_only = [item for item in items if _reads_the_shared_corpus(item)]
    if corpus_only:
        config.hook.pytest_deselected(items=corpus_only)
        items[:] = [item for item in items if item not in corpus_only]
        _left_out.extend(item.nodeid for item in corpus_only)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _left_out:
        terminalreporter.write_line(
            f"{len(_left_out)} importer tests read only the extended corpus {SHARED_TRACES}, which is not here: "
            "deselected (the samples in tests/importers/samples cover each format)"
        )


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def samples() -> Path:
    """Small hand-written trace files, one folder per format (see samples/README.md)."""
    return SAMPLES


@pytest.fixture
def traces(shared_data: Path) -> Path:
    """The extended corpus of real trace samples in ../shared/data/traces (its tests are deselected when absent)."""
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
