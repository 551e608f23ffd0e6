"""SKILL.md frontmatter: split it from the body and read it the lenient way loaders do.

The Agent Skills integration guide asks loaders to be lenient: SKILL.md files written by hand often
carry an unquoted colon in the description (`description: Use when: the user asks...`), which is
invalid YAML. We retry such files with those values quoted, and say so (`repaired`) so that strict
validation can still report it. The raw frontmatter text is kept so that an edit of the body can
splice it back unchanged and keep diffs minimal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from trace2skill.errors import InvalidInput

__all__ = ["Frontmatter", "parse_frontmatter", "read_frontmatter", "split_frontmatter"]

_OPEN = re.compile(r"\A\ufeff?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_TOP_KEY = re.compile(r"^([A-Za-z0-9_.-]+):[ \t]+(.*?)[ \t]*$")


@dataclass(frozen=True)
class Frontmatter:
    """What a SKILL.md says about itself."""

    data: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    raw: str | None = None
    """The frontmatter text between the `---` lines, or None when the file has none."""
    repaired: bool = False
    """True when the YAML parsed only after quoting values that hold an unquoted ': '."""


def split_frontmatter(text: str) -> tuple[str | None, str]:
    """(frontmatter text or None, body). Raises InvalidInput when a `---` block is never closed."""
    opening = _OPEN.match(text)
    if not opening:
        return None, text
    closing = _CLOSE.search(text, opening.end())
    if not closing:
        raise InvalidInput("SKILL.md frontmatter starts with '---' but has no closing '---' line")
    raw = text[opening.end() : closing.start()]
    body = text[closing.end() :]
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    return raw, body


def _quote_colon_values(raw: str) -> str:
    """Quote top-level `key: value` values that contain ': ', as lenient loaders do."""
    lines = []
    for line in raw.splitlines():
        m = _TOP_KEY.match(line)
        value = m.group(2) if m else ""
        if m and ":" in value and not value.startswith(("'", '"', "|", ">", "[", "{", "&", "*", "!")):
            line = f"{m.group(1)}: {json.dumps(value, ensure_ascii=False)}"
        lines.append(line)
    return "\n".join(lines)


def _load(raw: str) -> Any:
    return yaml.safe_load(raw) if raw.strip() else {}


def read_frontmatter(text: str) -> Frontmatter:
    """Parse a SKILL.md leniently. Raises InvalidInput only when nothing sensible can be read."""
    raw, body = split_frontmatter(text)
    if raw is None:
        return Frontmatter(data={}, body=body, raw=None)
    repaired = False
    try:
        data = _load(raw)
    except yaml.YAMLError as first:
        try:
            data = _load(_quote_colon_values(raw))
        except yaml.YAMLError:
            where = getattr(first, "problem_mark", None)
            at = f" (line {where.line + 2})" if where is not None else ""
            problem = getattr(first, "problem", None) or str(first).splitlines()[0]
            raise InvalidInput(f"SKILL.md frontmatter is not valid YAML{at}: {problem}") from None
        repaired = True
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput(f"SKILL.md frontmatter must be a mapping of keys to values, got {type(data).__name__}")
    return Frontmatter(data={str(k): v for k, v in data.items()}, body=body, raw=raw, repaired=repaired)


def parse_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """(frontmatter mapping, body), lenient about unquoted colons; ({}, text) when there is none."""
    fm = read_frontmatter(text)
    return fm.data, fm.body
