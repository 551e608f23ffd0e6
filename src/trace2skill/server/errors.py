"""The library's one-line errors, as the MCP errors a client shows.

In a tool, every failure becomes a ToolError whose text is the one line the CLI would print after
`Error:` (`trace2skill.explain`): the SDK answers it as a result with `isError: true` that the model
reads and can act on, never as a JSON-RPC error, and never as the bare "Error executing tool" the SDK
gives for an exception it does not know. A bug says it is one; its traceback goes to the server log.
In a resource read, a missing or malformed target is `-32602` (ResourceNotFoundError) and any other
failure `-32603` (ResourceError), both with the same line.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from trace2skill.errors import InvalidInput, NotFound
from trace2skill.explain import bug_line, explain
from trace2skill.models import describe_validation_error

__all__ = ["one_line", "one_line_argument_error", "one_line_errors", "resource_errors", "tool_errors"]

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


def one_line_argument_error(name: str, error: ToolError) -> ToolError:
    """The SDK's refusal of arguments that do not fit a tool's schema (a multi-line pydantic dump with links)
    as one line naming each field, like every other tool error; other ToolErrors are returned as they are."""
    cause = error.__cause__
    if isinstance(error, UnexpectedToolError) or not isinstance(cause, ValidationError):
        return error
    refused = ToolError(f"Error executing tool {name}: invalid arguments: {describe_validation_error(cause)}")
    refused.__cause__ = cause  # the SDK logs the refused fields' names from it
    return refused


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
