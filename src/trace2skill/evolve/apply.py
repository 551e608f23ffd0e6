"""Deterministic application of a patch to a skill: code, never an LLM.

Every edit of a patch was written against the same frozen skill S0, so every anchor is resolved
on S0's text and all edits of one file are applied together in one sweep over the original
(equivalent to applying them from the end backwards): no edit ever sees another edit's output,
and the result does not depend on the order in which positions shift. Edits that cannot be placed
(missing or ambiguous anchor, a file that does not exist, an overlap with an earlier edit, an
unsafe or protected path) are dropped with a one-line reason instead of being guessed at.

Anchors by op (positions are offsets into the original text):

- `insert_after` / `insert_before`: `target_text`, searched inside `target_section` when given
  (falling back to the whole body when the text is not in that section but is unique in the
  file). If the anchor ends a line (starts one, for `insert_before`) the content goes in as its
  own block on the next line (the line before); otherwise it is spliced inline, verbatim. With
  only `target_section`: `insert_after` behaves as `append_to_section`, `insert_before` puts the
  content before the section's heading.
- `append_to_section`: at the end of `target_section`. Text goes at the end of the section's own
  text, before its first subsection (after the subsections it would read as part of the last
  one); content opening with a deeper heading goes after the subsections, before the next
  heading of equal or higher level.
- `replace_in_section`: `old_text` becomes `content` (empty content deletes it), inside
  `target_section` or the whole body; with no section, text only found in the YAML frontmatter
  is replaced there (how validation fixes edit `name:` / `description:`). Content that repeats at
  least 20 characters of the text right after (or before) `old_text` replaces that text too, so
  nothing reads twice; content that only restates its surroundings is dropped as no change.
- `add_section`: `content` (which starts with a heading) after the end of `after_section`
  (after its subsections), or at the end of the file.
- `delete_section`: the heading and everything under it, subsections included.
- `create` / `delete_file`: the whole file. `create` of an existing file is refused unless the
  content is identical (then it is a no-op).

Several insertions at one point are applied together: appends (which close the section ending
there) first, then text-anchored insertions, then new sections, each group in patch order.
Inside a fenced code block an inserted block is added line by line, without blank-line padding.

Text anchors match exactly first; failing that, the anchor with its outer whitespace stripped,
then with any run of whitespace matching any run; each must still match exactly once in scope.
Inserted blocks are separated from their neighbours by one blank line (one newline between list
items or table rows, so lists stay tight).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from trace2skill.evolve.sections import (
    AnchorAmbiguous,
    AnchorError,
    AnchorNotFound,
    Section,
    body_start,
    fence_ranges,
    find_section,
    heading_query,
    is_markdown_path,
    parse_sections,
)
from trace2skill.models import LIMITS, Edit, Patch, Skill, SkillFile

__all__ = [
    "DEFAULT_ALLOWED_DIRS",
    "DEFAULT_PROTECTED",
    "FILE_OPS",
    "SECTION_OPS",
    "ApplyResult",
    "DroppedEdit",
    "InvalidEdit",
    "Location",
    "Span",
    "apply_patch",
    "edit_label",
    "edits_conflict",
    "find_edit_span",
    "is_protected",
    "locate_edit",
    "no_new_executables",
    "unsafe_path_reason",
]

DEFAULT_PROTECTED: frozenset[str] = frozenset({"LICENSE", "LICENSE.txt", "LICENSE.md"})
"""Never edited, created or deleted. Entries are paths or glob patterns; an entry without '/'
also matches that file name in any folder."""

DEFAULT_ALLOWED_DIRS: tuple[str, ...] = ("references", "scripts", "assets")
FILE_OPS = frozenset({"create", "delete_file"})
SECTION_OPS = frozenset({"append_to_section", "delete_section", "add_section"})

Mode = Literal["block", "inline", "replace", "delete", "file"]


class InvalidEdit(ValueError):
    """An edit whose shape cannot work (missing anchor or content, section op on a non-Markdown file)."""


class DroppedEdit(BaseModel):
    """An edit that was not applied, why, and at which stage ('guardrail.path', 'apply', ...)."""

    model_config = ConfigDict(frozen=True)

    edit: Edit
    reason: str
    stage: str


@dataclass(frozen=True)
class Span:
    """Half-open character range [start, end) of the original text; start == end is a point."""

    start: int
    end: int

    @property
    def is_point(self) -> bool:
        return self.start == self.end


@dataclass(frozen=True)
class Location:
    """Where an edit acts on the original text.

    `span` is the text it rewrites (a point for insertions); `anchor` is text it depends on but
    leaves alone (the line or heading it inserts next to), so an edit that rewrites another
    edit's anchor conflicts with it.
    """

    span: Span
    mode: Mode
    anchor: Span | None = None


@dataclass
class ApplyResult:
    skill: Skill
    applied: list[Edit] = field(default_factory=list)
    dropped: list[DroppedEdit] = field(default_factory=list)

    @property
    def changed_files(self) -> list[str]:
        return sorted({e.file for e in self.applied})


# --- paths ----------------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f\\:*?"<>|]')


def unsafe_path_reason(path: str, allowed_dirs: Iterable[str] = DEFAULT_ALLOWED_DIRS) -> str | None:
    """Why a path may not be written inside a skill, or None when it is safe.

    Safe means: relative, POSIX, already normal (no '.', '..' or empty components), no NUL,
    control or Windows-special characters, and either `SKILL.md` or a file under one of the
    allowed folders. Case-folded `skill.md` look-alikes are refused too: on a case-insensitive
    file system they would overwrite SKILL.md.
    """
    if not path:
        return "empty path"
    if "\x00" in path:
        return "path contains a NUL byte"
    if "\\" in path:
        return f"path {path!r} contains a backslash"
    if path.startswith("/") or _DRIVE.match(path) or path.startswith("~"):
        return f"path {path!r} is absolute"
    parts = path.split("/")
    if any(p == ".." for p in parts):
        return f"path {path!r} contains '..'"
    if any(p in ("", ".") for p in parts):
        return f"path {path!r} is not normalised"
    if _BAD_CHARS.search(path):
        return f"path {path!r} contains a control or reserved character"
    if any(p.endswith((".", " ")) or len(p) > 255 for p in parts):
        return f"path {path!r} has a component that is not portable"
    if posixpath.normpath(path) != path:
        return f"path {path!r} is not normalised"
    if path == "SKILL.md":
        return None
    if path.casefold() == "skill.md":
        return f"path {path!r} differs from SKILL.md only by case"
    if len(parts) < 2 or parts[0] not in tuple(allowed_dirs):
        dirs = ", ".join(f"{d}/" for d in allowed_dirs)
        return f"path {path!r} is outside SKILL.md and {dirs}"
    return None


def is_protected(path: str, protected: Iterable[str] = DEFAULT_PROTECTED) -> bool:
    """True when `path` matches a protected entry (exact path, glob, or bare file name)."""
    name = path.rsplit("/", 1)[-1]
    for entry in protected:
        if fnmatch.fnmatchcase(path, entry):
            return True
        if "/" not in entry and fnmatch.fnmatchcase(name, entry):
            return True
    return False


# --- locating edits -------------------------------------------------------------------------------


def _given(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def _preview(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return repr(one if len(one) <= limit else one[: limit - 1] + "…")


def _exact_hits(text: str, needle: str, lo: int, hi: int) -> list[tuple[int, int]]:
    hits = []
    pos = text.find(needle, lo, hi)
    while pos >= 0:
        hits.append((pos, pos + len(needle)))
        pos = text.find(needle, pos + 1, hi)
    return hits


def _match_text(text: str, needle: str, lo: int, hi: int, what: str) -> tuple[int, int]:
    """The unique place `needle` occurs in text[lo:hi]: exact, then stripped, then whitespace-flexible."""
    hits = _exact_hits(text, needle, lo, hi)
    if not hits and needle.strip() and needle.strip() != needle:
        hits = _exact_hits(text, needle.strip(), lo, hi)
    if not hits:
        tokens = needle.split()
        if tokens:
            pattern = re.compile(r"\s+".join(re.escape(t) for t in tokens))
            hits = [m.span() for m in pattern.finditer(text, lo, hi)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise AnchorNotFound(f"{what} {_preview(needle)} not found")
    raise AnchorAmbiguous(f"{what} {_preview(needle)} occurs {len(hits)} times")


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    """Offset just past the newline that ends the line containing pos (or the end of text)."""
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _section(sections: list[Section], query: str, markdown: bool, op: str) -> Section:
    if not markdown:
        raise InvalidEdit(f"{op} needs a Markdown file: section anchors mean nothing elsewhere")
    return find_section(sections, query)


def _find_anchor_text(
    text: str, needle: str, edit: Edit, sections: list[Section], markdown: bool, lo: int, what: str
) -> tuple[int, int]:
    """Find `needle` within the edit's section when it names one, else (or failing that) the body."""
    scoped_error: AnchorError | None = None
    if markdown and _given(edit.target_section):
        try:
            sec = find_section(sections, edit.target_section or "")
        except AnchorError as e:
            scoped_error = e
        else:
            try:
                return _match_text(text, needle, sec.start, sec.end, what)
            except AnchorNotFound as e:  # ambiguity inside the section is final
                scoped_error = e
    try:
        return _match_text(text, needle, lo, len(text), what)
    except AnchorNotFound:
        if edit.op == "replace_in_section" and not _given(edit.target_section) and lo > 0:
            return _match_text(text, needle, 0, lo, what)
        if scoped_error is not None:
            raise AnchorNotFound(f"{what} {_preview(needle)} not found ({scoped_error})") from None
        raise


