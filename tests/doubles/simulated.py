"""The synthetic skill and runs, and the simulated analyst fleet as handlers, for tests and benchmarks.

The fleet itself (`trace2skill.demo.fleet`) answers every prompt of the pipeline like a careful
analyst; it is the demo's. Here it answers in-process (`chat_handler`, for `ScriptedProvider`) or
behind the local protocol server (`server_handler`, for the real SDK clients).

Trajectories made by `make_trajectories` carry a `[topic:NAME]` tag in their task; each topic has
one lesson and one edit, so lessons recur across trajectories and merging has something to merge.
Their failed agents all make one mistake (a row counted twice: the answer is `DOUBLE_COUNTED` too
high), which is the correction the simulated analyst makes. Tasks tagged `[unfixable]` never reach
a passing fix, so the evaluator gate drops their lessons.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from trace2skill.demo import fleet
from trace2skill.demo.fleet import TOPICS, server_handler
from trace2skill.llm.types import ChatResponse, ToolCall
from trace2skill.models import Skill, SkillFile, Trajectory

__all__ = ["TOPICS", "chat_handler", "make_skill", "make_trajectories", "seeded_home", "server_handler"]

SKILL_MD = """---
name: {name}
description: Answer questions about spreadsheets and edit them safely. Use for xlsx and csv tasks.
---

# Spreadsheet tasks

## Workflow

1. Read the input file.
2. Locate the data range.
4. Write the answer.

## Tips

- Keep formulas intact.

## References

- references/api.md: the helper functions available.
{filler}"""


def make_skill(name: str = "sheets", filler_lines: int = 0) -> Skill:
    """S0 for tests and benchmarks; `filler_lines` grows it to a realistic size (80 chars a line)."""
    filler = ""
    if filler_lines:
        body = "\n".join(
            f"- Note {i}: check column {i % 26} against its header and keep the original values unchanged."
            for i in range(filler_lines)
        )
        filler = f"\n## Notes\n\n{body}\n"
    files = (
        SkillFile(path="LICENSE.txt", data=b"Licensed for tests.\n"),
        SkillFile(path="SKILL.md", data=SKILL_MD.format(name=name, filler=filler).encode()),
        SkillFile(path="references/api.md", data=b"# API\n\n- read_sheet(path)\n- write_cell(path, ref, value)\n"),
    )
    return Skill(name=name, files=files)


def make_trajectories(
    n: int,
    *,
    skill: str = "sheets",
    seed: int = 0,
    failure_share: float = 0.6,
    unfixable_every: int = 0,
    steps: int = 6,
    step_chars: int = 200,
    evaluator: str | None = "exact",
) -> list[Trajectory]:
    """`n` labelled runs over the topics; failures carry a reference (and an evaluator unless None)."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    out: list[Trajectory] = []
    for i in range(n):
        topic = names[i % len(names)]
        failed = rng.random() < failure_share
        unfixable = failed and unfixable_every > 0 and i % unfixable_every == 0
        truth = f"{1000 + i * 7}"
        answer = truth if not failed else f"{1000 + i * 7 + fleet.DOUBLE_COUNTED}"
        tags = f"[topic:{topic}]" + (" [unfixable]" if unfixable else "")
        task = f"Task {i}: report the value asked for in sales_{i}.xlsx. {tags}"
        messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
        pad = "x" * max(0, step_chars - 60)
        for k in range(steps):
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": f"Step {k}: looking at the sheet. {pad}"},
                        {
                            "type": "tool_call",
                            "id": f"c{k}",
                            "name": "bash",
                            "arguments": {"command": f"python s{k}.py"},
                        },
                    ],
                }
            )
            messages.append(
                {
                    "role": "tool",
                    "content": [{"type": "tool_result", "tool_call_id": f"c{k}", "output": f"rows {k} {pad}"}],
                }
            )
        messages.append({"role": "assistant", "content": f"The answer is {answer}."})
        data: dict[str, Any] = {
            "id": f"tr-{seed}-{i:05d}",
            "task": task,
            "skill": skill,
            "messages": messages,
            "outcome": {"status": "failure" if failed else "success", "score": 0.0 if failed else 1.0},
            "final_answer": answer,
            "tags": [topic],
        }
        if failed:
            data["reference"] = truth
            if evaluator:
                data["metadata"] = {"evaluator": evaluator}
        out.append(Trajectory.model_validate(data))
    return out


def seeded_home(folder: Path, runs: int, **trajectories: Any) -> Path:
    """A home folder holding S0 of `sheets` (published) and `runs` simulated runs (`make_trajectories` options)."""
    from trace2skill.home import Home
    from trace2skill.workspace import Workspace

    ws = Workspace.open(Home(folder))
    try:
        ws.skills.commit(make_skill("sheets"), parent=None, author="human", changelog=["import"])
        ws.traces.add_many(make_trajectories(runs, **trajectories))
    finally:
        ws.close()
    return folder


def chat_handler(request: Any) -> Any:
    """For `ScriptedProvider(chat_handler)`: answers a `ChatRequest`."""
    texts = [m.content for m in request.messages]
    turns = sum(1 for m in request.messages if m.role == "assistant")
    result = fleet.answer(fleet.View(request.system, texts, turns))
    if isinstance(result, dict):
        return result
    calls = [ToolCall(id=f"call_{turns}_{i}", name=name, arguments=args) for i, (name, args) in enumerate(result)]
    return ChatResponse(tool_calls=calls, stop_reason="tool_use")
