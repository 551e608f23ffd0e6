"""A git-style unified diff between two skills: text files line by line, binary files noted.

The output follows `git diff` conventions (`diff --git`, `new file mode`, `/dev/null`, `Binary
files ... differ`) so people read it as usual and `git apply` can take it.
"""

from __future__ import annotations

import difflib

from trace2skill.models import Skill, SkillFile

__all__ = ["diff_skills"]


def _mode(f: SkillFile) -> str:
    return "100755" if f.executable else "100644"


def _lines(f: SkillFile) -> list[str]:
    lines = f.text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def _file_diff(path: str, a: SkillFile | None, b: SkillFile | None, context: int) -> str:
    out = [f"diff --git a/{path} b/{path}\n"]
    if a is None and b is not None:
        out.append(f"new file mode {_mode(b)}\n")
    elif b is None and a is not None:
        out.append(f"deleted file mode {_mode(a)}\n")
    elif a is not None and b is not None and a.executable != b.executable:
        out.append(f"old mode {_mode(a)}\nnew mode {_mode(b)}\n")
    if a is not None and b is not None and a.sha256 == b.sha256:
        return "".join(out)
    old = f"a/{path}" if a is not None else "/dev/null"
    new = f"b/{path}" if b is not None else "/dev/null"
    if (a is not None and not a.is_text) or (b is not None and not b.is_text):
        out.append(f"Binary files {old} and {new} differ\n")
        return "".join(out)
    body = list(
        difflib.unified_diff(
            _lines(a) if a else [], _lines(b) if b else [], fromfile=old, tofile=new, n=context, lineterm="\n"
        )
    )
    if not body:  # an empty file added or removed
        return "".join(out)
    out.extend(body)
    return "".join(out)


def diff_skills(a: Skill, b: Skill, *, context: int = 3) -> str:
    """Every difference from `a` to `b`, file by file in path order; '' when they are equal."""
    old = {f.path: f for f in a.files}
    new = {f.path: f for f in b.files}
    chunks = []
    for path in sorted(old.keys() | new.keys()):
        fa, fb = old.get(path), new.get(path)
        if fa is not None and fb is not None and fa.sha256 == fb.sha256 and fa.executable == fb.executable:
            continue
        chunks.append(_file_diff(path, fa, fb, context))
    return "".join(chunks)
