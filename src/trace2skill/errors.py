"""The errors trace2skill raises on purpose: each carries one clear line for the user.

The CLI prints `Error: <message>` to stderr and exits non-zero; the MCP server turns them into tool
errors the model can read. Anything else is a bug and is reported as such.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "OutputCutOff",
    "ProviderError",
    "Trace2SkillError",
    "UnsafePath",
]


class Trace2SkillError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class InvalidInput(Trace2SkillError, ValueError):
    """Input that does not fit a contract (a trajectory, a skill, an option)."""


class NotFound(Trace2SkillError, LookupError):
    """An id, skill, version or run that does not exist."""


class UnsafePath(InvalidInput):
    """A path or name that would escape its folder: '..', absolute, a symlink outside, NUL bytes."""


class Conflict(Trace2SkillError):
    """The request contradicts the current state (e.g. a published skill changed underneath)."""


class BudgetExceeded(Trace2SkillError):
    """The run's token or dollar budget is spent; no new LLM calls start."""


class ProviderError(Trace2SkillError):
    """An LLM provider failed after retries, or returned output that could not be repaired."""


class OutputCutOff(ProviderError):
    """An answer stopped at its output cap (max_tokens) and could not be used; a larger cap or a smaller ask fits."""
