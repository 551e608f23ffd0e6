"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import server_handler


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """The local protocol server answering with the simulated fleet."""
    with FakeLLMServer(server_handler) as s:
        yield s
