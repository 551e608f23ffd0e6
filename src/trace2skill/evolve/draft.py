"""Create mode: the model drafts S0 from its own knowledge and the task description.

The draft is an ordinary skill (SKILL.md with frontmatter, optional reference files); it goes
through the same validation and fix rounds as an evolved skill before it becomes the run's base.
"""

from __future__ import annotations

import yaml

from trace2skill.evolve.apply import unsafe_path_reason
from trace2skill.evolve.context import ChatLLM
from trace2skill.evolve.prompting import load_prompt
from trace2skill.evolve.repair import validate_and_fix
from trace2skill.evolve.schemas import DraftOut
from trace2skill.llm.types import ChatMessage, ChatRequest
from trace2skill.models import Skill, SkillFile, Trajectory
from trace2skill.untrusted import quote_run_data

__all__ = ["draft_message", "draft_skill", "skill_from_draft"]

_EXAMPLES = 5
_EXAMPLE_CHARS = 500


def draft_message(name: str, task_description: str | None, examples: list[Trajectory]) -> str:
    lines = [f"Skill name: {name}"]
    if task_description:
        lines.append(f"\nThe tasks this skill is for:\n{task_description.strip()}")
    if examples:
        tasks = []
        for t in examples[:_EXAMPLES]:
            task = " ".join(t.task.split())
            tasks.append(f"- {task[:_EXAMPLE_CHARS]}{'…' if len(task) > _EXAMPLE_CHARS else ''}")
        lines.append("\nExamples of tasks the agent was given (quoted from recorded runs):")
        lines.append(quote_run_data("\n".join(tasks)))
    return "\n".join(lines)


def skill_from_draft(name: str, draft: DraftOut) -> Skill:
    """SKILL.md with a frontmatter written by code (so `name` is right), plus the safe reference files."""
    front = yaml.safe_dump({"name": name, "description": draft.description.strip()}, sort_keys=False, width=1000)
    body = draft.body.strip()
    files = [SkillFile(path="SKILL.md", data=f"---\n{front}---\n\n{body}\n".encode())]
    seen = {"SKILL.md"}
    for ref in draft.references:
        path = ref.path.strip()
        if path in seen or not path.startswith("references/") or unsafe_path_reason(path) is not None:
            continue
        seen.add(path)
        files.append(SkillFile(path=path, data=(ref.content.rstrip() + "\n").encode()))
    return Skill(name=name, files=tuple(sorted(files, key=lambda f: f.path)))


async def draft_skill(
    llm: ChatLLM, name: str, task_description: str | None, examples: list[Trajectory], *, run_id: str | None = None
) -> tuple[Skill, list[str]]:
    """(drafted skill, validation errors left after fix rounds)."""
    request = ChatRequest(
        system=load_prompt("drafter").rstrip(),
        messages=[ChatMessage(role="user", content=draft_message(name, task_description, examples))],
        purpose="draft",
        run_id=run_id,
    )
    out, _ = await llm.structured(request, DraftOut)
    fixed = await validate_and_fix(llm, skill_from_draft(name, out), run_id=run_id)
    return fixed.skill, fixed.errors_left
