"""Per-stage models and output budgets: the analysts and the editor may be different models, each stage
has its own output cap, and a resumed run opens the same models again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.doubles.llmserver import FakeLLMServer, ServerRequest
from tests.doubles.scripted import ScriptedProvider
from tests.doubles.simulated import make_skill, make_trajectories, server_handler

from trace2skill.evolve import evolve_async
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.stages import OutputBudgets, StageLLM
from trace2skill.home import Home
from trace2skill.llm import LLM, ChatMessage, ChatRequest
from trace2skill.models import EvolutionConfig
from trace2skill.workspace import Workspace

EDITOR_ROLES = ("# Role: skill editor", "You correct the anchors", "You repair an Agent Skill")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(Home(tmp_path / "home"))
    workspace.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    workspace.traces.add_many(make_trajectories(10, seed=3))
    yield workspace
    workspace.close()


def _kind(req: ServerRequest) -> str:
    first = req.system.partition("\n")[0]
    return "editor" if first.startswith(EDITOR_ROLES) else "analyst" if "analyst" in first else "other"


@pytest.mark.anyio
async def test_analysts_and_editor_reach_the_server_as_their_own_models_with_their_own_budgets(ws: Workspace) -> None:
    with FakeLLMServer(server_handler) as server:
        config = EvolutionConfig(
            skill="sheets",
            model=f"anthropic:analyst-model@{server.url}",
            merge_model=f"openai:editor-model@{server.url}/v1",
            temperature=0.3,
        )
        report = await evolve_async(config, workspace=ws)
    assert report.status == "succeeded", report.error
    assert report.calls == server.count  # both models' call logs were written before the report was made
    kinds: dict[str, list[ServerRequest]] = {"analyst": [], "editor": [], "other": []}
    for req in server.requests:
        kinds[_kind(req)].append(req)
    assert kinds["analyst"] and kinds["editor"] and not kinds["other"]
    assert {(r.protocol, r.model) for r in kinds["analyst"]} == {("anthropic", "analyst-model")}
    assert {(r.protocol, r.model) for r in kinds["editor"]} == {("openai", "editor-model")}
    assert {r.body["max_tokens"] for r in kinds["analyst"]} == {8192}
    merges = [r for r in kinds["editor"] if "(merge)" in r.system.partition("\n")[0]]
    assert merges and {r.body["max_tokens"] for r in merges} == {16384}
    assert {r.body.get("temperature") for r in kinds["editor"]} == {0.3}  # OpenAI takes a temperature
    assert all("temperature" not in r.body for r in kinds["analyst"])  # Anthropic's API here takes none
    logged = {c["model"] for c in ws.traces.calls(report.run_id)}
    assert logged == {"analyst-model", "editor-model"}


@pytest.mark.anyio
async def test_a_resumed_run_opens_the_models_it_was_started_with(ws: Workspace) -> None:
    with FakeLLMServer(server_handler) as server:
        config = EvolutionConfig(
            skill="sheets",
            model=f"anthropic:analyst-model@{server.url}",
            merge_model=f"anthropic:editor-model@{server.url}",
            budget_tokens=1,
        )
        stopped = await evolve_async(config, workspace=ws)
        assert stopped.status == "failed" and "budget" in (stopped.error or "")
        first = server.count
        resumed = await evolve_async(EvolutionConfig(skill="sheets"), workspace=ws, resume=stopped.run_id)
    assert resumed.status == "succeeded", resumed.error
    later = server.requests[first:]
    assert {r.model for r in later if _kind(r) == "analyst"} == {"analyst-model"}
    assert {r.model for r in later if _kind(r) == "editor"} == {"editor-model"}


def test_each_stage_has_its_own_output_budget_and_the_budgets_can_be_overridden() -> None:
    ctx = RunContext("r", EvolutionConfig(skill="sheets"), LLM(ScriptedProvider([])), make_skill())
    hello = [ChatMessage(role="user", content="hi")]
    caps = {
        role: ctx.request(role, hello, purpose="p").max_tokens
        for role in ("error_analyst", "proposer.success", "merger.mixed")
    }
    assert caps == {"error_analyst": 8192, "proposer.success": 8192, "merger.mixed": 16384}
    bigger = RunContext("r", ctx.config, ctx.llm, ctx.base, budgets=OutputBudgets(merge=32_000))
    assert bigger.request("merger.failure", hello, purpose="merge").max_tokens == 32_000


@pytest.mark.anyio
async def test_steps_that_build_their_own_requests_get_the_stage_budget_and_temperature() -> None:
    seen: list[ChatRequest] = []
    llm = LLM(ScriptedProvider(lambda req: seen.append(req) or {"note": "ok"}))
    config = EvolutionConfig(skill="sheets", temperature=0.7)
    editor = RunContext("r", config, LLM(ScriptedProvider([])), make_skill(), editor_llm=llm).llm_for("repair")
    assert isinstance(editor, StageLLM) and editor.llm is llm
    await editor.chat(ChatRequest(messages=[ChatMessage(role="user", content="fix")], max_tokens=2048))
    assert (seen[0].max_tokens, seen[0].temperature) == (8192, 0.7)
