"""The agent runner: a model with a skill loaded works a task, and the run is scored and recorded.

The skill is loaded as agents load it: SKILL.md's body in the system prompt, the rest of the folder
on disk in the work folder (`skills/<name>/`, read-only). An arm without a skill shares every other
word of the prompt, so a measured difference is the skill's. With tools the model runs shell
commands in the sandbox for a bounded number of turns and ends by replying without a tool call;
without tools (a suite whose inputs are inline) it answers in one call, which is how a small local
model gets through hundreds of tasks.

Every run becomes a Trajectory with the skill name and exact version, tags for suite, split, arm and
seed, the task's reference and scorer, the scorer's verdict (whose feedback never shows the
reference) and the files the agent wrote as artifacts, so that `evolve` can learn from exactly
these runs. Trouble that is not the model's (missing task files, a scorer that raises, a model that
cannot be reached) is an `unknown` outcome with one line saying why, never a crash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trace2skill.bench.suites import Suite, Task
from trace2skill.errors import BudgetExceeded, ProviderError, ProviderUnreachable, Trace2SkillError
from trace2skill.evaluators.base import Candidate, Evaluation, get_evaluator
from trace2skill.llm.types import ChatMessage, ChatRequest, ChatResponse, ToolSpec
from trace2skill.models import (
    LIMITS,
    Artifact,
    Message,
    Outcome,
    OutcomeStatus,
    Skill,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Trajectory,
)
from trace2skill.sandbox import Sandbox, SandboxLimits
from trace2skill.skills_store.frontmatter import read_frontmatter

__all__ = [
    "HARNESS_VERSION",
    "Arm",
    "RolloutSettings",
    "extract_answer",
    "rollout",
    "rollout_id",
    "system_prompt",
]

HARNESS_VERSION = "1"  # part of every rollout's key: change it when the prompt words change

BASE_PROMPT = "You are an agent that completes the task you are given carefully and states a final answer."
TOOLS_PROMPT = (
    "You work in a folder of your own. Run shell commands there with the `bash` tool (python3 with openpyxl "
    "is available); each call returns the command's output. When you are done, reply without calling a tool."
)
NO_TOOLS_PROMPT = "Answer from what the task gives you; there are no tools."
SKILL_PROMPT = """You have a skill for tasks like this one: follow its instructions where they apply.
{files}
<skill name="{name}" description="{description}">
{body}
</skill>"""

BASH = ToolSpec(
    name="bash",
    description="Run one shell command in your working folder and get its output (stdout, stderr, exit code).",
    input_schema={
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The command to run."}},
        "required": ["command"],
    },
)

_ANSWER = re.compile(
    r"^\s*(?:\*\*)?(?:final\s+)?answer\s*(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(.*?)\s*$", re.IGNORECASE | re.MULTILINE
)
_ARTIFACT_BYTES = 256 * 1024


class ChatModel(Protocol):
    async def chat(self, request: ChatRequest) -> ChatResponse: ...


@dataclass(frozen=True)
class Arm:
    """What the agent is given: a skill version, or none. `label` names the arm in reports."""

    label: str
    skill: Skill | None = None
    version: int | None = None

    @property
    def key(self) -> str:
        return "none" if self.skill is None else f"{self.skill.name}@{self.skill.digest}"


@dataclass(frozen=True)
class RolloutSettings:
    model: str
    max_turns: int = 20
    max_tokens: int = 2048
    temperature: float | None = 0.0
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    sandbox_mode: str = "auto"
    tools: bool | None = None  # None: as the suite says

    def uses_tools(self, suite: Suite) -> bool:
        return suite.tools if self.tools is None else self.tools

    def key(self, suite: Suite) -> dict[str, Any]:
        """What decides a run's result besides task, skill and seed (the rollout cache key)."""
        return {
            "model": self.model,
            "max_turns": self.max_turns,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "tools": self.uses_tools(suite),
            "harness": HARNESS_VERSION,
        }


