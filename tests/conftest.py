from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TRACE2SKILL_HOME for the test, so nothing touches ~/.trace2skill."""
    folder = tmp_path / "home"
    monkeypatch.setenv("TRACE2SKILL_HOME", str(folder))
    return folder


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, read in place; tests that need it skip with a clear message when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared benchmark data not found at {SHARED_DATA}")
    return SHARED_DATA
