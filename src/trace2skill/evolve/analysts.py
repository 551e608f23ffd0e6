"""The analysts: one per trajectory, all reading the same frozen skill, none seeing another's work.

- Failures get the agentic error analyst (unless the run asks for `analyst="single"`): a bounded
  loop of turns in a sandbox over a copy of the run's files, with tools to read the run's steps,
  run shell commands, and `evaluate` a corrected answer or corrected output files with the task's
  scorer, or the LLM judge when there is none (`evolve.evaluation`). Whether a fix passed is decided
  by the evaluator's answers the code saw, not by the model's claim; with `require_confirmed_fix`
  an unconfirmed analysis keeps its causes but yields no lessons.
- With `analyst="single"`, failures get the single-pass error analyst (one structured call).
- Successes get the success analyst (one structured call).
Every analysis keeps at most three lessons, and code drops any lesson that quotes the reference.
Everything of the run an analyst reads (the overview, steps, files, command output over its files)
arrives inside `<run_data>` blocks, which its system prompt says are data, never instructions.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import ValidationError

from trace2skill.errors import InvalidInput, ProviderError
from trace2skill.evaluators.base import Candidate
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.evaluation import Checker, checker_for
from trace2skill.evolve.leaks import ReferenceGuard
from trace2skill.evolve.render import read_artifact, render_full, render_overview, render_steps
from trace2skill.evolve.schemas import (
    MAX_LESSONS,
    Analysis,
    Cause,
    ErrorAnalysisOut,
    Lesson,
    SuccessAnalysisOut,
)
from trace2skill.evolve.workfolder import WorkFolder, open_work_folder
from trace2skill.llm.types import ChatMessage, ToolCall, ToolSpec
from trace2skill.models import Trajectory
from trace2skill.untrusted import quote_run_data

__all__ = ["ERROR_TOOLS", "analyse", "analysis_kind"]

SUBMIT = "submit_analysis"

ERROR_TOOLS: list[ToolSpec] = [
    ToolSpec(
        name="read_steps",
        description=(
            "Read steps of the run in full (messages, tool calls, outputs) from `start` to `end`, inclusive. "
            "A long range comes back in pieces; the reply says where to continue."
        ),
        input_schema={
            "type": "object",
            "properties": {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0}},
            "required": ["start"],
        },
    ),
    ToolSpec(
        name="read_artifact",
        description="Read a text file the run kept, by name; long files are read in pieces from `offset`.",
        input_schema={
            "type": "object",
            "properties": {"name": {"type": "string"}, "offset": {"type": "integer", "minimum": 0}},
            "required": ["name"],
        },
    ),
    ToolSpec(
        name="run",
        description=(
            "Run a shell command in the work folder (a copy of the run's files; see the first message), "
            "e.g. `python3 fix.py` or `ls -la`. Returns its output and exit code."
        ),
        input_schema={"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    ),
    ToolSpec(
        name="evaluate",
        description=(
            "Check a corrected result with the task's evaluator: the final `answer`, and/or `files`: the names of "
            "corrected output files in the work folder (write them with `run` first, under the names the task "
            "asks for). Returns PASS or FAIL with what still differs."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "answer": {"type": "string"},
                "files": {"type": "array", "items": {"type": "string"}},
            },
        },
    ),
    ToolSpec(
        name=SUBMIT,
        description="Finish: submit the causes of the failure and at most three lessons.",
        input_schema=ErrorAnalysisOut.model_json_schema(),
    ),
]

_REMINDER = (
    "No fix has passed the evaluator yet. Unconfirmed analyses are discarded: keep investigating and "
    "check a fix with `evaluate`, or submit again if you are sure no fix can pass."
)
_NUDGE = f"Continue with the tools; finish by calling `{SUBMIT}`."


def analysis_kind(trajectory: Trajectory) -> Literal["error", "success"]:
    """'success' for successful runs; every other labelled outcome is analysed as a failure."""
    return "success" if trajectory.outcome.status == "success" else "error"


async def analyse(ctx: RunContext, trajectory: Trajectory, index: int) -> Analysis:
    """The right analyst for this trajectory, with lesson limits and the reference guard applied."""
    kind = analysis_kind(trajectory)
    checker = checker_for(ctx, trajectory) if kind == "error" else None
    if checker is None:
        return await _single_call(ctx, trajectory, index, kind)
    folder = await open_work_folder(trajectory)
    try:
        return await _failure_agentic(ctx, trajectory, index, checker, folder)
    finally:
        await folder.close()


def _finish(trajectory: Trajectory, analysis: Analysis, *, gate: bool) -> Analysis:
    guard = ReferenceGuard(trajectory.reference)
    dropped = list(analysis.dropped)
    lessons = analysis.lessons
    if len(lessons) > MAX_LESSONS:
        dropped.append(f"{len(lessons) - MAX_LESSONS} lessons over the limit of {MAX_LESSONS}")
        lessons = lessons[:MAX_LESSONS]
    kept: list[Lesson] = []
    for lesson in lessons:
        if guard.leaks(lesson.text()):
            dropped.append(f"lesson {lesson.title[:80]!r} quotes the reference")
        else:
            kept.append(lesson)
    if gate and not analysis.confirmed and kept:
        dropped.append(f"{len(kept)} lessons: no fix passed the evaluator")
        kept = []
    causes = [Cause(title=guard.mask(c.title), description=guard.mask(c.description)) for c in analysis.causes]
    return analysis.model_copy(
        update={
            "lessons": kept,
            "causes": causes,
            "dropped": dropped,
            "solution_path": guard.mask(analysis.solution_path),
        }
    )


async def _single_call(ctx: RunContext, t: Trajectory, index: int, kind: Literal["error", "success"]) -> Analysis:
    """The one-call analysts: the success analyst, and the error analyst of `analyst="single"` runs."""
    role = "success_analyst" if kind == "success" else "error_analyst_single"
    schema: type[SuccessAnalysisOut | ErrorAnalysisOut] = SuccessAnalysisOut if kind == "success" else ErrorAnalysisOut
    message = ChatMessage(role="user", content=quote_run_data(render_full(t)))
    request = ctx.request(role, [message], purpose=f"analyse.{kind}")
    out, _ = await ctx.llm.structured(request, schema)
    raw = Analysis(
        trajectory_id=_tid(t),
        index=index,
        kind=kind,
        mode="single",
        causes=getattr(out, "causes", []),
        lessons=out.lessons,
        solution_path=getattr(out, "solution_path", ""),
        turns=1,
    )
    return _finish(t, raw, gate=False)


class _Session:
    """Tool execution for one agentic error analysis; remembers whether any fix passed."""

    def __init__(self, t: Trajectory, checker: Checker, folder: WorkFolder) -> None:
        self.t = t
        self.checker = checker
        self.folder = folder
        self.passed = False
        self.evaluations = 0

    async def run(self, call: ToolCall) -> tuple[str, bool]:
        """(output, is_error) for one tool call other than submit."""
        args = call.arguments
        if isinstance(args, str):
            return f"the arguments of {call.name} are not valid JSON", True
        try:
            if call.name == "read_steps":
                steps = render_steps(self.t, int(args.get("start", 0)), _opt_int(args.get("end")))
                return quote_run_data(steps), False
            if call.name == "read_artifact":
                text = read_artifact(self.t, str(args.get("name", "")), int(args.get("offset") or 0))
                return quote_run_data(text), False
            if call.name == "run":
                return await self._shell(args.get("command"))
            if call.name == "evaluate":
                candidate = await self._candidate(args)
                self.evaluations += 1
                result = await self.checker.evaluate(candidate)
                self.passed = self.passed or result.passed
                return result.render(), False
        except ProviderError as e:  # the judge's call failed: the analyst may try again
            return f"{call.name} failed: the evaluator could not answer ({_short(e)})", True
        except (LookupError, ValueError, TypeError, OSError, ValidationError) as e:
            return f"{call.name} failed: {_short(e)}", True
        return f"unknown tool {call.name!r}", True

    async def _shell(self, command: Any) -> tuple[str, bool]:
        box = await self.folder.ready()
        if box is None:
            return f"run is unavailable: {self.folder.problem}", True
        if not isinstance(command, str) or not command.strip():
            return "run needs a `command`: a shell command line", True
        return quote_run_data((await box.run(command)).render()), False  # output over the run's files

    async def _candidate(self, args: dict[str, Any]) -> Candidate:
        """The answer as given, and output files read from the work folder by name (bytes, binary included).

        `files` as {name: text} is accepted too, for models that send the content itself.
        """
        answer = args.get("answer")
        files = args.get("files") or []
        if isinstance(files, dict):
            return Candidate(answer=None if answer is None else str(answer), files=files)
        names = [files] if isinstance(files, str) else files
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise TypeError("`files` is a list of file names in the work folder")
        if names:
            await self.folder.ready()
        return Candidate(answer=None if answer is None else str(answer), files={n: self._read(n) for n in names})

    def _read(self, name: str) -> bytes:
        box = self.folder.box
        if box is None:
            raise LookupError(f"no work folder to read {name!r} from ({self.folder.problem})")
        try:
            return box.read(name)
        except (LookupError, ValueError):
            present = sorted(str(p.relative_to(box.workdir)) for p in box.workdir.rglob("*") if p.is_file())
            shown = ", ".join(present[:30]) or "none"
            raise LookupError(f"no file {name!r} in the work folder (files there: {shown})") from None


async def _failure_agentic(
    ctx: RunContext, t: Trajectory, index: int, checker: Checker, folder: WorkFolder
) -> Analysis:
    cfg = ctx.config
    session = _Session(t, checker, folder)
    overview = quote_run_data(f"{render_overview(t)}\n\n{folder.describe()}")  # file names come from the run too
    messages = [ChatMessage(role="user", content=overview)]
    submitted: ErrorAnalysisOut | None = None
    reminded = False
    turns = 0
    notes: list[str] = []
    while submitted is None and turns <= cfg.max_analyst_turns:
        last = turns == cfg.max_analyst_turns  # one extra turn that must submit
        turns += 1
        request = ctx.request(
            "error_analyst", messages, purpose="analyse.error", tools=ERROR_TOOLS, tool_choice=SUBMIT if last else None
        )
        response = await ctx.llm.chat(request)
        messages = [*messages, ChatMessage(role="assistant", content=response.text, tool_calls=response.tool_calls)]
        if not response.tool_calls:
            if last:
                submitted = _parse_text(response.text)
                break
            messages.append(ChatMessage(role="user", content=_NUDGE))
            continue
        results: list[ChatMessage] = []
        for call in response.tool_calls:
            if call.name != SUBMIT:
                output, is_error = await session.run(call)
                results.append(ChatMessage(role="tool", tool_call_id=call.id, content=output, is_error=is_error))
                continue
            try:
                candidate = ErrorAnalysisOut.model_validate(
                    call.arguments if isinstance(call.arguments, dict) else json.loads(call.arguments)
                )
            except (ValidationError, ValueError) as e:
                results.append(
                    ChatMessage(
                        role="tool", tool_call_id=call.id, content=f"invalid analysis: {_short(e)}", is_error=True
                    )
                )
                continue
            if cfg.require_confirmed_fix and not session.passed and not reminded and not last:
                reminded = True
                results.append(ChatMessage(role="tool", tool_call_id=call.id, content=_REMINDER, is_error=True))
                continue
            submitted = candidate
        if submitted is None:
            messages.extend(results)
    if submitted is None:
        notes.append(f"no analysis submitted within {turns} turns")
        submitted = ErrorAnalysisOut()
    raw = Analysis(
        trajectory_id=_tid(t),
        index=index,
        kind="error",
        mode="agentic",
        causes=submitted.causes,
        lessons=submitted.lessons,
        confirmed=session.passed,
        turns=turns,
        dropped=notes,
        evaluator=checker.label,
        sandbox=folder.mode,
    )
    return _finish(t, raw, gate=cfg.require_confirmed_fix)


def _parse_text(text: str) -> ErrorAnalysisOut | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return ErrorAnalysisOut.model_validate_json(text[start : end + 1])
    except ValidationError:
        return None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _short(error: Exception) -> str:
    return " ".join(str(error).split())[:300]


def _tid(t: Trajectory) -> str:
    if not t.id:
        raise InvalidInput("trajectories must be stored (have an id) before they are analysed")
    return t.id