RESTATED_MIN_CHARS = 20
"""A replacement that repeats at least this much of the text right after (or before) its `old_text` means
to replace that text too: left in place it would read twice (seen from a 1.5B merger: `old_text` "the
cell text for names", content "the cell text for names, a plain number for counts and totals", followed in
the file by ", a plain number for counts and totals")."""


def _words(text: str) -> str:
    return " ".join(text.split())


def _normalised(text: str) -> tuple[str, list[int]]:
    """`text` with each run of whitespace as one space, and where each of its characters came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch)
        where.append(i)
    return "".join(out), where


def _without_restated_context(text: str, a: int, b: int, content: str | None) -> tuple[int, int]:
    """Widen [a, b) over the text next to it that `content` restates: the longest end of `content` that
    the text after `b` starts with (the longest start of it that the text before `a` ends with), compared
    with runs of whitespace as one space, when that is at least RESTATED_MIN_CHARS long."""
    new = _words(content or "")
    if len(new) < RESTATED_MIN_CHARS:
        return a, b
    after, after_at = _normalised(text[b : b + 4 * len(new)])
    lead = len(after) - len(after.lstrip())
    for k in range(min(len(new), len(after) - lead), RESTATED_MIN_CHARS - 1, -1):
        if after[lead : lead + k] == new[-k:] and (lead + k == len(after) or not after[lead + k].isalnum()):
            b += after_at[lead + k - 1] + 1
            break
    before, before_at = _normalised(text[max(0, a - 4 * len(new)) : a])
    start = max(0, a - 4 * len(new))
    trail = len(before) - len(before.rstrip())
    end = len(before) - trail
    for k in range(min(len(new), end), RESTATED_MIN_CHARS - 1, -1):
        if before[end - k : end] == new[:k] and (end - k == 0 or not before[end - k - 1].isalnum()):
            a = start + before_at[end - k]
            break
    return a, b


def _section_end_for(sec: Section, content: str) -> int:
    """Where content appended to a section goes.

    Text and list items go at the end of the section's own text, before its first subsection
    (after the subsections they would read as part of the last one); content that opens with a
    heading deeper than the section goes after the subsections, as its last subsection.
    """
    level, _ = heading_query(content.strip().split("\n", 1)[0])
    if level is not None and level > sec.level:
        return sec.end
    return sec.own_end


def locate_edit(text: str, edit: Edit) -> Location:
    """Resolve an edit's anchors on the original text of its file.

    Raises AnchorNotFound / AnchorAmbiguous (anchors) or InvalidEdit (shape).
    """
    op = edit.op
    if op in FILE_OPS:
        return Location(Span(0, len(text)), "file")
    markdown = is_markdown_path(edit.file)
    lo = body_start(text, edit.file)
    sections = parse_sections(text) if markdown else []

    if op in ("insert_after", "insert_before"):
        if not _given(edit.content):
            raise InvalidEdit(f"{op} needs content")
        if _given(edit.target_text):
            a, b = _find_anchor_text(text, edit.target_text or "", edit, sections, markdown, lo, "target_text")
            if op == "insert_after":
                if text[b - 1 : b] == "\n" or text[b : _line_end(text, b)].strip() == "":
                    point = b if text[b - 1 : b] == "\n" else _line_end(text, b)
                    return Location(Span(point, point), "block", Span(a, b))
                return Location(Span(b, b), "inline", Span(a, b))
            if text[_line_start(text, a) : a].strip() == "":
                point = _line_start(text, a)
                return Location(Span(point, point), "block", Span(a, b))
            return Location(Span(a, a), "inline", Span(a, b))
        if _given(edit.target_section):
            sec = _section(sections, edit.target_section or "", markdown, op)
            point = _section_end_for(sec, edit.content or "") if op == "insert_after" else sec.start
            return Location(Span(point, point), "block", Span(sec.start, sec.body))
        raise InvalidEdit(f"{op} needs target_text or target_section")

    if op == "append_to_section":
        if not _given(edit.content):
            raise InvalidEdit("append_to_section needs content")
        if not _given(edit.target_section):
            raise InvalidEdit("append_to_section needs target_section")
        sec = _section(sections, edit.target_section or "", markdown, op)
        point = _section_end_for(sec, edit.content or "")
        return Location(Span(point, point), "block", Span(sec.start, sec.body))

    if op == "replace_in_section":
        if edit.old_text is None or edit.old_text == "":
            raise InvalidEdit("replace_in_section needs old_text")
        if edit.content is None:
            raise InvalidEdit("replace_in_section needs content (empty to delete the text)")
        a, b = _find_anchor_text(text, edit.old_text, edit, sections, markdown, lo, "old_text")
        a, b = _without_restated_context(text, a, b, edit.content)
        if edit.content and _words(text[a:b]) == _words(edit.content):
            raise InvalidEdit("content only restates the text it replaces and the text around it: no change")
        return Location(Span(a, b), "replace")

    if op == "add_section":
        if not _given(edit.content):
            raise InvalidEdit("add_section needs content")
        if not markdown:
            raise InvalidEdit("add_section needs a Markdown file")
        if _given(edit.after_section):
            sec = _section(sections, edit.after_section or "", markdown, op)
            return Location(Span(sec.end, sec.end), "block", Span(sec.start, sec.body))
        return Location(Span(len(text), len(text)), "block")

    if op == "delete_section":
        if not _given(edit.target_section):
            raise InvalidEdit("delete_section needs target_section")
        sec = _section(sections, edit.target_section or "", markdown, op)
        return Location(Span(sec.start, sec.end), "delete")

    raise InvalidEdit(f"unknown op {op!r}")


def find_edit_span(text: str, edit: Edit) -> Span | None:
    """The text an edit rewrites (a point for insertions) in the original file, or None if its
    anchors do not pick out exactly one place (or the edit is malformed)."""
    try:
        return locate_edit(text, edit).span
    except (AnchorError, InvalidEdit):
        return None


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _rewrite_hits(writer: Location, other: Location) -> bool:
    """Does `writer`'s rewritten text touch `other`'s span or anchor?"""
    w = writer.span
    if w.is_point:
        return False
    o = other.span
    if o.is_point:
        if w.start < o.start < w.end:
            return True
    elif _overlaps(w, o):
        return True
    return other.anchor is not None and _overlaps(w, other.anchor)


def edits_conflict(a: Location, b: Location) -> bool:
    """Two edits of one file conflict when one rewrites text the other rewrites or anchors on.

    Two insertions at the same point do not conflict: they are applied together, in patch order.
    File-level ops (create, delete_file) conflict with every other edit of the same file.
    """
    if a.mode == "file" or b.mode == "file":
        return True
    return _rewrite_hits(a, b) or _rewrite_hits(b, a)


def edit_label(edit: Edit, index: int | None = None) -> str:
    """How reasons name an edit: its id, else its position in the patch."""
    if edit.id:
        return edit.id
    return f"#{index + 1}" if index is not None else f"{edit.op} on {edit.file}"


# --- rendering ------------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])(?:\s|$)")
_TABLE_ROW = re.compile(r"^\s*\|")
_LEADING_BLANK = re.compile(r"\A(?:[ \t]*\n)+")


def _kind(line: str) -> str:
    if _LIST_ITEM.match(line):
        return "list"
    if _TABLE_ROW.match(line):
        return "table"
    return "block"


def _separator(before_line: str, after_line: str) -> str:
    """One blank line between blocks; a single newline between items of one list or table."""
    kind = _kind(before_line)
    return "\n" if kind != "block" and kind == _kind(after_line) else "\n\n"


def _first_line(s: str) -> str:
    return s.split("\n", 1)[0]


def _last_line(s: str) -> str:
    return s.rsplit("\n", 1)[-1]


def _as_block(content: str) -> str:
    return _LEADING_BLANK.sub("", content).rstrip()


class _Renderer:
    """Builds a file's new text from original slices and edit outputs, tidying seams."""

    def __init__(self) -> None:
        self.out = ""
        self.pending: str | None = None  # last line of a block that still needs its separator
        self.collapse = False  # a replace/delete seam: at most one blank line across it

    def put(self, s: str, *, tidy: bool = True) -> None:
        if not s:
            return
        if self.pending is not None:
            rest = _LEADING_BLANK.sub("", s)
            if not rest:
                return
            self.out += _separator(self.pending, _first_line(rest)) + rest
            self.pending = None
            self.collapse = False
            return
        if self.collapse and tidy:
            trailing = len(self.out) - len(self.out.rstrip("\n"))
            leading = len(s) - len(s.lstrip("\n"))
            if not self.out.strip():
                s = s.lstrip("\n")
            elif trailing + leading > 2:
                s = s[min(leading, trailing + leading - 2) :]
        self.collapse = False
        self.out += s

    def block(self, content: str) -> None:
        b = _as_block(content)
        if not b:
            return
        if self.pending is not None:
            self.out += _separator(self.pending, _first_line(b)) + b
        else:
            head = self.out.rstrip()
            self.out = head + _separator(_last_line(head), _first_line(b)) + b if head else b
        self.pending = _last_line(b)
        self.collapse = False

    def seam(self, tidy: bool) -> None:
        self.collapse = tidy

    def finish(self) -> str:
        if self.pending is not None:
            self.out += "\n"
        elif self.collapse and self.out.strip():
            self.out = self.out.rstrip("\n") + "\n"
        return self.out


