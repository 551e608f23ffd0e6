"""Prompts: ready-made instructions a user picks in their client (`/mcp__trace2skill__record_this_run`).

They teach an agent the two habits the server depends on: record every run at the end of a task,
honestly labelled, and evolve a skill from the recorded runs with a dry run first.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context, UserMessage
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, EmbeddedResource, TextResourceContents

from trace2skill.errors import Trace2SkillError
from trace2skill.server.resources import current_version
from trace2skill.server.state import AppState, state_of
from trace2skill.server.uris import skill_file_uri

__all__ = ["EXAMPLE_TRAJECTORY", "register_prompts"]

EXAMPLE_TRAJECTORY: dict[str, Any] = {
    "task": "Sum column B of sales.xlsx into B20",
    "skill": "xlsx",
    "messages": [
        {"role": "user", "content": "Sum column B of sales.xlsx into B20"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll inspect the sheet first."},
                {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "python inspect.py"}},
            ],
        },
        {
            "role": "tool",
            "content": [
                {"type": "tool_result", "tool_call_id": "c1", "output": "KeyError: 'Sheet1'", "is_error": True}
            ],
        },
        {"role": "assistant", "content": "Done: B20 = SUM(B2:B19)."},
    ],
    "outcome": {"status": "failure", "score": 0.0, "feedback": "B20 empty in output", "judged_by": "agent"},
    "final_answer": "B20 = SUM(B2:B19)",
    "tags": ["spreadsheet"],
    "metadata": {"agent": "claude-code", "model": "claude-sonnet-4-5"},
}


def record_this_run(skill: str = "", outcome: str = "") -> str:
    """How to record the current task with record_trajectory when it ends (the exact JSON shape)."""
    skill_line = (
        f'Set "skill": "{skill}".' if skill else 'Set "skill" to the skill you used (omit it if you used none).'
    )
    outcome_line = (
        f'The outcome is "{outcome}".'
        if outcome
        else "Judge the outcome honestly: success only if the task is fully and verifiably done; "
        "failure or partial otherwise, with one or two sentences of feedback on what went wrong."
    )
    return f"""When this task is finished (done, failed or abandoned), call the trace2skill tool
`record_trajectory` once with the whole run as `trajectory`:

- "task": the user's request, verbatim.
- "messages": every turn in order. Roles are user, assistant, tool. `content` is a string, or a list of
  parts: {{"type": "text", "text"}}, {{"type": "reasoning", "text"}},
  {{"type": "tool_call", "id", "name", "arguments": {{...}}}},
  {{"type": "tool_result", "tool_call_id", "output", "is_error"}}.
  Include every tool call and its result; shorten a result longer than about 4,000 characters to
  its beginning and end, and say so in the text.
- "outcome": {{"status": "success" | "failure" | "partial" | "unknown", "score", "feedback", "judged_by": "agent"}}.
- "final_answer": your final answer, if there is one.
- "metadata": {{"agent": your client's name, "model": your model}}.

{skill_line}
{outcome_line}

Failures are as valuable as successes: they show the skill what to warn about. Secrets are redacted
on the server, but do not paste credentials into the run. Example:

```json
{json.dumps(EXAMPLE_TRAJECTORY, indent=2)}
```
"""


def evolve_from_recent_runs(skill: str, budget_usd: str = "") -> str:
    """Improve a skill from its recorded runs: label unknown outcomes, estimate the cost, then evolve."""
    budget = f" and budget_usd={budget_usd}" if budget_usd else ""
    confirm = (
        "ask me to confirm before spending anything"
        if budget_usd
        else "ask me to confirm and to name a budget in USD before spending anything"
    )
    run_budget = budget if budget_usd else " and budget_usd set to the budget I named (a paid model needs one)"
    return f"""Improve the skill "{skill}" from its recorded runs with the trace2skill tools:

1. Call `search_trajectories` with skill="{skill}" to see what is recorded. For runs whose outcome
   is "unknown" and that you can judge from their task and answer, call `label_trajectory`.
   Evolution needs failures and successes; if fewer than about 5 runs are recorded, say so and stop.
2. Call `evolve_skill` with name="{skill}" and dry_run=true{budget}. Show me the estimate
   (calls, tokens, cost) and {confirm}.
3. Once I confirm, call `evolve_skill` with name="{skill}"{run_budget}. It reports progress while it runs.
4. Summarise the report: what changed in the skill, which trajectories support each change, and
   what it cost. Read the new version at skill://{skill}/SKILL.md. If the change looks wrong, offer
   `rollback_skill` to the previous version.
"""


async def use_skill(name: str, ctx: Context[AppState, Any]) -> list[UserMessage]:
    """Load a skill's current SKILL.md into the conversation and follow it (for clients without skill folders)."""
    state = state_of(ctx)
    try:
        version = current_version(state.workspace.skills, name)
        text = state.workspace.skills.read_file(name, "SKILL.md", version.version).decode("utf-8", "replace")
    except Trace2SkillError as e:  # MCPError passes through prompt rendering with its message intact
        raise MCPError(code=INVALID_PARAMS, message=str(e)) from None
    uri = skill_file_uri(name, "SKILL.md")
    resource = EmbeddedResource(
        type="resource", resource=TextResourceContents(uri=uri, text=text, mime_type="text/markdown")
    )
    return [
        UserMessage(resource),
        UserMessage(
            f"Follow the skill above (version {version.version}) for the task I give you next. Its other files "
            f"are resources under skill://{name}/ (see get_skill for the list). When the task is done, record "
            f'the run with record_trajectory, with "skill": "{name}" and "skill_version": {version.version}.'
        ),
    ]


def register_prompts(mcp: MCPServer[Any]) -> None:
    mcp.prompt(title="Record this run")(record_this_run)
    mcp.prompt(title="Evolve a skill from recent runs")(evolve_from_recent_runs)
    mcp.prompt(title="Use a skill")(use_skill)
