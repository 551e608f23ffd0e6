from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.doubles.scripted import ScriptedProvider
from tests.doubles.simulated import chat_handler, make_skill, make_trajectories

from trace2skill.evolve.analysts import ERROR_TOOLS, analyse
from trace2skill.evolve.context import RunContext
from trace2skill.llm import LLM, ChatRequest, ChatResponse, ToolCall
from trace2skill.models import EvolutionConfig, Trajectory

LESSON = {"title": "Check the sum", "description": "for totals", "content": "Add the rows yourself."}


def _ctx(handler: Callable[[ChatRequest], Any], **config: Any) -> tuple[RunContext, ScriptedProvider]:
    provider = ScriptedProvider(handler)
    cfg = EvolutionConfig(skill="sheets", **config)
    return RunContext("r_test", cfg, LLM(provider), make_skill()), provider


def _failure(evaluator: str | None = "exact", **kw: Any) -> Trajectory:
    runs = make_trajectories(12, failure_share=1.0, evaluator=evaluator, **kw)
    return runs[3]


def _call(name: str, args: dict[str, Any], n: int = 0) -> ChatResponse:
    return ChatResponse(tool_calls=[ToolCall(id=f"c{n}", name=name, arguments=args)])


def _submit(lessons: list[dict[str, str]] | None = None, causes: list[dict[str, str]] | None = None) -> ChatResponse:
    args = {
        "causes": causes or [{"title": "wrong sum", "description": "added a header row"}],
        "lessons": lessons or [LESSON],
    }
    return _call("submit_analysis", args)


@pytest.mark.anyio
async def test_error_analyst_stops_at_the_turn_limit_with_one_forced_final_turn() -> None:
    ctx, provider = _ctx(lambda req: _call("read_steps", {"start": 0}), max_analyst_turns=3)
    analysis = await analyse(ctx, _failure(), 0)
    assert len(provider.requests) == 4
    assert [r.tool_choice for r in provider.requests] == [None, None, None, "submit_analysis"]
    assert analysis.turns == 4 and analysis.lessons == []
    assert any("no analysis submitted" in d for d in analysis.dropped)


@pytest.mark.anyio
async def test_an_unconfirmed_failure_gets_one_reminder_then_yields_causes_but_no_lessons() -> None:
    ctx, provider = _ctx(lambda req: _submit())
    analysis = await analyse(ctx, _failure(), 0)
    assert len(provider.requests) == 2
    reminder = provider.requests[1].messages[-1]
    assert reminder.role == "tool" and reminder.is_error and "No fix has passed" in reminder.content
    assert analysis.confirmed is False
    assert analysis.lessons == [] and [c.title for c in analysis.causes] == ["wrong sum"]
    assert any("no fix passed the evaluator" in d for d in analysis.dropped)


@pytest.mark.anyio
async def test_without_the_gate_unconfirmed_lessons_are_kept() -> None:
    ctx, provider = _ctx(lambda req: _submit(), require_confirmed_fix=False)
    analysis = await analyse(ctx, _failure(), 0)
    assert len(provider.requests) == 1
    assert [lesson.title for lesson in analysis.lessons] == ["Check the sum"]


@pytest.mark.anyio
async def test_a_fix_counts_as_confirmed_only_when_the_evaluator_passed_it() -> None:
    claims = {"causes": [], "lessons": [LESSON], "fix_confirmed": True}
    ctx, _ = _ctx(lambda req: _call("submit_analysis", claims), require_confirmed_fix=False)
    assert (await analyse(ctx, _failure(), 0)).confirmed is False


@pytest.mark.anyio
async def test_the_simulated_analyst_confirms_its_fix_through_the_evaluator_and_keeps_its_lesson() -> None:
    ctx, provider = _ctx(chat_handler)
    analysis = await analyse(ctx, _failure(), 0)
    assert analysis.confirmed is True and len(analysis.lessons) == 1
    assert analysis.turns == 3 and len(provider.requests) == 3
    outputs = [m.content for m in provider.requests[-1].messages if m.role == "tool"]
    assert any(o.startswith("FAIL") for o in outputs) and any(o.startswith("PASS") for o in outputs)


