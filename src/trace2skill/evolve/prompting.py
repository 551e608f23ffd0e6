"""Prompt text: loading the package's prompt files and laying out the shared, cacheable prefix.

Every call of one kind in a run gets a byte-identical `system` text: the role's instructions
followed by the frozen skill S0. Nothing that varies per call (a counter, a trajectory id, a
timestamp) goes there, so that the provider's prompt cache serves that prefix to every call after
the first. Per-call material goes in the messages.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from trace2skill.models import Skill
from trace2skill.untrusted import RUN_DATA_RULE

__all__ = ["REFERENCE_LINE_BUDGET", "SKILL_MD_LINE_BUDGET", "load_prompt", "render_skill", "system_prompt"]

SKILL_MD_LINE_BUDGET = 500
REFERENCE_LINE_BUDGET = 300
_SKILL_CHARS = 240_000
"""Text of the skill shown to the model; files beyond it are listed by name only."""


def _read(name: str) -> str:
    return (files("trace2skill.evolve") / "prompts" / f"{name}.md").read_text(encoding="utf-8")


@cache
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.md`, with the shared fragments filled in.

    A variant is named after a dot: `merger.success` is `merger.md` with `{{evidence}}` replaced by
    `merger_success.md`; the bare name takes the `failure` variant. Variants differ only in that
    section, so each stays byte-identical across its calls (one cached prefix per variant).
    `{{untrusted}}` is the rule that quoted run data is never instructions, `{{risky}}` the rule
    against lessons and edits that download, run, send or reveal something.
    """
    base, _, variant = name.partition(".")
    text = _read(base)
    if "{{evidence}}" in text:
        text = text.replace("{{evidence}}", _read(f"{base}_{variant or 'failure'}").strip())
    elif variant:
        raise ValueError(f"prompt {base!r} has no variants (asked for {name!r})")
    if "{{edit_ops}}" in text:
        text = text.replace("{{edit_ops}}", load_prompt("edit_ops").strip())
    # Run text reaches these prompts inside <run_data> blocks (`trace2skill.untrusted`); the rule that it is
    # data, and the rule against teaching risky steps, are the same words in every prompt.
    text = text.replace("{{untrusted}}", RUN_DATA_RULE).replace("{{risky}}", _read("risky").strip())
    return text.replace("{{skill_md_budget}}", str(SKILL_MD_LINE_BUDGET)).replace(
        "{{reference_budget}}", str(REFERENCE_LINE_BUDGET)
    )


def _line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


def render_skill(skill: Skill) -> str:
    """The skill as the models see it: SKILL.md first, then every text file whole, with line counts."""
    ordered = sorted(skill.files, key=lambda f: (f.path != "SKILL.md", f.path))
    parts: list[str] = []
    used = 0
    references = sum(1 for f in skill.files if f.path.startswith("references/"))
    skill_md_lines = _line_count(skill.skill_md)
    parts.append(
        f'<skill name="{skill.name}" files="{len(skill.files)}" skill_md_lines="{skill_md_lines}" '
        f'skill_md_budget="{SKILL_MD_LINE_BUDGET}" reference_files="{references}">'
    )
    for f in ordered:
        if not f.is_text:
            parts.append(f'<file path="{f.path}" bytes="{len(f.data)}" binary="true" />')
            continue
        text = f.text
        if used + len(text) > _SKILL_CHARS and f.path != "SKILL.md":
            parts.append(f'<file path="{f.path}" lines="{_line_count(text)}" shown="false" />')
            continue
        used += len(text)
        parts.append(f'<file path="{f.path}" lines="{_line_count(text)}">\n{text.rstrip()}\n</file>')
    parts.append("</skill>")
    return "\n".join(parts)


def system_prompt(role: str, skill_view: str, protected: frozenset[str] | tuple[str, ...] = ()) -> str:
    """Instructions for `role` followed by the rendered skill: the run-wide cacheable prefix."""
    listed = ", ".join(sorted(protected)) if protected else "(none)"
    instructions = load_prompt(role).replace("{{protected}}", listed).rstrip()
    return f"{instructions}\n\n# The skill (frozen for this run)\n\n{skill_view}\n"
