"""The end of a run for people: what changed, why, backed by which trajectories, at what cost.

The JSON form is `EvolutionReport.model_dump_json()`; this module renders the Markdown form.
"""

from __future__ import annotations

from trace2skill.models import EvolutionReport, Skill
from trace2skill.store.usage import UsageLog

__all__ = ["render_markdown", "support_line", "unused_references_note"]

_IDS_SHOWN = 8
_DIFF_LINES = 400
_REASONS_SHOWN = 40


def support_line(support: list[str]) -> str:
    """`3 trajectories: t_a, t_b, t_c` (long lists shortened)."""
    shown = ", ".join(support[:_IDS_SHOWN])
    more = f" and {len(support) - _IDS_SHOWN} more" if len(support) > _IDS_SHOWN else ""
    noun = "trajectory" if len(support) == 1 else "trajectories"
    return f"{len(support)} {noun}: {shown}{more}" if support else "no recorded support"


def unused_references_note(usage: UsageLog, skill: Skill) -> str | None:
    """`Unused references: …` naming the skill's references/ files that no recorded read ever opened (in any
    version), or None when there are none or no read of the skill was recorded at all (nothing is known)."""
    references = sorted(f.path for f in skill.files if f.path.startswith("references/"))
    if not references or not usage.has_reads(skill.name):
        return None
    read = usage.read_paths(skill.name)
    unused = [path for path in references if path not in read]
    if not unused:
        return None
    more = f" and {len(unused) - _IDS_SHOWN} more" if len(unused) > _IDS_SHOWN else ""
    shown = ", ".join(unused[:_IDS_SHOWN]) + more
    return (
        f"Unused references: no recorded read of {skill.name} ever opened {shown} "
        f"(`trace2skill skills usage {skill.name}`)"
    )


def _money(usd: float) -> str:
    return f"${usd:,.4f}" if usd < 1 else f"${usd:,.2f}"


def _review_section(r: EvolutionReport) -> list[str]:
    """Why the new version waits for a person, and the two commands that settle it."""
    shown = [f"- {reason}" for reason in r.review[:_REASONS_SHOWN]]
    if len(r.review) > _REASONS_SHOWN:
        shown.append(f"- … and {len(r.review) - _REASONS_SHOWN} more (`trace2skill skills review {r.skill}`)")
    head = f"Version {r.new_version} was recorded but not published: it waits for a person."
    if r.status == "rejected":
        head = f"Version {r.new_version} is held for review as well as rejected by the gate."
    return [
        "## Held for review",
        "",
        head,
        "",
        *shown,
        "",
        f"Read it with `trace2skill skills review {r.skill}`; publish it with "
        f"`trace2skill skills publish {r.skill} --version {r.new_version}`.",
        "",
    ]


def render_markdown(report: EvolutionReport) -> str:
    r = report
    lines = [f"# Evolution run {r.run_id}: {r.skill}", ""]
    version = (
        f"version {r.base_version} → {r.new_version}"
        if r.new_version
        else f"based on version {r.base_version}"
        if r.base_version
        else ""
    )
    lines.append(f"**Status:** {r.status}" + (f" ({version})" if version else "") + ("; resumed" if r.resumed else ""))
    if r.error:
        lines.append(f"**Error:** {r.error}")
    lines += [
        "",
        f"{r.trajectories} trajectories → {r.analyses} analyses ({r.lessons} lessons) → {r.patches} patches → "
        f"{r.merge_levels} merge levels → {r.edits_applied} edits applied, {len(r.edits_dropped)} dropped.",
        "",
    ]
    if r.review:
        lines += _review_section(r)
    if r.gate:
        g = r.gate
        verdict = "passed: published" if g.get("passed") else "rejected: kept in the history, not published"
        lines += [
            "## Held-out gate",
            "",
            f"- {g.get('suite')}:{g.get('split')} with {g.get('model')}: {verdict}",
            f"- {g.get('reason')}",
        ]
        if g.get("unknown"):
            lines.append(f"- {len(g['unknown'])} runs without a verdict, e.g. {g['unknown'][0]}")
        lines.append("")
    if r.provenance:
        lines += ["## What changed and why", ""]
        for entry in r.provenance:
            lines.append(f"- `{entry.get('file')}` {entry.get('op')} ({entry.get('edit_id')}): {entry.get('summary')}")
            lines.append(f"  - supported by {support_line(list(entry.get('support') or []))}")
        lines.append("")
    if r.changelog:
        lines += ["## Changelog", "", *[f"- {c}" for c in r.changelog], ""]
    if r.edits_dropped:
        lines += ["## Dropped edits", ""]
        for d in r.edits_dropped:
            edit = d.get("edit") or {}
            lines.append(f"- {edit.get('id') or '?'} `{edit.get('file')}` {edit.get('op')}: {d.get('reason')}")
        lines.append("")
    lines += ["## Cost", "", "| stage | seconds | calls | rounds | input tokens | cached | output tokens | cost |"]
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in r.stages.items():
        seconds = "(in analyse)" if name == "propose" else f"{s.get('seconds', 0):.2f}"
        lines.append(
            f"| {name} | {seconds} | {s.get('calls', 0)} | {s.get('rounds', '')} | "
            f"{s.get('input_tokens', 0):,} | {s.get('cached_tokens', 0):,} | {s.get('output_tokens', 0):,} | "
            f"{_money(s.get('cost_usd', 0.0))} |"
        )
    lines.append(
        f"| **total** | {r.seconds:.2f} | {r.calls} | | {r.input_tokens:,} | {r.cached_tokens:,} | "
        f"{r.output_tokens:,} | {_money(r.cost_usd)} |"
    )
    if r.prices:
        lines += ["", *[f"Price of {model}: {price}." for model, price in r.prices.items()]]
    if r.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in r.notes]]
    if r.diff:
        diff_lines = r.diff.splitlines()
        shown = "\n".join(diff_lines[:_DIFF_LINES])
        cut = f"\n… {len(diff_lines) - _DIFF_LINES} more lines" if len(diff_lines) > _DIFF_LINES else ""
        lines += ["", "## Diff", "", "```diff", shown + cut, "```"]
    return "\n".join(lines) + "\n"
