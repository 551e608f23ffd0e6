"""Evolutions the server owns: `evolve_skill(background=true)`, `evolution_status`, `cancel_evolution`, the
`run://` resource while a run goes on, a run outliving its client (in memory and over streamable HTTP), shutdown
(in memory, stdio, HTTP), the workspace opened once and kept open for a run, and evolve's store and file work
kept off the server's event loop.

The model is the simulated fleet behind the local Anthropic wire server; a `GatedFleet` holds the calls of
one kind (the proposals) until the test opens its gate, so a run can be caught in the middle."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment
from mcp.client.streamable_http import streamable_http_client
from tests.doubles.llmserver import FakeLLMServer, ServerRequest
from tests.doubles.simulated import server_handler

from trace2skill.home import Home
from trace2skill.server import ServerConfig, Trace2SkillServer, create_server
from trace2skill.server.http_app import build_http, serve_http
from trace2skill.skills_store import SkillStore
from trace2skill.store import TraceStore
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio

Connect = Callable[..., Client]
PROPOSALS = "# Role: skill editor (proposal)"
"""The first line of the proposer's system prompt: the calls a GatedFleet holds."""
EVOLVE = {"name": "sheets", "workers": 4, "budget_usd": 100}
TRACE2SKILL = Path(sys.executable).parent / "trace2skill"


