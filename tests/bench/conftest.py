"""A fake agent behind the local protocol server, and a small user suite it can be measured on.

The agent answers a task right only when its system prompt holds the skill line its topic needs, so
a skill that learns that line measurably helps. Analyst, merge and other pipeline calls go to the
simulated fleet. With tools, the agent first writes its answer to the task's output file with a
`bash` call, then replies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.doubles.llmserver import FakeLLMServer, Reply, ServerRequest
from tests.doubles.simulated import TOPICS, make_skill, server_handler

from trace2skill.bench.runner import BASE_PROMPT
from trace2skill.home import Home
from trace2skill.models import Skill
from trace2skill.workspace import Workspace

SKILL = "sheets"


def _needed_line(topic: str) -> str:
    return str(TOPICS[topic].edit["content"])


def skill_teaching(*topics: str) -> Skill:
    """S0 with the lines of `topics` added under its Tips: the fake agent then answers those tasks right."""
    base = make_skill(SKILL)
    lines = "".join(f"{_needed_line(t)}\n" for t in topics)
    return base.with_files({"SKILL.md": base.skill_md.replace("## Tips\n", f"## Tips\n\n{lines}").encode()})


POISON = str(TOPICS["headers"].edit["content"])
"""A skill line that makes the fake agent answer wrong: an evolution that adds it makes the skill worse."""


def fake_agent(req: ServerRequest) -> Any:
    """Right answer (`right-N`) when the skill in the prompt teaches the task's topic (and holds no poison)."""
    if not req.system.startswith(BASE_PROMPT):
        return server_handler(req)
    task = req.messages[0]
    text = task["content"] if isinstance(task["content"], str) else req.texts[1]
    topic = re.search(r"\[topic:(\w+)\]", text)
    number = re.search(r"Task (\d+)", text)
    knows = topic is not None and _needed_line(topic.group(1)) in req.system and POISON not in req.system
    answer = f"right-{number.group(1) if number else 0}" if knows else "wrong"
    output = re.search(r"save it as `([^`]+)`", text)
    if req.tools and output and not any(m.get("role") == "assistant" for m in req.messages):
        return Reply(tool_calls=[{"name": "bash", "arguments": {"command": f"printf '{answer}' > {output.group(1)}"}}])
    return Reply(text=f"I checked the sheet.\nANSWER: {answer}")


def write_suite(
    folder: Path,
    *,
    n_evolve: int = 10,
    n_test: int = 10,
    tools: bool = False,
    topics: dict[str, tuple[str, ...]] | None = None,
    name: str = "toy",
) -> Path:
    """A user suite whose exact answer is `right-N`; each split's tasks cycle through its topics."""
    topics = topics or {"evolve": ("units", "totals"), "test": ("units", "totals")}
    rows: list[dict[str, Any]] = [{"suite": {"name": name, "description": "toy tasks", "tools": tools}}]
    for split, count, offset in (("evolve", n_evolve, 0), ("test", n_test, 1000)):
        for i in range(count):
            topic = topics[split][i % len(topics[split])]
            n = offset + i
            row: dict[str, Any] = {"id": f"t{n}", "split": split, "evaluator": "exact"}
            if tools:
                row["task"] = f"Task {n}: find the value and save it as `out.txt`. [topic:{topic}]"
                row["reference"] = {"files": {"out.txt": f"right-{n}"}}
                row["outputs"] = ["out.txt"]
            else:
                row["task"] = f"Task {n}: report the value. [topic:{topic}]"
                row["reference"] = f"right-{n}"
            rows.append(row)
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(fake_agent) as s:
        yield s


@pytest.fixture
def bench_home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    ws = Workspace.open(Home(folder))
    ws.skills.commit(make_skill(SKILL), parent=None, author="human", changelog=["import"])
    ws.close()
    return folder