def rollout_id(suite: Suite, task: Task, arm: Arm, settings: RolloutSettings, seed: int) -> str:
    """A stable id for one (suite, task, skill content, settings, seed) run, so no run is paid for twice.

    With temperature 0 the seed cannot change the answer and is left out of the key.
    """
    deterministic = settings.temperature == 0
    key = {
        "suite": suite.name,
        "task": task.id,
        "arm": arm.key,
        "settings": settings.key(suite),
        "seed": None if deterministic else seed,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return f"bench-{digest[:32]}"


def skill_files_line(skill: Skill, tools: bool) -> str:
    others = sorted(f.path for f in skill.files if f.path != "SKILL.md")
    if not others:
        return ""
    listing = ", ".join(others[:30]) + (" ..." if len(others) > 30 else "")
    if tools:
        return f"Its other files are in `skills/{skill.name}/` in your working folder: {listing}.\n"
    return f"Its other files ({listing}) cannot be opened in this setting.\n"


def system_prompt(arm: Arm, tools: bool) -> str:
    """The system prompt: identical words for every arm but the skill block."""
    parts = [BASE_PROMPT, TOOLS_PROMPT if tools else NO_TOOLS_PROMPT]
    if arm.skill is not None:
        front = read_frontmatter(arm.skill.skill_md)
        description = str(front.data.get("description") or "").replace('"', "'")
        parts.append(
            SKILL_PROMPT.format(
                files=skill_files_line(arm.skill, tools),
                name=arm.skill.name,
                description=description,
                body=front.body.strip(),
            )
        )
    return "\n\n".join(parts)


def extract_answer(text: str) -> str:
    """The final answer: the last `ANSWER: ...` line, else the reply's last non-empty line."""
    found = _ANSWER.findall(text or "")
    if found:
        return found[-1].strip().strip("`*").strip()
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass
class _Run:
    """A run in progress: the messages in both forms, the model's final reply, what went wrong."""

    chat: list[ChatMessage]
    recorded: list[Message]
    final: str | None = None
    problem: str | None = None  # one line: why the run has no verdict (outcome unknown)
    failure: str | None = None  # one line: why the run failed before it could be scored
    files: dict[str, bytes] = field(default_factory=dict)
    sandbox_mode: str | None = None
    turns: int = 0
    tokens: list[int] = field(default_factory=lambda: [0, 0])

    def assistant(self, response: ChatResponse) -> None:
        self.tokens[0] += response.usage.input_tokens
        self.tokens[1] += response.usage.output_tokens
        self.chat.append(ChatMessage(role="assistant", content=response.text, tool_calls=response.tool_calls))
        parts: list[Any] = [TextPart(text=response.text)] if response.text else []
        parts += [ToolCallPart(id=c.id, name=c.name, arguments=c.arguments) for c in response.tool_calls]
        self.recorded.append(Message(role="assistant", content=parts))

    def tool(self, call_id: str, name: str, output: str, is_error: bool) -> None:
        self.chat.append(ChatMessage(role="tool", content=output, tool_call_id=call_id, is_error=is_error))
        self.recorded.append(
            Message(
                role="tool",
                content=[ToolResultPart(tool_call_id=call_id, name=name, output=output, is_error=is_error)],
            )
        )


def _missing_files(task: Task) -> list[str]:
    return [name for name, source in task.files.items() if isinstance(source, Path) and not source.is_file()]


async def _converse(
    run: _Run, llm: ChatModel, system: str, settings: RolloutSettings, run_id: str | None
) -> ChatResponse:
    request = ChatRequest(
        system=system,
        messages=run.chat,
        tools=[BASH] if run.sandbox_mode else [],
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        purpose="rollout",
        run_id=run_id,
    )
    response = await llm.chat(request)
    run.turns += 1
    run.assistant(response)
    return response


async def _with_tools(
    run: _Run, task: Task, arm: Arm, llm: ChatModel, settings: RolloutSettings, system: str, run_id: str | None
) -> None:
    files: dict[str, Path | bytes] = dict(task.files)
    if arm.skill is not None:
        for f in arm.skill.files:
            files[f"skills/{arm.skill.name}/{f.path}"] = f.data
    async with Sandbox(files, readonly=("skills",), limits=settings.limits, mode=settings.sandbox_mode) as box:
        run.sandbox_mode = box.mode
        for _ in range(settings.max_turns):
            response = await _converse(run, llm, system, settings, run_id)
            if not response.tool_calls:
                run.final = response.text
                break
            for call in response.tool_calls:
                command = call.arguments.get("command") if isinstance(call.arguments, dict) else None
                if call.name != "bash" or not isinstance(command, str) or not command.strip():
                    run.tool(call.id, call.name, 'error: call `bash` with {"command": "..."}', True)
                    continue
                result = await box.run(command)
                run.tool(call.id, call.name, result.render(), result.exit_code != 0)
        else:
            run.failure = f"no final answer within {settings.max_turns} turns"
        run.files = box.changed_files()


async def _run_agent(
    run: _Run, task: Task, arm: Arm, llm: ChatModel, settings: RolloutSettings, tools: bool, run_id: str | None
) -> None:
    system = system_prompt(arm, tools)
    try:
        if tools:
            await _with_tools(run, task, arm, llm, settings, system, run_id)
        else:
            response = await _converse(run, llm, system, settings, run_id)
            run.final = response.text
            if response.stop_reason in ("max_tokens", "length") and not _ANSWER.search(response.text or ""):
                run.failure = f"the answer was cut off at {settings.max_tokens} tokens"
    except (BudgetExceeded, ProviderUnreachable):  # every other task would fail the same way: stop the run
        raise
    except ProviderError as e:
        run.problem = f"model call failed: {e}"
    except Trace2SkillError as e:
        run.problem = f"could not run the task: {e}"


async def _score(
    task: Task, answer: str | None, files: dict[str, bytes], evaluator_options: dict[str, Any]
) -> Evaluation | str:
    try:
        evaluator = get_evaluator(task.evaluator, **evaluator_options)
        return await evaluator.evaluate(Candidate(answer=answer, files=dict(files)), task.reference)
    except Exception as e:  # a scorer that raises is one line in the report, never a crash
        return f"scorer {task.evaluator} failed: {type(e).__name__}: {e}"


def _artifacts(files: dict[str, bytes], wanted: Sequence[str]) -> tuple[list[Artifact], list[str]]:
    """The files the agent wrote, outputs first, as artifacts within the store's limits, and the names left out."""
    order = [n for n in wanted if n in files] + sorted(n for n in files if n not in wanted)
    artifacts: list[Artifact] = []
    left_out: list[str] = []
    for name in order:
        data = files[name]
        if len(artifacts) >= min(LIMITS.artifacts, 20) or len(data) > _ARTIFACT_BYTES:
            left_out.append(name)
            continue
        try:
            artifacts.append(Artifact(name=name, content=data.decode("utf-8"), encoding="text"))
        except UnicodeDecodeError:
            artifacts.append(Artifact(name=name, content=base64.b64encode(data).decode(), encoding="base64"))
    return artifacts, left_out


async def rollout(
    suite: Suite,
    task: Task,
    arm: Arm,
    llm: ChatModel,
    settings: RolloutSettings,
    *,
    seed: int = 0,
    tags: Sequence[str] = (),
    run_id: str | None = None,
    evaluator_options: dict[str, Any] | None = None,
) -> Trajectory:
    """Run one task with one arm and return the scored trajectory (not yet stored)."""
    started = time.monotonic()
    tools = settings.uses_tools(suite)
    user = f"{task.prompt}\n\n{suite.answer_format}"
    run = _Run(
        chat=[ChatMessage(role="user", content=user)], recorded=[Message(role="user", content=[TextPart(text=user)])]
    )
    missing = _missing_files(task)
    if missing:
        run.problem = f"task files missing: {', '.join(missing[:5])}"
    else:
        await _run_agent(run, task, arm, llm, settings, tools, run_id)
    answer = extract_answer(run.final) if run.final is not None else None
    outputs = {name: data for name, data in run.files.items() if name in task.outputs} if task.outputs else run.files
    if run.problem is not None:
        outcome = Outcome(status="unknown", feedback=run.problem, judged_by="bench")
    else:
        verdict = await _score(task, answer, outputs, evaluator_options or {})
        if isinstance(verdict, str):
            outcome = Outcome(status="unknown", feedback=verdict, judged_by=f"evaluator:{task.evaluator}")
        else:
            status: OutcomeStatus = "success" if verdict.passed else "failure"
            feedback = "; ".join(x for x in (run.failure, verdict.feedback) if x) or None
            outcome = Outcome(
                status=status, score=verdict.score, feedback=feedback, judged_by=f"evaluator:{task.evaluator}"
            )
    artifacts, left_out = _artifacts(run.files, task.outputs)
    metadata: dict[str, Any] = {
        "agent": "trace2skill-bench",
        "model": settings.model,
        "evaluator": task.evaluator,
        "suite": suite.name,
        "split": task.split,
        "task_id": task.id,
        "arm": arm.label,
        "seed": seed,
        "turns": run.turns,
        "seconds": round(time.monotonic() - started, 3),
        "input_tokens": run.tokens[0],
        "output_tokens": run.tokens[1],
        "tools": tools,
        "harness": HARNESS_VERSION,
    }
    if run.sandbox_mode:
        metadata["sandbox"] = run.sandbox_mode
    if left_out:
        metadata["artifacts_left_out"] = left_out[:20]
    if task.files:
        metadata["task_files"] = {name: str(src) for name, src in task.files.items() if isinstance(src, Path)}
    if run_id:
        metadata["bench_run"] = run_id
    tag_list = [f"suite:{suite.name}", f"split:{task.split}", f"arm:{arm.label}", f"seed:{seed}", *tags]
    return Trajectory(
        id=rollout_id(suite, task, arm, settings, seed),
        task=task.prompt[: LIMITS.task_chars],
        messages=run.recorded,
        outcome=outcome,
        final_answer=answer[: LIMITS.final_answer_chars] if answer is not None else None,
        reference=task.reference,
        artifacts=artifacts,
        skill=arm.skill.name if arm.skill is not None else None,
        skill_version=arm.version,
        tags=[t[: LIMITS.tag_chars] for t in tag_list][: LIMITS.tags],
        metadata=metadata,
    )
