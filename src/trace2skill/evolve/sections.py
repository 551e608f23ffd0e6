"""Markdown section model for SKILL.md and reference files.

Edits anchor on sections by heading text, so this module answers two questions deterministically:
where are the sections of a file (by character offset into the original text), and which section
does a heading named by a model mean. Only ATX headings count (`#` .. `######`); a `#` inside a
fenced code block or inside the YAML frontmatter is not a heading. A section runs from its
heading line to the next heading of equal or higher level (so it includes its subsections).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "AnchorAmbiguous",
    "AnchorError",
    "AnchorNotFound",
    "Section",
    "body_start",
    "fence_ranges",
    "find_section",
    "frontmatter_end",
    "heading_query",
    "is_markdown_path",
    "normalise_heading",
    "parse_sections",
]

_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_QUERY = re.compile(r"^\s*(#{1,6})(?:[ \t]+|$)(.*)$", re.S)
_EMPHASIS = re.compile(r"[*_`]+")
_SPACES = re.compile(r"\s+")
_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")


class AnchorError(LookupError):
    """An anchor (section heading or exact text) that does not pick out exactly one place."""

    reason = "anchor error"


class AnchorNotFound(AnchorError):
    reason = "anchor not found"


class AnchorAmbiguous(AnchorError):
    reason = "anchor ambiguous"


@dataclass(frozen=True)
class Section:
    """One heading and everything under it, as offsets into the original text.

    `start` is the first character of the heading line, `body` the first character after the
    heading line's newline, `end` the first character of the next heading of equal or higher
    level (or the end of the text). `own_end` is where the section's own text ends: its first
    subsection's heading, or `end` when it has none. `line` is the 1-based line number of the heading.
    """

    level: int
    title: str
    start: int
    body: int
    end: int
    line: int
    own_end: int = -1

    def __post_init__(self) -> None:
        if self.own_end < 0:
            object.__setattr__(self, "own_end", self.end)

    @property
    def heading(self) -> str:
        return f"{'#' * self.level} {self.title}".rstrip()


def is_markdown_path(path: str) -> bool:
    """Section anchors only make sense in Markdown; in a script a `#` line is a comment."""
    return path.lower().endswith(_MARKDOWN_SUFFIXES)


def frontmatter_end(text: str) -> int:
    """Offset just past the YAML frontmatter's closing `---` line, or 0 when there is none.

    Frontmatter opens with a `---` line at the very start (a UTF-8 BOM is tolerated) and closes at
    the next line that is exactly `---` or `...`; an unclosed block is not frontmatter.
    """
    start = 1 if text.startswith("\ufeff") else 0
    first_nl = text.find("\n", start)
    if first_nl < 0 or text[start:first_nl].rstrip("\r").rstrip() != "---":
        return 0
    pos = first_nl + 1
    while pos <= len(text):
        nl = text.find("\n", pos)
        line_end = len(text) if nl < 0 else nl
        if text[pos:line_end].rstrip("\r").rstrip() in ("---", "..."):
            return len(text) if nl < 0 else nl + 1
        if nl < 0:
            return 0
        pos = nl + 1
    return 0


def body_start(text: str, path: str = "SKILL.md") -> int:
    """Where body text starts: after the frontmatter for Markdown files, else 0."""
    return frontmatter_end(text) if is_markdown_path(path) else 0


def _lines(text: str, offset: int) -> list[tuple[int, int, str]]:
    """(start, end-after-newline, line-without-newline) for each line from `offset`."""
    out = []
    pos = offset
    n = len(text)
    while pos < n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl + 1
        out.append((pos, end, text[pos : end if nl < 0 else nl].rstrip("\r")))
        pos = end
    return out


def _closes(line: str, char: str, length: int) -> bool:
    stripped = line.strip()
    indent = len(line) - len(line.lstrip(" "))
    return indent <= 3 and len(stripped) >= length and set(stripped) == {char}


@lru_cache(maxsize=64)
def _scan(text: str) -> tuple[tuple[tuple[int, str, int, int, int], ...], tuple[tuple[int, int], ...]]:
    """One pass over the body: ATX headings (level, title, start, body, line) and fence ranges.

    Cached by text: the guardrails and apply locate many edits on the same frozen S0.
    """
    heads: list[tuple[int, str, int, int, int]] = []
    fences: list[tuple[int, int]] = []
    fm_end = frontmatter_end(text)
    line_no = text.count("\n", 0, fm_end) + 1
    fence: tuple[str, int, int] | None = None  # (char, length, start)
    for start, end, line in _lines(text, fm_end):
        if fence is not None:
            if _closes(line, fence[0], fence[1]):
                fences.append((fence[2], end))
                fence = None
        else:
            opening = _FENCE_OPEN.match(line)
            if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
                fence = (opening.group(1)[0], len(opening.group(1)), start)
            else:
                m = _ATX.match(line)
                if m:
                    title = _CLOSING_HASHES.sub("", m.group(2) or "").strip()
                    heads.append((len(m.group(1)), title, start, end, line_no))
        line_no += 1
    if fence is not None:
        fences.append((fence[2], len(text)))
    return tuple(heads), tuple(fences)


def fence_ranges(text: str) -> list[tuple[int, int]]:
    """Character ranges of fenced code blocks in the body (an unclosed fence runs to the end)."""
    return list(_scan(text)[1])


def parse_sections(text: str) -> list[Section]:
    """Every ATX heading of the body as a Section, in document order."""
    return list(_sections(text))


@lru_cache(maxsize=64)
def _sections(text: str) -> tuple[Section, ...]:
    heads = _scan(text)[0]
    sections = []
    for i, (level, title, start, body, line) in enumerate(heads):
        end = len(text)
        for later in heads[i + 1 :]:
            if later[0] <= level:
                end = later[2]
                break
        own_end = heads[i + 1][2] if i + 1 < len(heads) and heads[i + 1][2] < end else end
        sections.append(Section(level=level, title=title, start=start, body=body, end=end, line=line, own_end=own_end))
    return tuple(sections)


def normalise_heading(title: str) -> str:
    """Case-, emphasis- and whitespace-insensitive form of a heading, for tolerant matching."""
    t = _EMPHASIS.sub("", title)
    t = _SPACES.sub(" ", t).strip().rstrip(":").strip()
    return t.casefold()


def heading_query(query: str) -> tuple[int | None, str]:
    """Split a model-written heading like ' ## Usage ' into (2, 'Usage'); no #'s gives level None."""
    m = _QUERY.match(query)
    if m:
        return len(m.group(1)), _CLOSING_HASHES.sub("", m.group(2)).strip()
    return None, query.strip()


