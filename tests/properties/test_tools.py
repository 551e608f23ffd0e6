"""Every MCP tool under generated arguments, called through a real MCP client on the in-memory server.

Arguments are mostly of the right type and sometimes anything at all; required ones are sometimes
missing and unknown ones sometimes present. Each call must come back as a result, or as a tool error
(`isError`) whose text is one line that is not a crash: never the SDK's bare "Error executing tool",
never "internal error". Paths stay inside the test's own folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from tests.doubles.simulated import make_skill, make_trajectories

from trace2skill.home import Home
from trace2skill.models import json_too_deep
from trace2skill.server import ServerConfig, create_server
from trace2skill.workspace import Workspace

from .conftest import FAST, JSON_VALUES, SENDABLE_DEPTH, SLOW, slow, trajectory_inputs

MODEL_ENVS = ("TRACE2SKILL_MODEL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL")
OUTCOMES = ["success", "failure", "partial", "unknown"]


def typed(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right type, sometimes any JSON value."""
    return st.one_of(strategy, strategy, strategy, JSON_VALUES)


def arguments(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Each field present or not (required ones too), plus now and then a field the tool does not have."""
    known = st.fixed_dictionaries({}, optional={name: typed(s) for name, s in fields.items()})
    extra = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, known, st.one_of(st.just({}), st.just({}), extra))


NAMES = st.one_of(
    st.sampled_from(["sheets", "ledger", "", "Sheets", "a--b", "../x", "x" * 65, "sh\udceets"]), st.text(max_size=70)
)
IDS = st.one_of(st.sampled_from(["t-fail-1", "t-ok-1", "t-other", "t-nope", "", "r_nope"]), st.text(max_size=40))
VERSIONS = st.one_of(st.none(), st.integers(min_value=-2, max_value=6), st.integers())
TEXT = st.one_of(st.none(), st.text(max_size=60), st.sampled_from(["\ud800", "a\udfffb", "\x00"]))
FLOATS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
FOLDERS = st.from_regex(r"[a-z0-9 _.-]{0,16}", fullmatch=True)
MODELS = st.one_of(
    st.none(), st.sampled_from(["nosuch:model", "anthropic:claude-x", "openai:", "sampling", ":", "local"])
)


def tool_arguments(root: Path) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    inside = FOLDERS.map(lambda name: str(root / "paths" / name))
    skill_dir = st.sampled_from([str(root / "skill-src"), str(root / "paths" / "missing"), str(root / "skill-src/")])
    return {
        "record_trajectory": arguments(
            trajectory=trajectory_inputs(SENDABLE_DEPTH).filter(lambda v: not json_too_deep(v, 2 * SENDABLE_DEPTH))
        ),
        "label_trajectory": arguments(
            id=IDS, status=st.sampled_from([*OUTCOMES, "won"]), score=FLOATS, feedback=TEXT, judged_by=TEXT
        ),
        "search_trajectories": arguments(
            query=TEXT,
            skill=st.one_of(st.none(), NAMES),
            outcome=st.one_of(st.none(), st.lists(st.sampled_from([*OUTCOMES, "x"]), max_size=3)),
            tags=st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=3)),
            limit=st.one_of(st.integers(min_value=-5, max_value=300), st.integers()),
            offset=st.one_of(st.integers(min_value=-5, max_value=10**12), st.integers()),
        ),
        "get_skill": arguments(name=NAMES, version=VERSIONS),
        "list_skills": arguments(),
        "skill_history": arguments(name=NAMES),
        "skill_usage": arguments(name=NAMES, version=VERSIONS),
        "diff_skill": arguments(name=NAMES, v1=VERSIONS, v2=VERSIONS),
        "rollback_skill": arguments(name=NAMES, version=VERSIONS),
        "list_runs": arguments(skill=st.one_of(st.none(), NAMES), limit=st.integers(min_value=-5, max_value=300)),
        "get_run": arguments(run_id=IDS),
        "import_skill": arguments(path=st.one_of(skill_dir, inside), name=st.one_of(st.none(), NAMES)),
        "export_skill": arguments(name=NAMES, dest=inside, version=VERSIONS),
        "evolve_skill": arguments(
            name=NAMES,
            mode=st.sampled_from(["deepen", "create", "other"]),
            analysts=st.sampled_from(["error", "success", "combined", "all"]),
            limit=VERSIONS,
            outcome=st.one_of(st.none(), st.lists(st.sampled_from(OUTCOMES), max_size=2)),
            fan_in=st.integers(min_value=-1, max_value=80),
            workers=st.integers(min_value=-1, max_value=300),
            model=MODELS,
            budget_usd=FLOATS,
            dry_run=st.booleans(),
            task_description=TEXT,
            seed=st.integers(),
            tags=st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=40)),
            fresh=st.booleans(),
            publish=st.sampled_from(["auto", "review", "never", "always"]),
            background=st.booleans(),
            analyst=st.sampled_from(["agentic", "single", "both"]),
            any_version=st.booleans(),
        ),
        "evolution_status": arguments(run_id=IDS),
        "cancel_evolution": arguments(run_id=IDS),
    }


class Caller:
    """One MCP client on the in-memory server for the whole module, driven from a blocking portal."""

    def __init__(self, portal: Any, client: Client) -> None:
        self.portal = portal
        self.client = client

    def __call__(self, name: str, args: dict[str, Any]) -> Any:
        return self.portal.call(self.client.call_tool, name, args)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tools")
    ws = Workspace.open(Home(folder / "home"))
    try:
        base = make_skill("sheets")
        ws.skills.commit(base, parent=None, author="human", changelog=["import"])
        ws.skills.commit(
            base.with_files({"references/more.md": b"# More\n"}), parent=1, author="human", changelog=["+"]
        )
        ws.traces.add_many(make_trajectories(6, seed=3))
        ws.skills.export("sheets", folder, 2)
        (folder / "sheets").rename(folder / "skill-src")
    finally:
        ws.close()
    (folder / "paths").mkdir()
    return folder


@pytest.fixture(scope="module")
def call(root: Path) -> Iterator[Caller]:
    here = Path.cwd()
    os.chdir(root / "paths")  # a relative path the server refuses must not land in the repository either
    saved = {key: os.environ.pop(key) for key in MODEL_ENVS if key in os.environ}
    server = create_server(ServerConfig(home=Home(root / "home"), allow_paths=True))
    try:
        with (
            anyio.from_thread.start_blocking_portal() as portal,
            portal.wrap_async_context_manager(Client(server, raise_exceptions=True)) as client,
        ):
            yield Caller(portal, client)
    finally:
        os.environ.update(saved)
        os.chdir(here)


def answers_cleanly(call: Caller, name: str, args: dict[str, Any]) -> None:
    result = call(name, args)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    if not result.is_error:
        assert result.structured_content is not None, text
        return
    assert "\n" not in text and text.strip(), text
    assert not text.startswith("Error executing tool"), "the SDK's crash text or prefix reached the client"
    assert "internal error" not in text, text


def _property(name: str, budget: Any) -> Callable[..., None]:
    @budget
    @given(data=st.data())
    def test(call: Caller, root: Path, data: st.DataObject) -> None:
        answers_cleanly(call, name, data.draw(tool_arguments(root)[name], label="arguments"))

    return test


TOOL_NAMES = [
    "record_trajectory",
    "label_trajectory",
    "search_trajectories",
    "get_skill",
    "list_skills",
    "skill_history",
    "skill_usage",
    "diff_skill",
    "rollback_skill",
    "list_runs",
    "get_run",
    "import_skill",
    "export_skill",
    "evolve_skill",
    "evolution_status",
    "cancel_evolution",
]

for _tool in TOOL_NAMES:
    globals()[f"test_{_tool}_answers_any_arguments_in_one_line"] = _property(_tool, FAST)
    globals()[f"test_ten_thousand_calls_of_{_tool}"] = slow(_property(_tool, SLOW))


def test_every_tool_is_covered(call: Caller) -> None:
    tools = call.portal.call(call.client.list_tools)
    assert {t.name for t in tools.tools} == set(TOOL_NAMES)
