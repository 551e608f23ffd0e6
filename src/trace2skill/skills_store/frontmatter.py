"""SKILL.md frontmatter: split it from the body and read it the lenient way loaders do.

The Agent Skills integration guide asks loaders to be lenient: SKILL.md files written by hand often
carry an unquoted colon in the description (`description: Use when: the user asks...`), which is
invalid YAML. We retry such files with those values quoted, and say so (`repaired`) so that strict
validation can still report it. The raw frontmatter text is kept so that an edit of the body can
splice it back unchanged and keep diffs minimal.

Servers read the same frontmatter on every request (get_skill, skills/get), and pure-Python YAML
parsing was most of a get_skill call: a frontmatter is parsed once per text (a version's content
never changes, so once per digest), with libyaml's loader where PyYAML has it, and every caller
gets its own copy of the result.
"""

from __future__ import annotations

import copy
import functools
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
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (same results, about 10x faster)."""
PARSED_CACHE_SIZE = 512
CACHED_FRONTMATTER_CHARS = 64 * 1024
"""Longer frontmatter (no real skill has one) is parsed each time rather than held in memory."""


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


def _load(raw: str, loader: type[yaml.SafeLoader] = _LOADER) -> Any:
    return yaml.load(raw, Loader=loader) if raw.strip() else {}  # both loaders are safe loaders


def read_frontmatter(text: str) -> Frontmatter:
    """Parse a SKILL.md leniently. Raises InvalidInput only when nothing sensible can be read."""
    raw, body = split_frontmatter(text)
    if raw is None:
        return Frontmatter(data={}, body=body, raw=None)
    if len(raw) > CACHED_FRONTMATTER_CHARS:
        data, repaired = _parse(raw)
    else:
        cached, repaired = _parse_cached(raw)
        data = copy.deepcopy(cached)  # the cached mapping is shared: nobody may change it
    return Frontmatter(data=data, body=body, raw=raw, repaired=repaired)


def _parse(raw: str) -> tuple[dict[str, Any], bool]:
    """(mapping, repaired) of one frontmatter text."""
    try:
        return _mapping(_load(raw)), False
    except yaml.YAMLError:
        pass
    repaired = False
    try:  # invalid YAML: everything again with the pure-Python loader, whose messages name the problem
        data = _load(raw, yaml.SafeLoader)
    except yaml.YAMLError as first:
        try:
            data = _load(_quote_colon_values(raw), yaml.SafeLoader)
        except yaml.YAMLError:
            where = getattr(first, "problem_mark", None)
            at = f" (line {where.line + 2})" if where is not None else ""
            problem = getattr(first, "problem", None) or str(first).splitlines()[0]
            raise InvalidInput(f"SKILL.md frontmatter is not valid YAML{at}: {problem}") from None
        repaired = True
    return _mapping(data), repaired


def _mapping(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"SKILL.md frontmatter must be a mapping of keys to values, got {type(data).__name__}")
    return {str(k): v for k, v in data.items()}


_parse_cached = functools.lru_cache(maxsize=PARSED_CACHE_SIZE)(_parse)


def parse_frontmatter(text: str) -> tuple[dict[str, Any], str]:
    """(frontmatter mapping, body), lenient about unquoted colons; ({}, text) when there is none."""
    fm = read_frontmatter(text)
    return fm.data, fm.body
