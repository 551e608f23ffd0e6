"""The agent runner over the local protocol server: the real anthropic SDK client, a real sandbox, a real store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.bench.conftest import SKILL, fake_agent, skill_teaching, write_suite
from tests.doubles.llmserver import FakeLLMServer, Reply, ServerRequest
from tests.doubles.simulated import make_skill

from trace2skill.bench.rollouts import run_arm
from trace2skill.bench.runner import Arm, RolloutSettings, extract_answer, rollout, system_prompt
from trace2skill.bench.suites import Suite, Task, load_jsonl_suite
from trace2skill.home import Home
from trace2skill.llm import open_llm
from trace2skill.models import ToolResultPart, Trajectory
from trace2skill.sandbox import SandboxLimits, available_modes
from trace2skill.workspace import Workspace

pytestmark = pytest.mark.anyio


def _model(server: FakeLLMServer) -> str:
    return f"anthropic:claude-sonnet-4-5@{server.url}"


def _commands_then_answer(*commands: str) -> Callable[[ServerRequest], Any]:
    """An agent that runs `commands` one per turn, then answers."""

    def handler(req: ServerRequest) -> Any:
        turn = sum(1 for m in req.messages if m.get("role") == "assistant")
        if turn < len(commands):
            return Reply(tool_calls=[{"name": "bash", "arguments": {"command": commands[turn]}}])
        return Reply(text="ANSWER: done")

    return handler


def _outputs(trajectory: Trajectory) -> list[str]:
    return [p.output_text for m in trajectory.messages for p in m.content if isinstance(p, ToolResultPart)]


def _one_task_suite(tmp_path: Path, *, files: dict[str, Any] | None = None) -> tuple[Suite, Task]:
    task = Task(id="t1", prompt="Do it.", reference="done", evaluator="exact", split="test", files=files or {})
    return Suite(name="one", description="one task", tasks=[task], tools=True), task


async def _run(server: FakeLLMServer, suite: Suite, task: Task, arm: Arm, **settings: Any) -> Trajectory:
    llm = open_llm(_model(server))
    try:
        return await rollout(suite, task, arm, llm, RolloutSettings(model=_model(server), **settings), run_id="b_test")
    finally:
        await llm.aclose()


def test_every_arm_shares_every_word_of_the_prompt_but_the_skill_block() -> None:
    skill = make_skill(SKILL)
    bare, with_skill = system_prompt(Arm("none"), tools=True), system_prompt(Arm("before", skill, 1), tools=True)
    assert with_skill.startswith(bare + "\n\n") and '<skill name="sheets"' in with_skill
    assert "Keep formulas intact." in with_skill and "name: sheets" not in with_skill  # the body, not the frontmatter
    assert "skills/sheets/" in with_skill and "references/api.md" in with_skill


@pytest.mark.parametrize(
    ("text", "answer"),
    [("I looked.\nANSWER: 42", "42"), ("**Answer:** `Paris`", "Paris"), ("just this", "just this"), ("", "")],
)
def test_the_final_answer_is_the_last_answer_line_or_the_last_line(text: str, answer: str) -> None:
    assert extract_answer(text) == answer


async def test_a_tool_run_executes_in_the_sandbox_and_is_recorded_with_version_tags_outcome_and_files(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    suite = load_jsonl_suite(write_suite(tmp_path, n_evolve=2, n_test=2, tools=True))
    skill = skill_teaching("units")
    ws = Workspace.open(Home(tmp_path / "home"))
    version = ws.skills.commit(skill, parent=None, author="human", changelog=["import"]).version
    llm = open_llm(_model(server))
    try:
        runs = await run_arm(
            ws, suite, suite.split("test"), Arm("before", skill, version), llm,
            RolloutSettings(model=_model(server)), seed=3, tags=("bench:b_test",),
        )  # fmt: skip
    finally:
        await llm.aclose()
    units, totals = (runs.runs[t.id] for t in suite.split("test"))
    assert units.outcome.status == "success" and totals.outcome.status == "failure"  # the skill teaches units only
    stored = ws.traces.get(units.id or "")
    assert stored.skill == SKILL and stored.skill_version == version
    assert {"suite:toy", "split:test", "arm:before", "seed:3", "bench:b_test"} <= set(stored.tags)
    assert stored.reference == {"files": {"out.txt": "right-1000"}} and stored.metadata["evaluator"] == "exact"
    assert [(a.name, a.content) for a in stored.artifacts] == [("out.txt", "right-1000")]
    assert stored.metadata["sandbox"] in available_modes() and stored.metadata["turns"] == 2
    assert stored.outcome.judged_by == "evaluator:exact"
    assert "right-1001" not in (totals.outcome.feedback or "")  # the scorer never shows the reference
    calls = [p for m in stored.messages for p in m.content if getattr(p, "type", "") == "tool_call"]
    assert calls and "printf 'right-1000' > out.txt" in json.dumps(calls[0].arguments)
    ws.close()


async def test_a_second_pass_reuses_stored_runs_and_sends_no_request(tmp_path: Path, server: FakeLLMServer) -> None:
    suite = load_jsonl_suite(write_suite(tmp_path, n_evolve=2, n_test=3))
    ws = Workspace.open(Home(tmp_path / "home"))
    llm = open_llm(_model(server))
    settings = RolloutSettings(model=_model(server))
    try:
        first = await run_arm(ws, suite, suite.split("test"), Arm("none"), llm, settings)
        count = server.count
        second = await run_arm(ws, suite, suite.split("test"), Arm("none"), llm, settings)
    finally:
        await llm.aclose()
    assert first.reused == 0 and second.reused == 3 and server.count == count == 3
    assert second.outcomes() == first.outcomes() == {"t1000": False, "t1001": False, "t1002": False}
    ws.close()


async def test_a_command_that_hangs_is_stopped_and_the_agent_goes_on(tmp_path: Path) -> None:
    suite, task = _one_task_suite(tmp_path)
    with FakeLLMServer(_commands_then_answer("sleep 30", "echo after")) as server:
        run = await _run(server, suite, task, Arm("none"), limits=SandboxLimits(timeout_s=1))
    hung, after = _outputs(run)
    assert "[stopped: timeout after 1 s]" in hung and "after" in after
    assert run.outcome.status == "success" and run.metadata["seconds"] < 15


async def test_a_memory_blow_up_is_stopped(tmp_path: Path) -> None:
    suite, task = _one_task_suite(tmp_path)
    grab = "python3 -c \"b = bytearray(1024 * 1024 * 1024); print('allocated')\""
    with FakeLLMServer(_commands_then_answer(grab)) as server:
        run = await _run(server, suite, task, Arm("none"), limits=SandboxLimits(memory_mb=256))
    (output,) = _outputs(run)
    assert "allocated" not in output.split("[stderr]")[0] and "memory" in output.lower()


@pytest.mark.skipif("bwrap" not in available_modes(), reason="bubblewrap (bwrap) is not usable on this machine")
async def test_a_write_outside_the_work_folder_is_stopped(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    suite, task = _one_task_suite(tmp_path)
    with FakeLLMServer(_commands_then_answer(f"echo x > {outside}/escaped.txt; echo x > /etc/escaped.txt")) as server:
        run = await _run(server, suite, task, Arm("none"), sandbox_mode="bwrap")
    assert not (outside / "escaped.txt").exists() and not Path("/etc/escaped.txt").exists()
    assert "Read-only file system" in _outputs(run)[0]


async def test_provider_keys_are_not_visible_to_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret-value")
    monkeypatch.setenv("TRACE2SKILL_HOME", str(tmp_path / "elsewhere"))
    suite, task = _one_task_suite(tmp_path)
    with FakeLLMServer(_commands_then_answer("env")) as server:
        run = await _run(server, suite, task, Arm("none"))
    (output,) = _outputs(run)
    assert "PATH=" in output
    for leaked in ("sk-ant-secret-value", "sk-openai-secret-value", "TRACE2SKILL_HOME", "API_KEY"):
        assert leaked not in output


async def test_a_model_that_never_answers_fails_with_one_line(tmp_path: Path) -> None:
    suite, task = _one_task_suite(tmp_path)
    with FakeLLMServer(_commands_then_answer(*["true"] * 10)) as server:
        run = await _run(server, suite, task, Arm("none"), max_turns=3)
    assert run.outcome.status == "failure" and run.final_answer is None
    assert (run.outcome.feedback or "").startswith("no final answer within 3 turns")


async def test_missing_task_files_give_an_unknown_outcome_without_calling_the_model(tmp_path: Path) -> None:
    suite, task = _one_task_suite(tmp_path, files={"in.xlsx": tmp_path / "gone.xlsx"})
    with FakeLLMServer(fake_agent) as server:
        run = await _run(server, suite, task, Arm("none"))
        assert server.count == 0
    assert run.outcome.status == "unknown" and run.outcome.feedback == "task files missing: in.xlsx"


async def test_a_scorer_that_raises_gives_an_unknown_outcome(tmp_path: Path) -> None:
    task = Task(id="t1", prompt="Do it.", reference=None, evaluator="exact", split="test")
    suite = Suite(name="one", description="", tasks=[task], tools=False)
    with FakeLLMServer(fake_agent) as server:
        run = await _run(server, suite, task, Arm("none"))
    assert run.outcome.status == "unknown" and (run.outcome.feedback or "").startswith("scorer exact failed:")


async def test_an_unknown_scorer_name_is_an_unknown_outcome_naming_it(tmp_path: Path) -> None:
    task = Task(id="t1", prompt="Do it.", reference="x", evaluator="no-such-scorer", split="test")
    suite = Suite(name="one", description="", tasks=[task], tools=False)
    with FakeLLMServer(fake_agent) as server:
        run = await _run(server, suite, task, Arm("none"))
    assert run.outcome.status == "unknown" and "no-such-scorer" in (run.outcome.feedback or "")
