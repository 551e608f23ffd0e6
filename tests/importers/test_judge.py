from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.doubles.llmserver import FakeLLMServer, Fault, Reply

from trace2skill.importers.judge import judge_many, judge_trajectory, render_for_judge
from trace2skill.llm import open_llm
from trace2skill.models import Trajectory


def run(task: str, output: str, is_error: bool, reference: Any = None) -> Trajectory:
    return Trajectory.model_validate(
        {
            "id": f"run-{abs(hash(task)) % 10_000}",
            "task": task,
            "reference": reference,
            "messages": [
                {"role": "user", "content": task},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"cmd": "make"}}],
                },
                {
                    "role": "tool",
                    "content": [{"type": "tool_result", "tool_call_id": "c1", "output": output, "is_error": is_error}],
                },
                {"role": "assistant", "content": "All done!"},
            ],
            "final_answer": "All done!",
        }
    )


def verdicts(req: Any) -> Any:
    text = req.last_user_text
    if "BROKEN" in text:
        return Fault.error(400, "bad request")
    if "tool result ERROR" in text:
        return Reply(data={"status": "failure", "score": 0.0, "feedback": "make failed with exit 2 at [2]"})
    return Reply(data={"status": "success", "score": 1.0, "feedback": "the build passed"})


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(verdicts) as s:
        yield s


def test_the_rendering_shows_errors_the_reference_and_clips_long_outputs() -> None:
    t = run("Build it", "x" * 50_000 + "TAILEND", True, reference={"expected": "a green build"})
    text = render_for_judge(t)
    assert "# Task\n<run_data>\nBuild it\n</run_data>" in text and "tool result ERROR" in text
    assert "# Reference (expected result)" in text and "a green build" in text
    assert "characters omitted" in text and "TAILEND" in text
    assert len(text) < 20_000


@pytest.mark.anyio
async def test_a_judged_outcome_records_which_model_judged(server: FakeLLMServer, home: object) -> None:
    llm = open_llm(f"anthropic:claude-judge@{server.url}")
    try:
        outcome = await judge_trajectory(
            llm, run("Build the project", "Error 2: make failed", True), f"anthropic:claude-judge@{server.url}"
        )
    finally:
        await llm.aclose()
    assert (outcome.status, outcome.score) == ("failure", 0.0)
    assert outcome.judged_by == "model:anthropic:claude-judge"
    assert "exit 2" in (outcome.feedback or "")
    (request,) = server.requests
    assert "Build the project" in request.last_user_text and request.schema is not None


@pytest.mark.anyio
async def test_one_failed_judgement_does_not_stop_the_others(server: FakeLLMServer, home: object) -> None:
    llm = open_llm(f"anthropic:claude-judge@{server.url}")
    runs = [run("Build A", "ok", False), run("Build BROKEN", "ok", False), run("Build C", "boom", True)]
    try:
        results = await judge_many(llm, runs, "anthropic:claude-judge", concurrency=2)
    finally:
        await llm.aclose()
    by_id = {ident: (outcome, error) for ident, outcome, error in results}
    assert by_id[runs[0].id][0].status == "success"  # type: ignore[union-attr]
    assert by_id[runs[2].id][0].status == "failure"  # type: ignore[union-attr]
    assert by_id[runs[1].id][0] is None and by_id[runs[1].id][1]
