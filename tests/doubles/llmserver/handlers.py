"""Ready-made handlers for `python -m tests.doubles.llmserver --handler tests.doubles.llmserver.handlers:NAME`."""

from __future__ import annotations

from tests.doubles.llmserver._script import ServerRequest


def ok(req: ServerRequest) -> str:
    """The smallest answer: for overhead benchmarks."""
    return "ok"


def echo(req: ServerRequest) -> str:
    """Echo the last user text back, naming the model."""
    return f"{req.model} heard: {req.last_user_text}"


def bench_agent(req: ServerRequest) -> object:
    """An agent for the runner benchmark: three `true` tool turns when it has tools, then `ANSWER: ok`."""
    from tests.doubles.llmserver._script import Reply

    turns = sum(1 for m in req.messages if m.get("role") == "assistant")
    if req.tools and turns < 3:
        return Reply(tool_calls=[{"name": "bash", "arguments": {"command": "true"}}])
    return Reply(text="ANSWER: ok")
