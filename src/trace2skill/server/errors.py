"""The library's one-line errors, as the MCP errors a client shows.

In a tool, every failure becomes a result with `isError: true` (what the SDK answers for a tool error,
never a JSON-RPC error) whose text is the one line the CLI would print after `Error:`
(`trace2skill.explain`): the model reads it and can act on it. Never the SDK's bare "Error executing
tool", and without its prefix. A bug says it is one; its traceback goes to the server log.
In a resource read, a missing or malformed target is `-32602` (ResourceNotFoundError) and any other
failure `-32603` (ResourceError), both with the same line. An argument a tool does not take is refused
before the tool runs (`refusal`, `unknown_arguments_line`); a prompt that does not exist, or arguments
it does not take or lacks, are `-32602` (`prompt_arguments_problem`).
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, Prompt, TextContent
from pydantic import ValidationError

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.explain import bug_line, explain
from trace2skill.models import describe_validation_error

__all__ = [
    "one_line",
    "one_line_errors",
    "prompt_arguments_problem",
    "refusal",
    "resource_errors",
    "tool_error_result",
    "tool_errors",
    "unknown_arguments_line",
    "unknown_prompt_line",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_LOG_HINT = "the server's log has the traceback"


def one_line(error: Exception, database: str | os.PathLike[str] | None = None) -> str:
    """The line a client is told: the expected failure's own, else a bug line (logged with its traceback)."""
    known = explain(error, database=database)
    if known is None:
        log.error("unexpected error in a tool or resource", exc_info=error)
        return bug_line(error, _LOG_HINT)
    return " ".join(str(known).split()) or type(known).__name__


@contextmanager
def tool_errors(database: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Re-raise any failure as a ToolError carrying its one line (ToolError and MCPError pass through)."""
    try:
        yield
    except (ToolError, ResourceError, MCPError):
        raise
    except Exception as e:
        raise ToolError(one_line(e, database)) from None


def one_line_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A tool function whose every failure reaches the client as its one line (see `tool_errors`).

    `functools.wraps` keeps the signature and annotations the SDK builds the tool's schema from."""

    @functools.wraps(fn)
    async def tool(*args: P.args, **kwargs: P.kwargs) -> R:
        with tool_errors(_database(kwargs.get("ctx"))):
            return await fn(*args, **kwargs)

    return tool


def _database(ctx: Any) -> str | None:
    try:
        return str(ctx.request_context.lifespan_context.workspace.home.db_path)
    except Exception:  # no connection state (yet): the line names no file
        return None


def tool_error_result(name: str, error: ToolError) -> CallToolResult:
    """A failed tool call as the SDK would answer it (a result with `isError: true`), whose text is the one line
    the CLI prints after `Error:`, without the SDK's `Error executing tool NAME: ` in front.

    Arguments the tool's schema refuses (a multi-line pydantic dump with links in the SDK) become one
    line naming each field; a crash the tools did not catch becomes a bug line, its traceback logged."""
    cause = error.__cause__
    if isinstance(error, UnexpectedToolError):
        line = one_line(cause if isinstance(cause, Exception) else error)
    elif isinstance(cause, ValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in cause.errors()})
        log.info("tool %r refused arguments: %r", name, fields)  # names only: the values are the caller's data
        line = f"invalid arguments: {describe_validation_error(cause)}"
    else:
        line = str(error).removeprefix(f"Error executing tool {name}: ")
        log.info("tool %r failed: %r", name, line)
    return CallToolResult(content=[TextContent(type="text", text=" ".join(line.split()))], is_error=True)


def refusal(name: str, line: str) -> CallToolResult:
    """A tool call refused before the tool ran, as a result with `isError: true` and its one line."""
    log.info("tool %r refused: %r", name, line)
    return CallToolResult(content=[TextContent(type="text", text=" ".join(line.split()))], is_error=True)


def _shown(key: str) -> str:
    return repr(key if len(key) <= 40 else key[:40] + "…")


def _near(key: str, accepted: tuple[str, ...]) -> str | None:
    """The argument a mistyped one probably meant: the same name in another case style, else a close spelling."""
    plain = key.replace("_", "").replace("-", "").lower()
    for name in accepted:
        if name.replace("_", "").lower() == plain:
            return name
    close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.75)
    return close[0] if close else None


def unknown_arguments_line(tool: str, unknown: list[str], accepted: tuple[str, ...]) -> str:
    """`unknown argument 'dryRun' (did you mean 'dry_run'?); evolve_skill takes name, mode, ...`."""
    shown = []
    for key in unknown[:5]:
        near = _near(key, accepted)
        shown.append(_shown(key) + (f" (did you mean {near!r}?)" if near else ""))
    if len(unknown) > 5:
        shown.append(f"and {len(unknown) - 5} more")
    noun = "argument" if len(unknown) == 1 else "arguments"
    takes = f"{tool} takes " + ", ".join(accepted) if accepted else f"{tool} takes no arguments"
    return f"unknown {noun} " + ", ".join(shown) + f"; {takes}"


def unknown_prompt_line(name: str, prompts: list[str]) -> str:
    return f"unknown prompt {_shown(name)}; the prompts are " + ", ".join(prompts)


def prompt_arguments_problem(prompt: Prompt, arguments: dict[str, Any]) -> str | None:
    """What is wrong with a prompt's arguments, in one line (unknown or missing ones), or None."""
    names = [argument.name for argument in prompt.arguments or []]
    unknown = [key for key in arguments if key not in names]
    if unknown:
        return unknown_arguments_line(f"the prompt {prompt.name}", unknown, tuple(names))
    missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in arguments]
    if missing:
        return (
            f"the prompt {prompt.name} needs the argument"
            + ("s " if len(missing) > 1 else " ")
            + ", ".join(repr(m) for m in missing)
        )
    return None


@contextmanager
def resource_errors() -> Iterator[None]:
    try:
        yield
    except (NotFound, InvalidInput) as e:
        raise ResourceNotFoundError(str(e)) from None
    except (ResourceError, MCPError):
        raise
    except Exception as e:
        raise ResourceError(one_line(e)) from None