@pytest.mark.anyio
async def test_the_reference_never_reaches_the_analyst_not_even_through_the_evaluator() -> None:
    trajectory = _failure()
    ctx, provider = _ctx(chat_handler)
    analysis = await analyse(ctx, trajectory, 0)
    reference = str(trajectory.reference)
    assert analysis.confirmed  # the analyst found the fix itself; the evaluator only said FAIL, then PASS
    shown = [r.system for r in provider.requests] + [m.content for r in provider.requests for m in r.messages]
    assert not any(reference in text for text in shown)


@pytest.mark.anyio
async def test_lessons_quoting_the_reference_are_dropped_and_causes_are_masked() -> None:
    trajectory = _failure()
    reference = str(trajectory.reference)

    def leaky(req: ChatRequest) -> Any:
        reply = chat_handler(req)
        if isinstance(reply, ChatResponse) and reply.tool_calls[0].name == "submit_analysis":
            leak = {"title": "Answer", "description": "always", "content": f"The answer is {reference}."}
            cause = {"title": f"Wrote something other than {reference}", "description": "wrong row"}
            return _submit([leak, LESSON], [cause])
        return reply

    ctx, _ = _ctx(leaky)
    analysis = await analyse(ctx, trajectory, 0)
    assert [lesson.title for lesson in analysis.lessons] == ["Check the sum"]
    assert any("quotes the reference" in d for d in analysis.dropped)
    assert reference not in analysis.causes[0].title and "<expected value>" in analysis.causes[0].title


@pytest.mark.anyio
async def test_at_most_three_lessons_are_kept() -> None:
    five = [{"title": f"L{i}", "description": "d", "content": "c"} for i in range(5)]
    ctx, provider = _ctx(lambda req: {"solution_path": "a, b", "lessons": five})
    success = next(t for t in make_trajectories(10) if t.outcome.status == "success")
    analysis = await analyse(ctx, success, 0)
    assert len(provider.requests) == 1 and provider.requests[0].purpose == "analyse.success"
    assert [lesson.title for lesson in analysis.lessons] == ["L0", "L1", "L2"]
    assert any("over the limit of 3" in d for d in analysis.dropped)


@pytest.mark.anyio
async def test_with_the_single_analyst_a_failure_is_analysed_in_one_call_without_tools() -> None:
    ctx, provider = _ctx(chat_handler, analyst="single")
    analysis = await analyse(ctx, _failure(), 0)
    assert len(provider.requests) == 1
    assert provider.requests[0].tools == [] and provider.requests[0].response_schema is not None
    assert analysis.mode == "single" and analysis.confirmed is None and len(analysis.lessons) == 1


@pytest.mark.anyio
async def test_tool_errors_go_back_to_the_model_as_errors() -> None:
    script = iter(
        [_call("read_artifact", {"name": "nope.xlsx"}), _call("read_steps", {"start": 1, "end": 2}), _submit()]
    )
    ctx, provider = _ctx(lambda req: next(script), require_confirmed_fix=False)
    await analyse(ctx, _failure(), 0)
    artifact = provider.requests[1].messages[-1]
    assert artifact.is_error and "no artifact named 'nope.xlsx'" in artifact.content
    steps = provider.requests[2].messages[-1]
    assert not steps.is_error and steps.content.startswith("<run_data>\n[1] assistant")


@pytest.mark.anyio
async def test_every_analyst_call_of_a_run_shares_one_byte_identical_prefix() -> None:
    ctx, provider = _ctx(chat_handler)
    for i, trajectory in enumerate(make_trajectories(6, failure_share=1.0)):
        await analyse(ctx, trajectory, i)
    assert len(provider.requests) == 18
    assert len({r.system for r in provider.requests}) == 1
    assert all(r.tools == ERROR_TOOLS for r in provider.requests)
    assert "# The skill (frozen for this run)" in provider.requests[0].system