def find_section(text_or_sections: str | list[Section], query: str, *, level: int | None = None) -> Section:
    """The one section a heading query names.

    Exact title match first, then a normalised one. Several matches are narrowed by the level the
    query gives (its #'s, or `level`); if that still leaves more than one, AnchorAmbiguous.
    A query whose #'s disagree with the only matching heading still matches it (models often get
    the level wrong). Raises AnchorNotFound when nothing matches.
    """
    sections = parse_sections(text_or_sections) if isinstance(text_or_sections, str) else text_or_sections
    qlevel, qtitle = heading_query(query)
    if level is not None:
        qlevel = level
    if not qtitle and qlevel is None:
        raise AnchorNotFound(f"empty section heading {query!r}")
    candidates = [s for s in sections if s.title == qtitle]
    if not candidates:
        norm = normalise_heading(qtitle)
        candidates = [s for s in sections if normalise_heading(s.title) == norm]
    if not candidates:
        raise AnchorNotFound(f"section {query.strip()!r} not found")
    if len(candidates) > 1 and qlevel is not None:
        same_level = [s for s in candidates if s.level == qlevel]
        if same_level:
            candidates = same_level
    if len(candidates) > 1:
        lines = ", ".join(str(s.line) for s in candidates)
        raise AnchorAmbiguous(
            f"section {query.strip()!r} is ambiguous: {len(candidates)} headings match (lines {lines})"
        )
    return candidates[0]