def _in_fence(pos: int, fences: list[tuple[int, int]]) -> bool:
    return any(a < pos < b for a, b in fences)


def _rank(edit: Edit) -> int:
    """Order of insertions at one point: what closes the section ending there (appends) first,
    then text-anchored insertions, then a new section starting there."""
    if edit.op == "append_to_section" or (edit.op == "insert_after" and not _given(edit.target_text)):
        return 0
    return 2 if edit.op == "add_section" else 1


def _render(text: str, placed: list[tuple[Location, Edit]], markdown: bool) -> str:
    """Apply non-conflicting located edits to `text` in one sweep over the original."""
    fences = fence_ranges(text) if markdown else []
    order = sorted(
        range(len(placed)),
        key=lambda i: (placed[i][0].span.start, 0 if placed[i][0].span.is_point else 1, _rank(placed[i][1]), i),
    )
    r = _Renderer()
    cursor = 0
    for i in order:
        loc, edit = placed[i]
        r.put(text[cursor : loc.span.start])
        content = edit.content or ""
        if loc.mode == "block" and _in_fence(loc.span.start, fences):
            r.put(_as_block(content) + "\n", tidy=False)
        elif loc.mode == "block":
            r.block(content)
        elif loc.mode == "inline":
            r.put(content, tidy=False)
        elif loc.mode == "replace":
            tidy = markdown and not _in_fence(loc.span.start, fences)
            r.seam(tidy)
            r.put(content)
            r.seam(tidy and not _in_fence(loc.span.end, fences))
        elif loc.mode == "delete":
            r.seam(markdown)
        cursor = loc.span.end
    r.put(text[cursor:])
    return r.finish()


