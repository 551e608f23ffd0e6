"""The entry points' event loop: uvloop when installed, the standard loop when asked for or absent."""

from __future__ import annotations

import asyncio

import pytest

from trace2skill.llm import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_run_uses_uvloop_when_it_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(eventloop.ENV, raising=False)
    assert eventloop.run(_loop_module()).startswith("uvloop")
    assert eventloop.anyio_run_options() == {"backend": "asyncio", "backend_options": {"use_uvloop": True}}


def test_the_environment_can_force_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV, "asyncio")
    assert eventloop.run(_loop_module()).startswith("asyncio")
    assert eventloop.anyio_run_options()["backend_options"] == {"use_uvloop": False}


def test_without_uvloop_the_standard_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV, raising=False)
    real = eventloop.importlib.util.find_spec
    monkeypatch.setattr(eventloop.importlib.util, "find_spec", lambda name: None if name == "uvloop" else real(name))
    assert not eventloop.use_uvloop()
    assert eventloop.run(_loop_module()).startswith("asyncio")
