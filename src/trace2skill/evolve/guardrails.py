"""Deterministic guardrails between the merge and the apply step.

A merged patch is an LLM's output; before it touches a skill, code decides which of its edits are
safe and coherent. Each rule is a plain function over a list of edits returning what it keeps and
what it drops (with a one-line reason), so each can be tested and reasoned about alone;
`check_patch` runs them in order:

1. shape: a known op with the anchors and content it needs, content within size limits;
2. paths: relative, normalised, inside SKILL.md or the allowed folders, no case look-alikes;
3. protected: protected files are never created, edited or deleted;
4. duplicates: exact duplicates collapse into one edit carrying the union of their support;
5. anchors: files exist as the op needs and anchors pick out exactly one place in S0; an anchor
   that does not is set aside for LLM repair (`repair_pending=True`) or dropped;
6. pairing, overlaps, pairing again: a created file travels with a SKILL.md mention of it, a
   link to a file that will not exist is dropped, a deleted file's link must go too; no two edits
   of one file touch overlapping text (the one with more support wins, then the earlier).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from trace2skill.errors import InvalidInput
from trace2skill.evolve.apply import (
    DEFAULT_ALLOWED_DIRS,
    DEFAULT_PROTECTED,
    FILE_OPS,
    SECTION_OPS,
    DroppedEdit,
    InvalidEdit,
    Location,
    apply_patch,
    edit_label,
    edits_conflict,
    is_protected,
    locate_edit,
    unsafe_path_reason,
)
from trace2skill.evolve.sections import AnchorError, heading_query, is_markdown_path
from trace2skill.models import EDIT_OPS, LIMITS, Edit, Patch, Skill
from trace2skill.skills_store import safe_relpath

__all__ = [
    "DEFAULT_ALLOWED_DIRS",
    "DEFAULT_PROTECTED",
    "GuardrailResult",
    "RuleResult",
    "check_anchors",
    "check_duplicates",
    "check_overlaps",
    "check_pairing",
    "check_patch",
    "check_paths",
    "check_protected",
    "check_shapes",
    "edit_shape_problem",
    "locate_all",
    "mentioned_paths",
    "normalise_path",
]


@dataclass
class RuleResult:
    """What one rule keeps (in input order) and drops."""

    kept: list[Edit]
    dropped: list[DroppedEdit] = field(default_factory=list)
    unanchored: list[Edit] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class GuardrailResult:
    """The kept edits as a patch, the dropped ones with reasons, and the ones awaiting anchor repair.

    `anchor_problems` maps an unanchored edit's id to why its anchor failed (for the repair prompt).
    """

    patch: Patch
    dropped: list[DroppedEdit] = field(default_factory=list)
    unanchored: list[Edit] = field(default_factory=list)
    anchor_problems: dict[str, str] = field(default_factory=dict)


def _drop(edit: Edit, reason: str, rule: str) -> DroppedEdit:
    return DroppedEdit(edit=edit, reason=reason, stage=f"guardrail.{rule}")


# --- 1. shape -------------------------------------------------------------------------------------


def _given(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def edit_shape_problem(edit: Edit) -> str | None:
    """Why an edit cannot work whatever the file says, or None.

    Needs: insert_* content and target_text or target_section; append_to_section content and
    target_section; replace_in_section old_text and content (may be empty); add_section content
    that starts with a Markdown heading; delete_section target_section; create content. Section
    anchors only on Markdown files. Content and anchors within LIMITS.edit_content_chars.
    """
    op = edit.op
    if op not in EDIT_OPS:
        return f"unknown op {op!r}"
    limit = LIMITS.edit_content_chars
    for name in ("content", "target_text", "old_text"):
        value = getattr(edit, name)
        if value is not None and len(value) > limit:
            return f"{name} is {len(value):,} characters; the limit is {limit:,}"
    markdown = is_markdown_path(edit.file)
    if op in ("insert_after", "insert_before"):
        if not _given(edit.content):
            return f"{op} needs content"
        if not _given(edit.target_text) and not _given(edit.target_section):
            return f"{op} needs target_text or target_section"
        if not _given(edit.target_text) and not markdown:
            return f"{op} on a non-Markdown file needs target_text"
    elif op == "append_to_section":
        if not _given(edit.content):
            return "append_to_section needs content"
        if not _given(edit.target_section):
            return "append_to_section needs target_section"
    elif op == "replace_in_section":
        if not edit.old_text:
            return "replace_in_section needs old_text"
        if edit.content is None:
            return "replace_in_section needs content (empty to delete the text)"
        if edit.content == edit.old_text:
            return "replace_in_section changes nothing (content equals old_text)"
    elif op == "add_section":
        if not _given(edit.content):
            return "add_section needs content"
        first = (edit.content or "").strip().split("\n", 1)[0]
        if heading_query(first)[0] is None:
            return "add_section content must start with a Markdown heading ('## Title')"
    elif op == "delete_section":
        if not _given(edit.target_section):
            return "delete_section needs target_section"
    elif op == "create" and edit.content is None:
        return "create needs content"
    if op in SECTION_OPS and not markdown:
        return f"{op} needs a Markdown file; {edit.file!r} is not one"
    return None


def check_shapes(edits: Sequence[Edit]) -> RuleResult:
    """Rule 1: drop edits whose op lacks the anchors or content it needs, or that are too big."""
    result = RuleResult(kept=[])
    for edit in edits:
        problem = edit_shape_problem(edit)
        if problem is None:
            result.kept.append(edit)
        else:
            result.dropped.append(_drop(edit, problem, "shape"))
    return result


# --- 2. paths -------------------------------------------------------------------------------------


def normalise_path(path: str) -> str:
    """The normal form of a skill path through the skill store's lexical gate (`safe_relpath`).

    Raises UnsafePath (an InvalidInput) for paths that no normalising can make safe.
    """
    return safe_relpath(path)


def check_paths(
    edits: Sequence[Edit], allowed_dirs: Iterable[str] = DEFAULT_ALLOWED_DIRS, *, skill: Skill | None = None
) -> RuleResult:
    """Rule 2: only SKILL.md or files under the allowed folders, by safe relative POSIX paths.

    A path such as './references/x.md' is rewritten to its normal form; absolute paths, '..',
    backslashes, drive letters, NUL and control characters are refused. With `skill`, a path that
    differs from an existing file only by letter case, or that uses an existing file as a folder
    (or the reverse), is refused too: those cannot be written as one folder on every system.
    """
    allowed = tuple(allowed_dirs)
    existing = {f.path for f in skill.files} if skill is not None else set()
    folded = {p.casefold(): p for p in existing}
    seen_new: dict[str, str] = {}
    result = RuleResult(kept=[])
    for edit in edits:
        try:
            path = normalise_path(edit.file)
        except InvalidInput as e:
            result.dropped.append(_drop(edit, f"unsafe path: {e}", "path"))
            continue
        reason = unsafe_path_reason(path, allowed)
        if reason is None and path not in existing:
            twin = folded.get(path.casefold()) or seen_new.get(path.casefold())
            if twin is not None and twin != path:
                reason = f"path {path!r} differs from {twin!r} only by letter case"
            elif any(p.startswith(path + "/") or path.startswith(p + "/") for p in existing):
                reason = f"path {path!r} collides with an existing file or folder"
            else:
                seen_new[path.casefold()] = path
        if reason is not None:
            result.dropped.append(_drop(edit, f"unsafe path: {reason}", "path"))
            continue
        result.kept.append(edit if path == edit.file else edit.model_copy(update={"file": path}))
    return result


# --- 3. protected ---------------------------------------------------------------------------------


def check_protected(edits: Sequence[Edit], protected: Iterable[str] = DEFAULT_PROTECTED) -> RuleResult:
    """Rule 3: never create, edit or delete a protected file (licences, scripts the caller marks)."""
    entries = tuple(protected)
    result = RuleResult(kept=[])
    for edit in edits:
        if is_protected(edit.file, entries):
            result.dropped.append(_drop(edit, f"protected file {edit.file!r}", "protected"))
        else:
            result.kept.append(edit)
    return result


# --- 4. duplicates --------------------------------------------------------------------------------


def _signature(edit: Edit) -> tuple[str | None, ...]:
    return (
        edit.file,
        edit.op,
        edit.target_section,
        edit.target_text,
        edit.old_text,
        edit.after_section,
        (edit.content or "").strip(),
    )


def check_duplicates(edits: Sequence[Edit]) -> RuleResult:
    """Rule 4: an exact duplicate (same file, op, anchors, content) is folded into the first one.

    Without this, two identical insertions at one point would both be applied. The kept edit's
    support becomes the union of both, since both lessons support the same change.
    """
    first: dict[tuple[str | None, ...], int] = {}
    kept: list[Edit] = []
    dropped: list[DroppedEdit] = []
    for edit in edits:
        key = _signature(edit)
        if key in first:
            i = first[key]
            union = sorted(set(kept[i].support) | set(edit.support))
            sources = list(dict.fromkeys([*kept[i].sources, *edit.sources]))
            kept[i] = kept[i].model_copy(update={"support": union, "sources": sources})
            dropped.append(_drop(edit, f"duplicate of edit {edit_label(kept[i])}", "duplicate"))
        else:
            first[key] = len(kept)
            kept.append(edit)
    return RuleResult(kept=kept, dropped=dropped)


# --- 5. anchors -----------------------------------------------------------------------------------


def _file_problem(skill: Skill, edit: Edit) -> str | None:
    current = skill.file(edit.file)
    if edit.op == "create":
        if current is None:
            return None
        data = edit.content or ""
        data = data if data.endswith("\n") or not data else data + "\n"
        return None if current.data == data.encode("utf-8") else f"create of {edit.file!r}: the file already exists"
    if current is None:
        return f"file {edit.file!r} does not exist in the skill"
    if edit.op == "delete_file" and edit.file == "SKILL.md":
        return "SKILL.md cannot be deleted"
    if edit.op not in FILE_OPS and not current.is_text:
        return f"{edit.file!r} is not a UTF-8 text file"
    return None


def locate_all(skill: Skill, edits: Sequence[Edit]) -> tuple[dict[int, Location], dict[int, Exception]]:
    """Locate each edit on S0: positions by list index, and the error for each that failed."""
    texts: dict[str, str] = {}
    located: dict[int, Location] = {}
    failed: dict[int, Exception] = {}
    for i, edit in enumerate(edits):
        f = skill.file(edit.file)
        if edit.file not in texts:
            texts[edit.file] = f.text if f is not None and f.is_text else ""
        try:
            located[i] = locate_edit(texts[edit.file], edit)
        except (AnchorError, InvalidEdit) as e:
            failed[i] = e
    return located, failed


def check_anchors(skill: Skill, edits: Sequence[Edit], *, repair_pending: bool = False) -> RuleResult:
    """Rule 5: each edit's file exists as its op needs, and its anchors pick out exactly one place.

    An anchor that is missing or ambiguous goes to `unanchored` when `repair_pending` (the pipeline
    asks an LLM to correct it, then checks again), else it is dropped with the reason.
    """
    result = RuleResult(kept=[])
    candidates: list[Edit] = []
    for edit in edits:
        problem = _file_problem(skill, edit)
        if problem is not None:
            result.dropped.append(_drop(edit, problem, "anchor"))
        else:
            candidates.append(edit)
    _, failed = locate_all(skill, candidates)
    for i, edit in enumerate(candidates):
        error = failed.get(i)
        if error is None:
            result.kept.append(edit)
        elif isinstance(error, AnchorError) and repair_pending:
            result.unanchored.append(edit)
            result.problems[edit_label(edit)] = f"{error.reason}: {error}"
        elif isinstance(error, AnchorError):
            result.dropped.append(_drop(edit, f"{error.reason}: {error}", "anchor"))
        else:
            result.dropped.append(_drop(edit, f"invalid edit: {error}", "anchor"))
    return result


# --- 6. overlaps ----------------------------------------------------------------------------------


def check_overlaps(skill: Skill, edits: Sequence[Edit]) -> RuleResult:
    """Rule 6: no two edits of one file touch overlapping text of S0.

    Spans come from `locate_edit` on S0. Conflicts are settled greedily: edits with more support
    (len(edit.support)) claim their text first, ties go to the earlier edit; the loser is dropped
    with 'overlaps edit <id>'. Insertions at the same point (two appends to one section) do not
    conflict; apply combines them in patch order. Edits that cannot be located pass through
    untouched (rule 5 deals with them).
    """
    located, _ = locate_all(skill, edits)
    order = sorted(located, key=lambda i: (-len(edits[i].support), i))
    winners: dict[str, list[int]] = {}
    losers: dict[int, int] = {}
    for i in order:
        mine = winners.setdefault(edits[i].file, [])
        clash = next((j for j in mine if edits_conflict(located[j], located[i])), None)
        if clash is None:
            mine.append(i)
        else:
            losers[i] = clash
    result = RuleResult(kept=[])
    for i, edit in enumerate(edits):
        if i in losers:
            result.dropped.append(_drop(edit, f"overlaps edit {edit_label(edits[losers[i]], losers[i])}", "overlap"))
        else:
            result.kept.append(edit)
    return result


# --- 7. create/link pairing -----------------------------------------------------------------------


_PATH_CHAR = re.compile(r"[\w./-]")


@lru_cache(maxsize=8)
def _mention_pattern(allowed_dirs: tuple[str, ...]) -> re.Pattern[str]:
    dirs = "|".join(re.escape(d) for d in allowed_dirs if d)
    return re.compile(rf"(?:{dirs})/[\w./-]*[\w-]")


def mentioned_paths(text: str, allowed_dirs: Iterable[str] = DEFAULT_ALLOWED_DIRS) -> set[str]:
    """Skill-root paths a Markdown text points at: links `[x](references/a.md)` or plain mentions.

    A path counts when it starts a word or follows './' ('lib/references/a.md' is another path).
    """
    dirs = tuple(allowed_dirs)
    pattern = _mention_pattern(dirs)
    # The same matches as `pattern.finditer(text)`, tried only where a `dir/` occurs: str.find skips a
    # large SKILL.md (checked once per proposal) many times faster than the regex engine scans it.
    candidates: list[int] = []
    for d in dirs:
        if not d:
            continue
        needle = d + "/"
        at = text.find(needle)
        while at >= 0:
            candidates.append(at)
            at = text.find(needle, at + 1)
    candidates.sort()
    found: set[str] = set()
    end = 0
    for at in candidates:
        if at < end:
            continue
        m = pattern.match(text, at)
        if m is None:
            continue
        end = m.end()
        start = at
        if start >= 2 and text[start - 2 : start] == "./":
            start -= 2
        if start == 0 or not _PATH_CHAR.match(text[start - 1]):
            found.add(m.group())
    return found


def _exists(path: str, files: set[str]) -> bool:
    return path in files or any(f.startswith(path.rstrip("/") + "/") for f in files)


def check_pairing(
    skill: Skill,
    edits: Sequence[Edit],
    *,
    pending: Sequence[Edit] = (),
    allowed_dirs: Iterable[str] = DEFAULT_ALLOWED_DIRS,
) -> RuleResult:
    """Rule 7: created files travel with their link, links with their file, deletions with unlinking.

    Repeated until nothing changes, since dropping one half of a pair can orphan another edit:
    - an edit on a Markdown file whose content points at `references/x.md` (or scripts/, assets/)
      that neither exists in S0 nor is created (or that is deleted) is dropped (orphan link);
    - a `create` whose path SKILL.md does not mention after the kept edits are applied is dropped
      (orphan create); a mention already in S0 counts, so a dangling link can be fixed by a create;
    - a `delete_file` whose path SKILL.md still mentions after the kept edits is dropped (orphan
      delete): the link removal must travel with it.
    `pending` edits (awaiting anchor repair) may still supply a create's link or a deletion's
    unlinking, so they keep their partners alive until the final check.
    """
    dirs = tuple(allowed_dirs)
    s0_files = {f.path for f in skill.files}
    pending_links: set[str] = set()
    for edit in pending:
        if edit.file == "SKILL.md":
            pending_links |= set(mentioned_paths(edit.content or "", dirs))
    pending_unlinks = any(e.file == "SKILL.md" and e.op in ("replace_in_section", "delete_section") for e in pending)
    kept = list(edits)
    dropped: list[DroppedEdit] = []
    while True:
        created = {e.file for e in kept if e.op == "create"}
        deleted = {e.file for e in kept if e.op == "delete_file"}
        files = (s0_files | created) - deleted
        linked: set[str] = set()
        if created or deleted:  # only creates and deletions ask what SKILL.md links to after the patch
            skill_md = apply_patch(skill, Patch(edits=[e for e in kept if e.file == "SKILL.md"])).skill.skill_md
            linked = mentioned_paths(skill_md, dirs)
        victims: dict[int, str] = {}
        for i, edit in enumerate(kept):
            if edit.op == "create":
                if edit.file not in linked and edit.file not in pending_links:
                    victims[i] = f"orphan create: no SKILL.md edit links to {edit.file!r}"
            elif edit.op == "delete_file":
                if edit.file in linked and not pending_unlinks:
                    victims[i] = f"orphan delete: SKILL.md still links to {edit.file!r}"
            elif is_markdown_path(edit.file):
                missing = sorted(p for p in mentioned_paths(edit.content or "", dirs) if not _exists(p, files))
                if missing:
                    victims[i] = f"orphan link: {', '.join(map(repr, missing))} neither exists nor is created"
        if not victims:
            return RuleResult(kept=kept, dropped=dropped)
        dropped.extend(_drop(kept[i], reason, "pairing") for i, reason in victims.items())
        kept = [e for i, e in enumerate(kept) if i not in victims]


# --- the whole check ------------------------------------------------------------------------------


def _with_ids(edits: Sequence[Edit]) -> list[Edit]:
    """Give id-less edits a positional id ('e3') so every reason can name the edit it refers to."""
    return [e if e.id else e.model_copy(update={"id": f"e{i + 1}"}) for i, e in enumerate(edits)]


def check_patch(
    skill: Skill,
    patch: Patch,
    *,
    protected: Iterable[str] = DEFAULT_PROTECTED,
    allowed_dirs: Iterable[str] = DEFAULT_ALLOWED_DIRS,
    repair_pending: bool = False,
) -> GuardrailResult:
    """Run every guardrail over a patch against S0 and return the edits that may be applied.

    With `repair_pending`, edits whose anchors do not match are returned in `unanchored` instead
    of dropped; the caller repairs them (`repair.repair_anchors`) and calls check_patch again on
    kept + repaired edits without `repair_pending`, which drops whatever still does not match.
    Edits without an id get a positional one ('e3'). Order of edits is preserved.
    """
    edits = _with_ids(patch.edits)
    dropped: list[DroppedEdit] = []
    stages: list[Callable[[list[Edit]], RuleResult]] = [
        check_shapes,
        lambda es: check_paths(es, allowed_dirs, skill=skill),
        lambda es: check_protected(es, protected),
        check_duplicates,
    ]
    for stage in stages:
        r = stage(edits)
        edits, dropped = r.kept, dropped + r.dropped
    anchors = check_anchors(skill, edits, repair_pending=repair_pending)
    edits, dropped = anchors.kept, dropped + anchors.dropped
    pending = anchors.unanchored
    before_overlap = check_pairing(skill, edits, pending=pending, allowed_dirs=allowed_dirs)
    overlaps = check_overlaps(skill, before_overlap.kept)
    after = check_pairing(skill, overlaps.kept, pending=pending, allowed_dirs=allowed_dirs)
    edits = after.kept
    dropped += before_overlap.dropped + overlaps.dropped + after.dropped
    position = {e.id: i for i, e in enumerate(_with_ids(patch.edits))}
    dropped.sort(key=lambda d: position.get(d.edit.id, len(position)))
    return GuardrailResult(
        patch=patch.model_copy(update={"edits": edits}),
        dropped=dropped,
        unanchored=pending,
        anchor_problems=anchors.problems,
    )
