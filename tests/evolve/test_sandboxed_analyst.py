"""The agentic error analyst proves its diagnosis in a sandbox over a copy of the run's files.

Every test goes through the real `anthropic` SDK client against the local protocol server, a real
sandbox (bwrap where it works here, else a child process) and the real scorers; the pipeline tests
add a real SQLite store. The scripted analyst below plays the model: one list of tool calls per turn.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from tests.doubles.llmserver import FakeLLMServer, Fault, Reply, ServerRequest
from tests.doubles.simulated import make_skill, make_trajectories, server_handler

from trace2skill.errors import ProviderError
from trace2skill.evolve import estimate, evolve_async
from trace2skill.evolve.analysts import analyse
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.estimate import EXPECTED_JUDGE_CALLS, EXPECTED_TURNS
from trace2skill.evolve.evaluation import JUDGE_PURPOSE
from trace2skill.evolve.schemas import Analysis
from trace2skill.evolve.workfolder import open_work_folder
from trace2skill.home import Home
from trace2skill.llm import RetryPolicy, open_llm
from trace2skill.models import Artifact, EvolutionConfig, Trajectory
from trace2skill.sandbox import available_modes
from trace2skill.workspace import Workspace

ANALYST = "# Role: error analyst (with evaluator)"
JUDGE = "# Role: judge"
LESSON = {"title": "Sum every data row", "description": "when a total is asked", "content": "Add rows 1 to 3."}
VALUES = (1200, 345, 78)  # the golden total 1623 is never shown to the analyst
OUTPUT = "1_output.xlsx"
FIX = (
    "python3 -c \"import openpyxl; wb = openpyxl.load_workbook('input.xlsx'); ws = wb['Sheet1']; "
    f"ws['B1'] = sum(ws.cell(row=r, column=1).value for r in (1, 2, 3)); wb.save('{OUTPUT}')\""
)
WRONG_FIX = f"python3 -c \"import openpyxl; wb = openpyxl.load_workbook('input.xlsx'); wb.save('{OUTPUT}')\""
PLANTED_KEY = "sk-ant-planted-0123456789"

Turn = list[tuple[str, dict[str, Any]]]


# --- a small spreadsheet task -------------------------------------------------------------------------------


def _workbook(total: int | None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for row, value in enumerate(VALUES, start=1):
        ws.cell(row=row, column=1, value=value)
    if total is not None:
        ws["B1"] = total
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _xlsx_failure(folder: Path, **extra_files: str) -> tuple[Trajectory, Path]:
    """A run that wrote a wrong total into B1 of its output; the golden workbook lives outside the run."""
    (folder / "task").mkdir()
    (folder / "gold").mkdir()
    source = folder / "task" / "input.xlsx"
    source.write_bytes(_workbook(None))
    golden = folder / "gold" / "1_golden.xlsx"
    golden.write_bytes(_workbook(sum(VALUES)))
    wrong = _workbook(sum(VALUES[:2]))
    task = f"Write the total of column A of Sheet1 into B1 and save the workbook as {OUTPUT}."
    trajectory = Trajectory.model_validate(
        {
            "id": "tr-xlsx-1",
            "task": task,
            "skill": "sheets",
            "messages": [
                {"role": "user", "content": task},
                {"role": "assistant", "content": "I summed rows 1 and 2 and saved the workbook."},
            ],
            "outcome": {"status": "failure", "score": 0.0, "feedback": f"{OUTPUT}: cells in B1 differ"},
            "reference": {
                "answer_position": "B1",
                "answer_sheet": "Sheet1",
                "cases": [{"output": OUTPUT, "golden": str(golden)}],
            },
            "artifacts": [{"name": OUTPUT, "content": base64.b64encode(wrong).decode(), "encoding": "base64"}],
            "metadata": {"evaluator": "xlsx-cells", "task_files": {"input.xlsx": str(source), **extra_files}},
        }
    )
    return trajectory, golden


def _answer_failure(evaluator: str, reference: Any, answer: str) -> Trajectory:
    task = "Which cities of the table have more than a million inhabitants?"
    return Trajectory.model_validate(
        {
            "id": f"tr-{evaluator}-1",
            "task": task,
            "skill": "sheets",
            "messages": [{"role": "user", "content": task}, {"role": "assistant", "content": f"ANSWER: {answer}"}],
            "outcome": {"status": "failure", "score": 0.0},
            "final_answer": answer,
            "reference": reference,
            "metadata": {"evaluator": evaluator},
        }
    )


# --- the scripted analyst -------------------------------------------------------------------------------------


def _turns(req: ServerRequest) -> int:
    return sum(1 for m in req.messages if m.get("role") == "assistant")


def _tool_outputs(req: ServerRequest) -> list[str]:
    """What the tools answered, in order, over the whole conversation."""
    outputs: list[str] = []
    for message in req.messages:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                outputs.append(inner if isinstance(inner, str) else "".join(b.get("text", "") for b in inner or []))
    return outputs


def _submit(fix_confirmed: bool = True) -> Turn:
    causes = [{"title": "Left out a row", "description": "step 1 summed two rows of three"}]
    return [("submit_analysis", {"causes": causes, "lessons": [LESSON], "fix_confirmed": fix_confirmed})]


def scripted(*turns: Turn | Callable[[ServerRequest], Turn]) -> Callable[[ServerRequest], Any]:
    """A handler playing the analyst turn by turn (a turn may be computed from the request); the last turn repeats."""

    def handler(req: ServerRequest) -> Any:
        if req.system.startswith(ANALYST):
            turn = turns[min(_turns(req), len(turns) - 1)]
            calls = turn(req) if callable(turn) else turn
            return Reply(tool_calls=[{"name": name, "arguments": args} for name, args in calls])
        return server_handler(req)

    return handler


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(server_handler) as s:
        yield s


def _model(server: FakeLLMServer) -> str:
    return f"anthropic:claude-sonnet-4-5@{server.url}"


async def _analyse(server: FakeLLMServer, trajectory: Trajectory, **config: Any) -> Analysis:
    llm = open_llm(_model(server), retry=RetryPolicy(max_attempts=1))
    try:
        ctx = RunContext("r_test", EvolutionConfig(skill="sheets", **config), llm, make_skill())
        return await analyse(ctx, trajectory, 0)
    finally:
        await llm.aclose()


def _analyst_requests(server: FakeLLMServer) -> list[ServerRequest]:
    return [r for r in server.requests if r.system.startswith(ANALYST)]


# --- proving a fix ----------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_analyst_that_writes_a_corrected_workbook_in_the_sandbox_gets_its_fix_confirmed_by_the_scorer(
    server: FakeLLMServer, tmp_path: Path
) -> None:
    trajectory, _ = _xlsx_failure(tmp_path)
    server.handler = scripted(
        [("evaluate", {"files": [OUTPUT]})],  # the agent's own output first
        [("run", {"command": FIX}), ("evaluate", {"files": [OUTPUT]})],
        _submit(),
    )
    analysis = await _analyse(server, trajectory)
    assert analysis.confirmed is True and [lesson.title for lesson in analysis.lessons] == [LESSON["title"]]
    assert analysis.evaluator == "xlsx-cells" and analysis.sandbox in available_modes()
    verdicts = [o for o in _tool_outputs(_analyst_requests(server)[-1]) if o.startswith(("PASS", "FAIL"))]
    assert verdicts[0].startswith("FAIL") and "B1" in verdicts[0] and verdicts[-1].startswith("PASS")


@pytest.mark.anyio
async def test_the_first_message_lists_the_work_folder_and_says_how_to_page_through_the_steps(
    server: FakeLLMServer, tmp_path: Path
) -> None:
    trajectory, _ = _xlsx_failure(tmp_path, **{"notes.csv": str(tmp_path / "gone" / "notes.csv")})
    server.handler = scripted(_submit(fix_confirmed=False))
    await _analyse(server, trajectory, require_confirmed_fix=False)
    first = _analyst_requests(server)[0].texts[1]
    assert "Steps: 2, numbered 0 to 1" in first and "read_steps(start, end)" in first
    assert re.search(r"- input\.xlsx \([\d,]+ bytes\): task input", first)
    assert re.search(rf"- {re.escape(OUTPUT)} \([\d,]+ bytes\): written by the agent", first)
    assert "notes.csv (no longer exists)" in first
    assert {t["name"] for t in _analyst_requests(server)[0].tools} == {
        "read_steps",
        "read_artifact",
        "run",
        "evaluate",
        "submit_analysis",
    }


@pytest.mark.anyio
async def test_a_claimed_fix_without_a_passing_evaluation_is_not_confirmed_and_gives_no_lessons(
    server: FakeLLMServer, tmp_path: Path
) -> None:
    trajectory, _ = _xlsx_failure(tmp_path)
    server.handler = scripted(
        [("run", {"command": WRONG_FIX}), ("evaluate", {"files": [OUTPUT]})],
        _submit(fix_confirmed=True),
    )
    analysis = await _analyse(server, trajectory)
    assert analysis.confirmed is False and analysis.lessons == []
    assert [c.title for c in analysis.causes] == ["Left out a row"]
    assert any("no fix passed the evaluator" in note for note in analysis.dropped)
    reminder = _tool_outputs(_analyst_requests(server)[-1])[-1]
    assert "No fix has passed the evaluator yet" in reminder


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("evaluator", "reference", "answer"),
    [("wikitq", ["Lyon", "Marseille"], "Paris"), ("exact", "Marseille", "Paris")],
)
async def test_an_analyst_that_copies_the_scorers_feedback_into_its_answer_cannot_confirm_a_fix(
    server: FakeLLMServer, evaluator: str, reference: Any, answer: str
) -> None:
    def copy_feedback(req: ServerRequest) -> Turn:
        feedback = _tool_outputs(req)[-1]
        lines = [line.strip("- ").strip() for line in feedback.splitlines()[1:] if line.strip()]
        return [("evaluate", {"answer": text}) for text in [feedback, *lines]]

    server.handler = scripted([("evaluate", {"answer": answer})], copy_feedback, _submit(fix_confirmed=True))
    analysis = await _analyse(server, _answer_failure(evaluator, reference, answer))
    assert analysis.confirmed is False and analysis.lessons == []
    outputs = _tool_outputs(_analyst_requests(server)[-1])
    verdicts = [o for o in outputs if o.startswith(("PASS", "FAIL"))]
    assert len(verdicts) >= 3 and all(v.startswith("FAIL") for v in verdicts)
    for value in reference if isinstance(reference, list) else [reference]:
        assert not any(value.lower() in o.lower() for o in outputs)


# --- what the sandbox holds ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mode", available_modes())
async def test_the_golden_workbook_stays_out_of_the_sandbox_and_provider_keys_stay_out_of_commands(
    server: FakeLLMServer, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trace2skill.evolve.workfolder.SANDBOX_MODE", mode)
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLANTED_KEY)
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED_KEY)
    monkeypatch.setenv("MY_SERVICE_TOKEN", PLANTED_KEY)
    trajectory, golden = _xlsx_failure(tmp_path, **{"answer.xlsx": str(tmp_path / "gold" / "1_golden.xlsx")})
    copy = trajectory.artifacts[0].model_copy(
        update={"name": "copy.xlsx", "content": base64.b64encode(golden.read_bytes()).decode()}
    )
    trajectory = trajectory.model_copy(update={"artifacts": [*trajectory.artifacts, copy]})
    server.handler = scripted(
        [("run", {"command": "env"}), ("run", {"command": "find . -type f | sort; sha256sum $(find . -type f)"})],
        _submit(fix_confirmed=False),
    )
    analysis = await _analyse(server, trajectory, require_confirmed_fix=False)
    assert analysis.sandbox == mode
    request = _analyst_requests(server)[-1]
    env, files = _tool_outputs(request)[:2]
    assert "HOME=" in env and PLANTED_KEY not in env and "API_KEY" not in env
    assert "./input.xlsx" in files and f"./{OUTPUT}" in files
    assert "golden" not in files and "answer.xlsx" not in files and "copy.xlsx" not in files
    assert hashlib.sha256(golden.read_bytes()).hexdigest() not in files
    assert "1_golden" not in request.texts[1] and "answer.xlsx" not in request.texts[1]


@pytest.mark.anyio
@pytest.mark.parametrize("ending", ["submitted", "provider error", "cancelled"])
async def test_the_sandbox_is_removed_when_the_analysis_ends(
    server: FakeLLMServer, tmp_path: Path, ending: str
) -> None:
    trajectory, _ = _xlsx_failure(tmp_path)
    then = {"submitted": None, "provider error": Fault.error(400, "bad request"), "cancelled": Fault.hang(60)}[ending]
    pwd_then_submit = scripted([("run", {"command": "pwd"})], _submit(fix_confirmed=False))
    server.handler = lambda req: then if then is not None and _turns(req) > 0 else pwd_then_submit(req)
    task = asyncio.ensure_future(_analyse(server, trajectory, require_confirmed_fix=False))
    if ending == "submitted":
        assert (await task).turns == 2
    elif ending == "provider error":
        with pytest.raises(ProviderError):
            await task
    else:
        while len(server.requests) < 2:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    quoted = _tool_outputs(server.requests[1])[0].splitlines()
    assert quoted[0] == "<run_data>" and quoted[-1] == "</run_data>"  # command output over the run's files is data
    workdir = quoted[1]
    assert "trace2skill-sandbox-" in workdir and not Path(workdir).exists()


@pytest.mark.anyio
async def test_an_input_the_agent_rewrote_is_also_there_as_given_under_original(tmp_path: Path) -> None:
    trajectory, _ = _xlsx_failure(tmp_path)
    rewritten = _workbook(5)
    artifact = Artifact(name="input.xlsx", content=base64.b64encode(rewritten).decode(), encoding="base64")
    folder = await open_work_folder(trajectory.model_copy(update={"artifacts": [artifact]}))
    try:
        assert folder.box is not None and folder.box.read("input.xlsx") == rewritten
        assert folder.box.read("original/input.xlsx") == (tmp_path / "task" / "input.xlsx").read_bytes()
        assert re.search(r"- original/input\.xlsx \([\d,]+ bytes\): task input, as given", folder.describe())
    finally:
        await folder.close()
    assert folder.box.closed


@pytest.mark.anyio
@pytest.mark.parametrize("uses_run", [False, True])
async def test_a_run_without_files_gets_its_empty_folder_only_when_a_command_needs_it(
    server: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uses_run: bool
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))  # where the sandbox would make its folder
    made: list[str] = []

    def look_then_answer(req: ServerRequest) -> Turn:
        made.extend(p.name for p in temp.iterdir())  # the folder exists while the analysis runs, or never
        return [("evaluate", {"answer": "Berlin"})]

    first: Turn = [("run", {"command": "pwd"})] if uses_run else [("evaluate", {"answer": "Paris"})]
    server.handler = scripted(first, look_then_answer, _submit(fix_confirmed=False))
    trajectory = _answer_failure("exact", "Berlin", "Paris")
    analysis = await _analyse(server, trajectory, require_confirmed_fix=False)
    request = _analyst_requests(server)[-1]
    mode = available_modes()[0]
    first_message = request.texts[1]
    assert f"Work folder (sandbox: {mode}," in first_message and "- (empty: the run kept no files)" in first_message
    assert analysis.sandbox == mode and analysis.confirmed and analysis.turns == 3
    outputs = _tool_outputs(request)
    assert outputs[1].startswith("PASS")
    if uses_run:
        workdir = outputs[0].splitlines()[1]
        assert workdir.startswith(str(temp)) and "trace2skill-sandbox-" in workdir
        assert len(made) == 1 and not Path(workdir).exists()  # made for the command, removed at the end
    else:
        assert outputs[0].startswith("FAIL") and made == []  # never needed, never made
    assert list(temp.iterdir()) == []


@pytest.mark.anyio
async def test_without_a_sandbox_the_analysis_goes_on_and_run_says_why(
    server: FakeLLMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trace2skill.evolve.workfolder.SANDBOX_MODE", "no-such-mode")
    trajectory, _ = _xlsx_failure(tmp_path)
    server.handler = scripted([("run", {"command": "ls"})], _submit(fix_confirmed=False))
    analysis = await _analyse(server, trajectory, require_confirmed_fix=False)
    assert analysis.sandbox is None and len(analysis.lessons) == 1
    request = _analyst_requests(server)[-1]
    assert "Work folder: none for this run" in request.texts[1]
    assert _tool_outputs(request)[0].startswith("run is unavailable: the sandbox could not be made")


# --- which analyst, which checker -----------------------------------------------------------------------------


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(Home(tmp_path / "home"))
    workspace.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
    yield workspace
    workspace.close()


async def _evolve(ws: Workspace, server: FakeLLMServer, **config: Any) -> Any:
    llm = open_llm(_model(server), call_log=ws.traces.log_calls, retry=RetryPolicy(max_attempts=1))
    try:
        cfg = EvolutionConfig(skill="sheets", model=_model(server), **config)
        return await evolve_async(cfg, workspace=ws, llm=llm)
    finally:
        await llm.aclose()


@pytest.mark.anyio
async def test_the_single_analyst_sends_one_call_per_failure_and_no_tools(ws: Workspace, server: FakeLLMServer) -> None:
    runs = make_trajectories(8, seed=3)
    ws.traces.add_many(runs)
    failures = sum(1 for t in runs if t.outcome.status == "failure")
    report = await _evolve(ws, server, analyst="single")
    assert report.status == "succeeded"
    analysts = [r for r in server.requests if "error analyst" in r.system.partition("\n")[0]]
    assert len(analysts) == failures > 0
    assert all(r.system.startswith("# Role: error analyst (single pass)") for r in analysts)
    assert all({t["name"] for t in r.tools} <= {r.forced_tool} for r in analysts)  # a structured answer, no tools
    stored = [Analysis.model_validate(a) for a in ws.traces.analyses(report.run_id).values()]
    assert {(a.mode, a.evaluator, a.sandbox) for a in stored if a.kind == "error"} == {("single", None, None)}


@pytest.mark.anyio
async def test_an_agentic_analysis_of_a_failure_without_a_reference_is_checked_by_the_llm_judge(
    ws: Workspace, server: FakeLLMServer
) -> None:
    runs = [t.model_copy(update={"reference": None, "metadata": {}}) for t in make_trajectories(4, failure_share=1.0)]
    ws.traces.add_many(runs)
    report = await _evolve(ws, server)
    assert report.status == "succeeded" and report.calls == server.count
    judged = [r for r in server.requests if r.system.startswith(JUDGE)]
    assert len(judged) == 2 * len(runs)  # the agent's own answer, then the analyst's correction
    first = judged[0].texts[1]
    assert "# Rubric" in first and "# Reference answer" not in first
    assert any(f"# Task\n<run_data>\n{t.task}\n</run_data>" in first for t in runs)  # the run's task is quoted data
    assert "The rejected attempt's final answer was:" in first
    stored = [Analysis.model_validate(a) for a in ws.traces.analyses(report.run_id).values()]
    assert all(a.mode == "agentic" and a.confirmed and a.lessons for a in stored)
    assert {a.evaluator for a in stored} == {"judge (a rubric from the task)"}
    assert {a.sandbox for a in stored} <= set(available_modes())
    purposes = [c["purpose"] for c in ws.traces.calls(report.run_id)]
    assert purposes.count(JUDGE_PURPOSE) == len(judged) and report.stages["analyse"]["calls"] >= 3 * len(runs)


@pytest.mark.anyio
async def test_a_failure_with_a_reference_but_no_scorer_is_judged_against_the_reference_answer(
    server: FakeLLMServer,
) -> None:
    trajectory = make_trajectories(12, failure_share=1.0, evaluator=None)[3]
    analysis = await _analyse(server, trajectory)
    judged = [r for r in server.requests if r.system.startswith(JUDGE)]
    assert judged and "# Reference answer" in judged[0].texts[1]
    assert analysis.evaluator == "judge (the reference answer)" and analysis.confirmed
    shown = [text for r in _analyst_requests(server) for text in r.texts]
    assert not any(str(trajectory.reference) in text for text in shown)


def test_the_dry_run_counts_the_judges_calls_and_the_single_analyst_counts_one_call(ws: Workspace) -> None:
    runs = [t.model_copy(update={"reference": None, "metadata": {}}) for t in make_trajectories(4, failure_share=1.0)]
    ws.traces.add_many(runs)
    agentic = estimate(EvolutionConfig(skill="sheets", model="local:qwen2.5-coder-1.5b"), workspace=ws)
    assert agentic.agentic == agentic.judged == len(runs)
    assert agentic.calls["analyse"] == (EXPECTED_TURNS + EXPECTED_JUDGE_CALLS) * len(runs)
    assert "checked by the LLM judge" in agentic.render()
    single = estimate(EvolutionConfig(skill="sheets", model="local:qwen2.5-coder-1.5b", analyst="single"), workspace=ws)
    assert single.agentic == single.judged == 0 and single.calls["analyse"] == len(runs)
    assert single.input_tokens < agentic.input_tokens
