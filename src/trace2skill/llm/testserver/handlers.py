"""Ready-made handlers for `python -m trace2skill.llm.testserver --handler trace2skill.llm.testserver.handlers:NAME`."""

from __future__ import annotations

from trace2skill.llm.testserver._script import ServerRequest


def ok(req: ServerRequest) -> str:
    """The smallest answer: for overhead benchmarks."""
    return "ok"


def echo(req: ServerRequest) -> str:
    """Echo the last user text back, naming the model."""
    return f"{req.model} heard: {req.last_user_text}"
