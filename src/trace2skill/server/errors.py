"""The library's one-line errors, as the MCP errors a client shows.

In a tool, an expected failure becomes a ToolError: the model reads the message and can correct its
call. In a resource read, a missing or malformed target is `-32602` (ResourceNotFoundError) and any
other expected failure `-32603` (ResourceError), both with the library's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import ValidationError

from trace2skill.errors import InvalidInput, NotFound, Trace2SkillError
from trace2skill.models import describe_validation_error

__all__ = ["resource_errors", "tool_errors"]


@contextmanager
def tool_errors() -> Iterator[None]:
    """Re-raise trace2skill errors and pydantic validation errors as ToolError with their message."""
    try:
        yield
    except Trace2SkillError as e:
        raise ToolError(str(e)) from None
    except ValidationError as e:
        raise ToolError(describe_validation_error(e)) from None


@contextmanager
def resource_errors() -> Iterator[None]:
    try:
        yield
    except (NotFound, InvalidInput) as e:
        raise ResourceNotFoundError(str(e)) from None
    except Trace2SkillError as e:
        raise ResourceError(str(e)) from None
