"""The deterministic half of the hierarchical merge: grouping, edit ids, support, pass-through.

The LLM merger decides *what* a group of patches becomes; code decides everything that must be
trustworthy: how patches are grouped level by level, what every edit is called, and which
trajectories support each merged edit. A merged edit names the input edits it came from
(`sources`); its support is the union of theirs, computed here, never taken from the model.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TypeVar

from trace2skill.models import LIMITS, Edit, Patch

__all__ = [
    "attach_support",
    "chunk_balanced",
    "edit_support",
    "merge_levels",
    "number_edits",
    "passthrough",
    "trace_by_content",
]

T = TypeVar("T")


def chunk_balanced(items: Sequence[T], fan_in: int) -> list[list[T]]:
    """Split items, in order, into the fewest groups of at most `fan_in`, sizes differing by at most one.

    Larger groups come first, so a remainder is spread over the earlier groups instead of forming a
    group of 1 (11 items at B=5 give 4, 4, 3, not 5, 5, 1). A group of 1 only appears when it cannot
    be avoided (3 items at B=2).
    """
    if fan_in < 2:
        raise ValueError(f"fan_in must be at least 2, got {fan_in}")
    n = len(items)
    if n == 0:
        return []
    groups = -(-n // fan_in)
    base, extra = divmod(n, groups)
    out: list[list[T]] = []
    start = 0
    for g in range(groups):
        size = base + (1 if g < extra else 0)
        out.append(list(items[start : start + size]))
        start += size
    return out


def merge_levels(n: int, fan_in: int) -> int:
    """Merge levels needed to reduce n patches to one at fan-in B: ceil(log_B n), 0 when n <= 1.

    Computed by repeated ceiling division, so it is exact (no floating-point logarithm) and equals
    the number of rounds `chunk_balanced` will actually run.
    """
    if fan_in < 2:
        raise ValueError(f"fan_in must be at least 2, got {fan_in}")
    levels = 0
    while n > 1:
        n = -(-n // fan_in)
        levels += 1
    return levels


def number_edits(patch: Patch, prefix: str) -> Patch:
    """A copy of `patch` whose edits are named '<prefix>.e1', '<prefix>.e2', ... in order."""
    edits = [e.model_copy(update={"id": f"{prefix}.e{i}"}) for i, e in enumerate(patch.edits, start=1)]
    return patch.model_copy(update={"edits": edits})


def edit_support(edit: Edit, patch: Patch) -> list[str]:
    """An input edit's support: its own if set, else its patch's (a proposal edit inherits the
    trajectory its patch came from)."""
    return list(edit.support) if edit.support else list(patch.support)


def attach_support(merged: Patch, inputs: Sequence[Patch]) -> tuple[Patch, list[str]]:
    """Compute each merged edit's support from the input edits named in its `sources`.

    Returns the merged patch with support filled in, plus one line per problem. Unknown source ids
    are ignored and reported. A merged edit that names no valid input edit has no evidence behind
    it: it is removed and reported, because support is computed by code and an edit the model
    cannot trace to any input is exactly the hallucinated edit the method warns about. The patch's
    own support is the union of its inputs' support (every trajectory that fed this merge).
    """
    index: dict[str, list[str]] = {}
    originals: list[Edit] = []
    for patch in inputs:
        for edit in patch.edits:
            if edit.id is not None:
                index[edit.id] = edit_support(edit, patch)
                originals.append(edit)
    problems: list[str] = []
    kept: list[Edit] = []
    for i, edit in enumerate(merged.edits, start=1):
        name = edit.id or f"#{i}"
        sources = list(dict.fromkeys(edit.sources))
        valid = [s for s in sources if s in index]
        unknown = [s for s in sources if s not in index]
        if not valid:
            traced = trace_by_content(edit, originals)
            if traced:
                problems.append(
                    f"merged edit {name} ({edit.op} on {edit.file}) named no input edit; "
                    f"traced by its content to {', '.join(traced)}"
                )
                valid = traced
        if not valid:
            named = f" (unknown: {', '.join(unknown)})" if unknown else ""
            problems.append(
                f"merged edit {name} ({edit.op} on {edit.file}) names no input edit{named}; removed as unsupported"
            )
            continue
        if unknown:
            problems.append(f"merged edit {name} names unknown source(s) {', '.join(unknown)}; ignored")
        support = sorted({t for s in valid for t in index[s]})
        kept.append(edit.model_copy(update={"sources": valid, "support": support}))
    support = sorted({t for p in inputs for t in p.support} | {t for e in kept for t in e.support})
    return merged.model_copy(update={"edits": kept, "support": support}), problems


TRACE_SIMILARITY = 0.8
"""How alike (difflib ratio of the edit's file, operation and text) a merged edit must be to an input edit
for code to trace it there when the model named no source."""


def _edit_text(edit: Edit) -> str:
    return " ".join(" ".join(x.split()) for x in (edit.content, edit.old_text, edit.target_text) if x)


def trace_by_content(edit: Edit, originals: Sequence[Edit]) -> list[str]:
    """Input edit ids whose file and operation match `edit` and whose text is nearly the same.

    Small models often merge well but leave `sources` empty; an edit that is close to an input
    edit is that edit, kept or lightly reworded. Anything else stays untraced (and is removed),
    so an invented edit still cannot enter the skill.
    """
    text = _edit_text(edit)
    if not text:
        return []
    traced = []
    for original in originals:
        if original.id is None or original.file != edit.file or original.op != edit.op:
            continue
        other = _edit_text(original)
        if other and difflib.SequenceMatcher(None, text, other, autojunk=False).ratio() >= TRACE_SIMILARITY:
            traced.append(original.id)
    return traced


def passthrough(inputs: Sequence[Patch], *, why: str = "merge failed") -> Patch:
    """What a failed merge yields: its inputs concatenated, ids and support kept (also how the merged
    pieces of a split group are put side by side, `why` saying which).

    Edits without support inherit their patch's. If the concatenation exceeds
    LIMITS.edits_per_patch, the edits with the most support are kept (ties: earlier first, order
    preserved) and the number left out is written into `reasoning`, so the cut is on record.
    """
    edits: list[Edit] = []
    for patch in inputs:
        for edit in patch.edits:
            edits.append(edit if edit.support else edit.model_copy(update={"support": edit_support(edit, patch)}))
    reasoning = [p.reasoning for p in inputs if p.reasoning]
    limit = LIMITS.edits_per_patch
    if len(edits) > limit:
        best = sorted(range(len(edits)), key=lambda i: (-len(edits[i].support), i))[:limit]
        left_out = len(edits) - limit
        edits = [edits[i] for i in sorted(best)]
        reasoning.append(f"{why}; passed {limit} input edits through and left out {left_out} with the least support")
    return Patch(
        edits=edits,
        reasoning="\n\n".join(reasoning),
        changelog=[line for p in inputs for line in p.changelog],
        support=sorted({t for p in inputs for t in p.support}),
    )
