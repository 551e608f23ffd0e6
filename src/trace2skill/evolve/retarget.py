"""Edits aimed at a file the skill does not have: repaired instead of dropped.

A model that names a file which neither exists nor is created by its patch usually meant something
else: a small model copies a path it saw in an example, a larger one forgets the `create` of a
reference file it meant to write, or writes a follow-up edit to a file its own `create` makes. The
guardrails would drop all of these ("file does not exist"), losing a lesson over a file name. So
proposals and merge answers pass through here first, and each such edit is, in order of preference:

1. folded into the patch's own `create` of that file (the new file says it from the start);
2. moved to the existing file whose text its anchors pick out (SKILL.md first);
3. turned into a `create`, when it adds text to a `references/` file that SKILL.md (as it is, or as
   the patch edits it) already links to: the link says a new file was meant;
4. moved to SKILL.md, when it adds text: its anchors are then repaired after the merge like any
   other edit's, and dropped with a record only if that fails.

A path outside the skill's folders is only ever moved to an existing file (2); one that reaches out
of the skill (absolute, `..`) is never reinterpreted. Those, `delete_file`, and replacements or
deletions whose text exists nowhere are left as they are, for the guardrails to drop with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from trace2skill.evolve.apply import DEFAULT_PROTECTED, InvalidEdit, is_protected, locate_edit, unsafe_path_reason
from trace2skill.evolve.guardrails import mentioned_paths
from trace2skill.evolve.sections import AnchorError, is_markdown_path
from trace2skill.models import Edit, Patch, Skill

__all__ = ["retarget_missing"]

_ADDS_TEXT = frozenset({"append_to_section", "add_section", "insert_after", "insert_before"})
_NO_ANCHORS = {"target_section": None, "target_text": None, "old_text": None, "after_section": None}


def _label(edit: Edit) -> str:
    return f"edit {edit.id or '?'} ({edit.op} on {edit.file!r})"


def _heading(section: str | None) -> str:
    text = (section or "").strip()
    return "" if not text else text if text.startswith("#") else f"## {text}"


def _as_new_text(edit: Edit) -> str:
    """What an adding edit contributes to a file that starts empty: its content under its section's heading."""
    content = (edit.content or "").strip("\n")
    heading = _heading(edit.target_section) if edit.op != "add_section" else ""
    return f"{heading}\n\n{content}" if heading and not content.lstrip().startswith("#") else content


def _fold(create: Edit, edit: Edit) -> Edit:
    """`create` with `edit`'s text added: at its anchor when that occurs once in the new file, else at the end."""
    text = (create.content or "").rstrip("\n")
    anchor = edit.target_text if edit.op in ("insert_after", "insert_before") else None
    if anchor and text.count(anchor) == 1:
        at = text.index(anchor) + (len(anchor) if edit.op == "insert_after" else 0)
        piece = (edit.content or "").strip("\n")
        after = edit.op == "insert_after"
        text = f"{text[:at]}\n{piece}{text[at:]}" if after else f"{text[:at]}{piece}\n{text[at:]}"
    else:
        heading = _heading(edit.target_section)
        body = _as_new_text(edit) if heading and heading not in text else (edit.content or "").strip("\n")
        text = f"{text}\n\n{body}" if text else body
    sources = list(dict.fromkeys([*create.sources, *edit.sources]))
    support = sorted({*create.support, *edit.support})
    return create.model_copy(update={"content": text.rstrip("\n") + "\n", "sources": sources, "support": support})


def _escapes(path: str) -> bool:
    """A path that reaches outside the skill (absolute, `..`, a drive or a backslash): never reinterpreted."""
    return path.startswith("/") or "\\" in path or ":" in path or ".." in path.split("/")


def _home(skill: Skill, edit: Edit, protected: Iterable[str]) -> str | None:
    """The existing text file where the edit's anchors pick out exactly one place, SKILL.md first."""
    candidates = sorted(
        (f for f in skill.files if f.is_text and not is_protected(f.path, protected)),
        key=lambda f: (f.path != "SKILL.md", f.path),
    )
    for f in candidates:
        if not is_markdown_path(f.path) and edit.op in ("append_to_section", "add_section"):
            continue
        try:
            locate_edit(f.text, edit.model_copy(update={"file": f.path}))
        except (AnchorError, InvalidEdit):
            continue
        return f.path
    return None


def retarget_missing(
    skill: Skill, patch: Patch, *, protected: Iterable[str] = DEFAULT_PROTECTED
) -> tuple[Patch, list[str]]:
    """The patch with edits on missing files repaired (see the module doc), and one note per repair."""
    existing = {f.path for f in skill.files}
    protected = tuple(protected)
    linked = set(mentioned_paths(skill.skill_md))
    for e in patch.edits:
        if e.file == "SKILL.md":
            linked |= mentioned_paths(e.content or "")
    creates = {e.file: i for i, e in enumerate(patch.edits) if e.op == "create"}
    out: list[Edit | None] = list(patch.edits)
    notes: list[str] = []
    for i, edit in enumerate(patch.edits):
        if edit.op in ("create", "delete_file") or edit.file in existing or _escapes(edit.file):
            continue
        adds = edit.op in _ADDS_TEXT and bool((edit.content or "").strip())
        if edit.file in creates and adds:
            j = creates[edit.file]
            out[j] = _fold(out[j] or patch.edits[j], edit)
            out[i] = None
            notes.append(f"{_label(edit)}: folded into the create of that file ({patch.edits[j].id or '?'})")
            continue
        home = _home(skill, edit, protected)
        if home is not None:
            out[i] = edit.model_copy(update={"file": home})
            notes.append(f"{_label(edit)}: the file does not exist; its anchors are in {home!r}, moved there")
        elif unsafe_path_reason(edit.file) is not None:
            continue  # somewhere a skill may not have files: only a move to an existing file (above) is safe
        elif adds and edit.file.startswith("references/") and is_markdown_path(edit.file) and edit.file in linked:
            out[i] = edit.model_copy(update={**_NO_ANCHORS, "op": "create", "content": _as_new_text(edit) + "\n"})
            creates[edit.file] = i
            notes.append(f"{_label(edit)}: SKILL.md links to that file but nothing created it; made a create")
        elif adds:
            out[i] = edit.model_copy(update={"file": "SKILL.md"})
            notes.append(f"{_label(edit)}: the file does not exist; moved to 'SKILL.md' for anchor repair")
    return patch.model_copy(update={"edits": [e for e in out if e is not None]}), notes