def _text(result: types.CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def _data(result: types.CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, _text(result)
    return result.structured_content


class GatedFleet:
    """The simulated fleet; calls whose system prompt holds `hold` wait until `gate` is set (`held` says one came)."""

    def __init__(self, hold: str) -> None:
        self.hold = hold
        self.gate = threading.Event()
        self.held = threading.Event()
        self.kinds: list[str] = []

    async def __call__(self, request: ServerRequest) -> Any:
        self.kinds.append(request.system.lstrip().partition("\n")[0])
        if self.hold in request.system:
            self.held.set()
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
        return server_handler(request)


@pytest.fixture
def fleet() -> GatedFleet:
    return GatedFleet(PROPOSALS)


@pytest.fixture
def llm_url(fleet: GatedFleet) -> Iterator[str]:
    with FakeLLMServer(fleet) as server:
        try:
            yield server.url
        finally:
            fleet.gate.set()  # let a held call end, so the server stops at once


@pytest.fixture
def server(fleet_home: Home, llm_url: str) -> Trace2SkillServer:
    return create_server(ServerConfig(home=fleet_home, model=f"anthropic:fleet@{llm_url}"))


async def _until_finished(client: Client, run_id: str) -> dict[str, Any]:
    with anyio.fail_after(120):
        while True:
            status = _data(await client.call_tool("evolution_status", {"run_id": run_id}))
            if status["status"] != "running":
                return status
            await anyio.sleep(0.05)


async def _until_closed(server: Trace2SkillServer) -> None:
    with anyio.fail_after(30):
        while server.state is not None:
            await anyio.sleep(0.02)


async def _held(fleet: GatedFleet) -> None:
    """Wait (off the loop) until the run has sent a proposal, which the fleet holds."""
    assert await anyio.to_thread.run_sync(fleet.held.wait, 60), "the run never reached its proposals"


async def _analysed(client: Client, run_id: str) -> dict[str, Any]:
    """Wait until every analysis of the run is done (its proposals are held), and return that status."""
    with anyio.fail_after(60):
        while True:
            status = _data(await client.call_tool("evolution_status", {"run_id": run_id}))
            if status["stages"].get("analyse") == {"done": 4, "total": 4}:
                return status
            await anyio.sleep(0.05)


def _store(home: Home) -> Workspace:
    return Workspace.open(home)


async def test_a_background_evolve_answers_at_once_and_a_new_client_reads_it_finished_after_the_first_left(
    server: Trace2SkillServer, fleet: GatedFleet, fleet_home: Home, connect: Connect
) -> None:
    async with connect(server) as first:
        started = await first.call_tool("evolve_skill", {**EVOLVE, "background": True})
        running_when_answered = [e.run_id for e in server.evolutions.running]  # its proposals are held: it cannot end
        await _held(fleet)
    # the client is gone; the run is not, and the workspace stays open under it
    assert server.state is not None and len(server.evolutions.running) == 1
    fleet.gate.set()
    async with connect(server) as second:
        status = await _until_finished(second, _data(started)["run_id"])
        served = await second.call_tool("get_skill", {"name": "sheets"})
        report = (await second.read_resource(status["report_uri"])).contents[0]
    data = _data(started)
    assert not started.is_error and running_when_answered == [data["run_id"]]
    assert data["status"] == "running" and data["run_id"].startswith("r_") and data["new_version"] is None
    assert data["report_uri"] == f"run://{data['run_id']}/report" and len(_text(started).splitlines()) == 1
    assert f"as run {data['run_id']}" in _text(started) and "evolution_status" in _text(started)
    assert status["status"] == "succeeded" and (status["base_version"], status["new_version"]) == (1, 2)
    assert status["published"] is True and status["summary"].startswith("succeeded; sheets v1 → v2 (published)")
    assert status["calls"] >= 8 and status["cost_usd"] > 0 and status["in_this_server"] is False
    assert _data(served)["version"] == 2
    assert isinstance(report, types.TextResourceContents) and "## What changed and why" in report.text
    await _until_closed(server)  # the last user (the run) has gone: the workspace is closed
    ws = _store(fleet_home)
    try:
        assert ws.skills.published_version("sheets") == 2 and ws.skills.head("sheets").run_id == data["run_id"]
    finally:
        ws.close()


async def test_evolution_status_and_the_run_resource_show_the_stage_and_counts_while_the_run_goes_on(
    server: Trace2SkillServer, fleet: GatedFleet, connect: Connect
) -> None:
    async with connect(server) as client:
        run_id = _data(await client.call_tool("evolve_skill", {**EVOLVE, "background": True}))["run_id"]
        await _held(fleet)
        status = await _analysed(client, run_id)  # every analysis done, every proposal held
        text = _text(await client.call_tool("evolution_status", {"run_id": run_id}))
        live = (await client.read_resource(f"run://{run_id}/report")).contents[0]
        fleet.gate.set()
        finished = await _until_finished(client, run_id)
        done = (await client.read_resource(f"run://{run_id}/report")).contents[0]
    assert status["status"] == "running" and status["in_this_server"] and status["background"]
    assert status["stages"]["propose"] == {"done": 0, "total": 4} and status["summary"] is None
    assert (status["stage"], status["done"], status["total"]) == ("analyse", 4, 4)
    assert 0 <= status["calls"] <= finished["calls"] and 0 <= status["cost_usd"] <= finished["cost_usd"]
    assert text.startswith(f"Run {run_id} of sheets: running, analyse 4/4;") and "so far" in text
    assert isinstance(live, types.TextResourceContents) and "**Status:** running" in live.text
    assert "**Stage:** analyse 4/4" in live.text and "| propose | 0 | 4 |" in live.text
    assert finished["status"] == "succeeded" and finished["stages"] == {}
    assert isinstance(done, types.TextResourceContents) and done.text.startswith(f"# Evolution run {run_id}: sheets")
    assert "**Stage:**" not in done.text


async def test_cancel_evolution_stops_the_run_keeps_its_analyses_leaves_the_skill_alone_and_the_run_resumes(
    server: Trace2SkillServer, fleet: GatedFleet, fleet_home: Home, connect: Connect
) -> None:
    async with connect(server) as client:
        run_id = _data(await client.call_tool("evolve_skill", {**EVOLVE, "background": True}))["run_id"]
        await _held(fleet)
        await _analysed(client, run_id)
        second = await client.call_tool("evolve_skill", {**EVOLVE, "background": True})
        cancelled = await client.call_tool("cancel_evolution", {"run_id": run_id})
        again = await client.call_tool("cancel_evolution", {"run_id": run_id})
        unknown = await client.call_tool("cancel_evolution", {"run_id": "r_nope"})
        status = _data(await client.call_tool("evolution_status", {"run_id": run_id}))
        served = _data(await client.call_tool("get_skill", {"name": "sheets"}))
        ws = _store(fleet_home)
        try:
            saved = ws.traces.analyses(run_id)
        finally:
            ws.close()
        fleet.gate.set()
        fleet.kinds.clear()
        resumed = await client.call_tool("evolve_skill", EVOLVE)
    assert second.is_error and f"already being evolved by run {run_id}" in _text(second)
    assert not cancelled.is_error and _data(cancelled)["status"] == "interrupted"
    assert _data(cancelled)["cancel_requested"] and _text(cancelled).startswith(f"Cancelled run {run_id} of sheets")
    assert again.is_error and _text(again) == f"run {run_id} has already ended (status interrupted); nothing to cancel"
    assert unknown.is_error and "r_nope" in _text(unknown) and len(_text(unknown).splitlines()) == 1
    assert status["status"] == "interrupted" and f"--resume {run_id}" in (status["error"] or "")
    assert status["summary"].startswith("interrupted; sheets unchanged at v1")
    assert served["version"] == 1 and served["published_version"] == 1  # the published skill is untouched
    assert len(saved) == 4  # every finished analysis was kept
    report = _data(resumed)
    assert report["run_id"] == run_id and report["status"] == "succeeded" and report["report"]["resumed"]
    assert not any("analyst" in kind for kind in fleet.kinds)  # no analysis was paid for twice


async def test_a_server_shutting_down_records_its_background_runs_interrupted_and_closes_the_workspace(
    server: Trace2SkillServer, fleet: GatedFleet, fleet_home: Home, connect: Connect
) -> None:
    async with connect(server) as client:
        run_id = _data(await client.call_tool("evolve_skill", {**EVOLVE, "background": True}))["run_id"]
        await _held(fleet)
        await _analysed(client, run_id)
    assert server.state is not None
    await server.shutdown()
    assert server.state is None and server.evolutions.running == []
    ws = _store(fleet_home)
    try:
        run = ws.traces.get_run(run_id)
        assert run["status"] == "interrupted" and len(ws.traces.analyses(run_id)) == 4
        assert ws.skills.published_version("sheets") == 1 and ws.skills.head("sheets").version == 1
    finally:
        ws.close()
    fleet.gate.set()
    async with connect(server) as client:  # the same settings resume the interrupted run
        resumed = _data(await client.call_tool("evolve_skill", EVOLVE))
    assert resumed["run_id"] == run_id and resumed["status"] == "succeeded" and resumed["new_version"] == 2


async def test_trace2skill_serve_over_stdio_records_a_background_run_interrupted_when_its_client_closes(
    fleet_home: Home, fleet: GatedFleet, llm_url: str, connect: Connect
) -> None:
    env = {**get_default_environment(), "TRACE2SKILL_HOME": str(fleet_home.root)}
    params = StdioServerParameters(
        command=str(TRACE2SKILL), args=["serve", "--model", f"anthropic:fleet@{llm_url}"], env=env
    )
    async with connect(params) as client:
        run_id = _data(await client.call_tool("evolve_skill", {**EVOLVE, "background": True}))["run_id"]
        await _held(fleet)
        await _analysed(client, run_id)
    ws = _store(fleet_home)  # the client closed stdin: the server cancelled the run and recorded it before exiting
    try:
        run = ws.traces.get_run(run_id)
        assert run["status"] == "interrupted" and len(ws.traces.analyses(run_id)) == 4
        assert ws.skills.published_version("sheets") == 1
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("owner", "method"),
    [(TraceStore, "create_run"), (SkillStore, "commit")],
    ids=["the trace store recording the run", "the skill store writing and publishing the new version"],
)
async def test_other_tools_answer_while_an_evolve_is_stuck_in_store_or_file_work(
    server: Trace2SkillServer, fleet: GatedFleet, connect: Connect, monkeypatch: pytest.MonkeyPatch,
    owner: type, method: str,
) -> None:  # fmt: skip
    """The evolve's first call of `method` is held on its thread until the test has had its list_skills answer.
    Run on the server's event loop, that call would stall every request (and this test would see the safety
    timeout release it first)."""
    fleet.gate.set()
    original = getattr(owner, method)
    entered, release = threading.Event(), threading.Event()
    order: list[str] = []

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not entered.is_set():
            entered.set()
            if not release.wait(30):
                order.append("released by the safety timeout")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, held)
    results: list[types.CallToolResult] = []
    async with connect(server) as client:

        async def evolve() -> None:
            results.append(await client.call_tool("evolve_skill", EVOLVE))
            order.append("evolve_skill")

        async with anyio.create_task_group() as tg:
            tg.start_soon(evolve)
            assert await anyio.to_thread.run_sync(entered.wait, 60)
            listed = await client.call_tool("list_skills", {})
            order.append("list_skills")
            release.set()
    assert order == ["list_skills", "evolve_skill"]
    assert [s["name"] for s in _data(listed)["skills"]] == ["sheets"]
    assert _data(results[0])["status"] == "succeeded" and _data(results[0])["new_version"] == 2