# --- applying -------------------------------------------------------------------------------------


def _new_file(path: str, content: str) -> SkillFile:
    """A file an edit creates: never executable, since no person has read what a model wrote."""
    data = content if content.endswith("\n") or not content else content + "\n"
    return SkillFile(path=path, data=data.encode("utf-8"))


def no_new_executables(base: Skill, skill: Skill) -> Skill:
    """`skill` with the executable bit kept only on files whose content is unchanged from `base`.

    An evolution never makes code runnable: a new file is plain, and an executable file whose content
    an edit changed loses its bit (the diff shows the mode change; a person restores it after review).
    """
    before = {f.path: f for f in base.files}
    plain = []
    changed = False
    for f in skill.files:
        old = before.get(f.path)
        keep = f.executable and old is not None and old.executable and old.data == f.data
        changed = changed or keep != f.executable
        plain.append(f if keep == f.executable else f.model_copy(update={"executable": keep}))
    return Skill(name=skill.name, files=tuple(plain)) if changed else skill


def apply_patch(
    skill: Skill,
    patch: Patch,
    *,
    protected: frozenset[str] = DEFAULT_PROTECTED,
    allowed_dirs: tuple[str, ...] = DEFAULT_ALLOWED_DIRS,
) -> ApplyResult:
    """Apply a patch's edits to `skill` (S0) and return the new skill plus what was applied or dropped.

    Deterministic and safe on any input: unsafe paths and protected files are refused even if the
    caller skipped the guardrails, and overlapping edits keep the first in patch order (the
    guardrails choose by support before this point).
    """
    applied: list[tuple[int, Edit]] = []
    dropped: list[tuple[int, DroppedEdit]] = []

    def drop(index: int, edit: Edit, reason: str) -> None:
        dropped.append((index, DroppedEdit(edit=edit, reason=reason, stage="apply")))

    by_file: dict[str, list[tuple[int, Edit]]] = {}
    for index, edit in enumerate(patch.edits):
        reason = unsafe_path_reason(edit.file, allowed_dirs)
        if reason is not None:
            drop(index, edit, f"unsafe path: {reason}")
        elif is_protected(edit.file, protected):
            drop(index, edit, f"protected file {edit.file!r}")
        else:
            by_file.setdefault(edit.file, []).append((index, edit))

    changes: dict[str, bytes | None] = {}
    created: dict[str, SkillFile] = {}
    room = LIMITS.skill_files - len(skill.files)
    for path, edits in by_file.items():
        current = skill.file(path)
        if current is not None and not current.is_text:
            for index, edit in edits:
                drop(index, edit, f"{path!r} is not a UTF-8 text file")
            continue
        text = current.text if current is not None else ""
        placed: list[tuple[Location, Edit, int]] = []
        for index, edit in edits:
            problem = _file_problem(edit, path, current)
            if problem is not None:
                drop(index, edit, problem)
                continue
            try:
                loc = locate_edit(text, edit)
            except AnchorError as e:
                drop(index, edit, f"{e.reason}: {e}")
                continue
            except InvalidEdit as e:
                drop(index, edit, f"invalid edit: {e}")
                continue
            clash = next(((o, i) for other, o, i in placed if edits_conflict(other, loc)), None)
            if clash is not None:
                drop(index, edit, f"overlaps edit {edit_label(*clash)}")
                continue
            placed.append((loc, edit, index))
        if not placed:
            continue
        loc, first, index = placed[0]
        if loc.mode == "file":  # alone on its file: every other edit of the file conflicted with it
            if first.op == "delete_file":
                changes[path] = None
                room += 1
            elif current is None:
                if room <= 0:
                    drop(index, first, f"the skill already has {LIMITS.skill_files} files")
                    continue
                created[path] = _new_file(path, first.content or "")
                room -= 1
            applied.append((index, first))
            continue
        new_text = _render(text, [(loc, e) for loc, e, _ in placed], is_markdown_path(path))
        data = new_text.encode("utf-8")
        if len(data) > LIMITS.skill_file_bytes:
            for _, edit, index in placed:
                limit = LIMITS.skill_file_bytes
                drop(index, edit, f"{path!r} would grow to {len(data):,} bytes; the limit is {limit:,}")
            continue
        changes[path] = data
        applied.extend((index, e) for _, e, index in placed)

    new_skill = skill.with_files(changes) if changes else skill
    if created:
        files = {f.path: f for f in new_skill.files} | created
        new_skill = Skill(name=skill.name, files=tuple(sorted(files.values(), key=lambda f: f.path)))
    new_skill = no_new_executables(skill, new_skill)
    applied.sort(key=lambda pair: pair[0])
    dropped.sort(key=lambda pair: pair[0])
    return ApplyResult(skill=new_skill, applied=[e for _, e in applied], dropped=[d for _, d in dropped])


def _file_problem(edit: Edit, path: str, current: SkillFile | None) -> str | None:
    """Whether the edit's file exists as the op needs, before any anchor is looked at."""
    if edit.op == "create":
        if edit.content is None:
            return "create needs content"
        if current is not None and _new_file(path, edit.content).data != current.data:
            return f"create of {path!r}: the file already exists"
        return None
    if current is None:
        return f"file {path!r} does not exist in the skill"
    if edit.op == "delete_file" and path == "SKILL.md":
        return "SKILL.md cannot be deleted"
    return None
