"""Fixtures for the MCP server tests: a seeded home folder and clients of both protocol eras.

Every test that talks to the server is parametrised over `mode`: "auto" negotiates 2026-07-28 with
an in-process server, "legacy" the 2025-11-25 initialize handshake. `raise_exceptions=True` is
only set in auto mode (in legacy mode it re-raises inside the server task instead).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from tests.doubles.simulated import make_skill, make_trajectories

from trace2skill.home import Home
from trace2skill.models import Trajectory
from trace2skill.server import ServerConfig, Trace2SkillServer, create_server
from trace2skill.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
MODEL_ENVS = ("TRACE2SKILL_MODEL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY")


def make_trajectory(ident: str, outcome: str, task: str, skill: str | None = "sheets") -> Trajectory:
    return Trajectory.model_validate(
        {
            "id": ident,
            "task": task,
            "skill": skill,
            "messages": [
                {"role": "user", "content": task},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "ls"}}],
                },
                {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": "c1", "output": "a.xlsx"}]},
                {"role": "assistant", "content": "done"},
            ],
            "outcome": {"status": outcome},
            "tags": ["sheet"],
        }
    )


@pytest.fixture(params=["auto", "legacy"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(mode: str) -> Callable[..., Client]:
    """`connect(server, **kwargs)`: a Client of this test's protocol era.

    `raise_exceptions` is set only in auto mode, where the SDK supports it.
    """

    def make(server: Any, **kwargs: Any) -> Client:
        if mode == "auto":
            kwargs.setdefault("raise_exceptions", True)
        return Client(server, mode=mode, **kwargs)

    return make


@pytest.fixture(autouse=True)
def no_model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide for themselves which model the server has; the developer's keys never leak in."""
    for key in MODEL_ENVS:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: skill `sheets` (v1, then v2 adding an image and a file with a space) and three runs."""
    root = tmp_path_factory.mktemp("seeded") / "home"
    ws = Workspace.open(Home(root))
    try:
        base = make_skill("sheets")
        ws.skills.commit(base, parent=None, author="human", changelog=["import"])
        v2 = base.with_files({"assets/logo.png": PNG, "references/two words.md": b"# Two words\n"})
        ws.skills.commit(v2, parent=1, author="human", changelog=["add a logo and a second reference"])
        ws.traces.add_many(
            [
                make_trajectory("t-fail-1", "failure", "Sum the revenue column of q3.xlsx"),
                make_trajectory("t-ok-1", "success", "Sort the rows of contacts.csv by date"),
                make_trajectory("t-other", "unknown", "Rename the files in a folder", skill=None),
            ]
        )
    finally:
        ws.close()
    return root


@pytest.fixture
def seeded(home: Path, seeded_template: Path) -> Home:
    """A private copy of the seeded home (the published folder is a relative symlink, copied as one)."""
    shutil.copytree(seeded_template, home, symlinks=True)
    return Home(home)


@pytest.fixture
def fleet_home(home: Path) -> Home:
    """Skill `sheets` v1 and four labelled runs the simulated analyst fleet knows how to read; the `fleet` model is
    priced (prices.json), so a real run can be given the budget a paid model needs over MCP."""
    h = Home(home)
    ws = Workspace.open(h)
    try:
        ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
        ws.traces.add_many(make_trajectories(4, seed=5, evaluator=None))
    finally:
        ws.close()
    (home / "prices.json").write_text(json.dumps({"anthropic:fleet": {"input": 3, "output": 15}}))
    return h


@pytest.fixture(scope="session")
def shared_server() -> Trace2SkillServer:
    """One server for the session (building the tool schemas is the slow part). With no home of its
    own it opens $TRACE2SKILL_HOME each time a connection starts, as a server started without
    --home does: each test's `home` fixture points that at the test's own folder. List changes are
    held back for 50 ms instead of a second, so tests that make several changes wait less."""
    return create_server(ServerConfig(list_changed_interval=0.05))


@pytest.fixture
def server(seeded: Home, shared_server: Trace2SkillServer) -> Trace2SkillServer:
    assert shared_server.state is None, "a previous test left a connection open"
    return shared_server


@pytest.fixture
def inspect_store(seeded: Home) -> Iterator[Workspace]:
    """A second handle on the server's home, to check what the server stored."""
    ws = Workspace.open(seeded)
    yield ws
    ws.close()