async def test_two_connections_starting_together_open_one_workspace(
    fleet_home: Home, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Home | None] = []
    original = Workspace.open

    def slow_open(home: Home | None = None) -> Workspace:
        opened.append(home)
        time.sleep(0.3)  # a second connection arriving meanwhile must wait for this workspace, not open its own
        return original(home)

    monkeypatch.setattr(Workspace, "open", staticmethod(slow_open))
    server = create_server(ServerConfig(home=fleet_home))
    workspaces: list[int] = []
    both_in = anyio.Event()

    async def one() -> None:
        async with connect(server) as client:
            assert _data(await client.call_tool("list_skills", {}))["skills"][0]["name"] == "sheets"
            assert server.state is not None
            workspaces.append(id(server.state.workspace))
            if len(workspaces) == 2:
                both_in.set()
            await both_in.wait()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(one)
            tg.start_soon(one)
    assert len(opened) == 1 and len(set(workspaces)) == 1
    assert server.state is None  # closed after the last connection


@pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")
async def test_a_subscriber_to_a_background_runs_report_is_told_when_it_ends(
    server: Trace2SkillServer, fleet: GatedFleet
) -> None:
    updated: list[str] = []
    arrived = anyio.Event()

    async def inbox(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            arrived.set()

    async with Client(server, mode="legacy", message_handler=inbox) as client:
        run_id = _data(await client.call_tool("evolve_skill", {**EVOLVE, "background": True}))["run_id"]
        await client.subscribe_resource(f"run://{run_id}/report")
        await client.subscribe_resource("skill://sheets/SKILL.md")
        assert updated == []  # the proposals are held: nothing has ended yet
        fleet.gate.set()
        with anyio.fail_after(60):
            while len(updated) < 2:
                await arrived.wait()
                arrived = anyio.Event()
    assert sorted(updated) == sorted([f"run://{run_id}/report", "skill://sheets/SKILL.md"])


async def test_a_background_run_that_cannot_start_says_why_in_one_line_and_records_nothing(
    server: Trace2SkillServer, fleet_home: Home, connect: Connect
) -> None:
    async with connect(server) as client:
        missing = await client.call_tool("evolve_skill", {**EVOLVE, "name": "nope", "background": True})
        runs = _data(await client.call_tool("list_runs", {}))["runs"]
    assert missing.is_error and _text(missing).startswith("no skill named 'nope' to deepen")
    assert len(_text(missing).splitlines()) == 1 and runs == []


async def test_a_background_run_may_not_borrow_the_clients_model_through_sampling(fleet_home: Home) -> None:
    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> Any:
        raise AssertionError("a background run must not ask the client")

    server = create_server(ServerConfig(home=fleet_home))
    async with Client(server, mode="legacy", sampling_callback=sampling) as client:
        refused = await client.call_tool("evolve_skill", {"name": "sheets", "background": True})
        runs = _data(await client.call_tool("list_runs", {}))["runs"]
    assert refused.is_error and "a background run cannot use the client's model through sampling" in _text(refused)
    assert runs == []


async def test_over_streamable_http_a_background_run_outlives_its_session_and_is_interrupted_when_the_server_stops(
    fleet_home: Home, fleet: GatedFleet, llm_url: str, mode: str
) -> None:
    token = "test-token-0123456789abcdef"
    config = ServerConfig(home=fleet_home, model=f"anthropic:fleet@{llm_url}")
    endpoint = build_http(config, host="127.0.0.1", port=0, token=token)

    def client() -> Client:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        return Client(streamable_http_client(endpoint.url, http_client=http), mode=mode)

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_http, endpoint)
        async with client() as first:
            run_id = _data(await first.call_tool("evolve_skill", {**EVOLVE, "background": True}))["run_id"]
            await _held(fleet)
            await _analysed(first, run_id)
        async with client() as second:  # a new session, after the first has ended
            status = _data(await second.call_tool("evolution_status", {"run_id": run_id}))
        tg.cancel_scope.cancel()  # the server stops
    assert status["status"] == "running" and status["in_this_server"] and status["background"]
    ws = _store(fleet_home)
    try:
        assert ws.traces.get_run(run_id)["status"] == "interrupted" and len(ws.traces.analyses(run_id)) == 4
        assert ws.skills.published_version("sheets") == 1
    finally:
        ws.close()
