"""One run as one self-contained HTML page: the diff, the merge tree level by level, each edit with the
runs that back it (linked to their messages), the cost per stage and, for a gated or benchmarked run,
the pass rates as a chart.

The page needs no server and no network: styles are inline, the chart is inline SVG, and a
Content-Security-Policy forbids scripts and every outside load. Everything read from a run is
untrusted text, so the template escapes it all (Jinja2 autoescaping); nothing from a run becomes
markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined, select_autoescape

from trace2skill import __version__
from trace2skill.errors import NotFound
from trace2skill.models import Message, Trajectory, utcnow
from trace2skill.store import TraceStore

__all__ = ["MAX_RUNS", "render_run_page"]

MAX_RUNS = 500
"""Supporting runs shown with their messages; past this the page lists their ids only."""
MAX_PART_CHARS = 4_000
"""Characters of one message part on the page (the store keeps the whole text)."""
STAGES = ("draft", "analyse", "propose", "merge", "apply", "commit")


@dataclass
class _Edit:
    id: str
    op: str
    file: str
    preview: str
    sources: list[str]
    support: list[str]


@dataclass
class _Evolution:
    run_id: str
    title: str
    facts: list[tuple[str, str]]
    changelog: list[str]
    notes: list[str]
    diff: list[tuple[str, str]]
    levels: list[tuple[int, list[_Edit]]]
    final: list[_Edit]
    stages: list[dict[str, Any]]
    dropped: list[tuple[str, str]] = field(default_factory=list)
    gate_reason: str = ""
    bars: list[dict[str, Any]] = field(default_factory=list)


def _template() -> Any:
    source = (files("trace2skill") / "templates" / "run_report.html").read_text(encoding="utf-8")
    env = Environment(
        loader=FunctionLoader(lambda name: source if name == "run_report.html" else None),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("run_report.html")


def _cut(text: str, limit: int = MAX_PART_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}\n… ({len(text) - limit:,} more characters in the store)"


def _preview(edit: Mapping[str, Any]) -> str:
    content = edit.get("content") or ""
    anchor = edit.get("old_text") or edit.get("target_text") or edit.get("target_section") or ""
    text = content if content else f"(removes {anchor})" if anchor else ""
    return _cut(str(text), 600)


def _edit(edit: Mapping[str, Any], fallback_id: str) -> _Edit:
    return _Edit(
        id=str(edit.get("id") or fallback_id),
        op=str(edit.get("op") or "?"),
        file=str(edit.get("file") or "?"),
        preview=_preview(edit),
        sources=[str(s) for s in edit.get("sources") or []],
        support=[str(s) for s in edit.get("support") or []],
    )


def _diff_lines(diff: str | None) -> list[tuple[str, str]]:
    """Each line of a unified diff with its kind: add, del, hunk, file or same."""
    lines = []
    for line in (diff or "").splitlines():
        if line.startswith(("+++", "---", "diff ")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append((kind, line))
    return lines


def _count(value: Any) -> int:
    """A count that reports store either as a number or as the list of what was counted."""
    return len(value) if isinstance(value, list) else int(value or 0)


def _dropped(dropped: Mapping[str, Any]) -> tuple[str, str]:
    edit = dropped["edit"] if isinstance(dropped.get("edit"), dict) else {}
    label = f"{edit.get('id') or '?'} ({edit.get('op') or '?'} {edit.get('file') or '?'})"
    return label, f"{dropped.get('reason') or ''} [{dropped.get('stage') or '?'}]"


def _money(value: Any) -> str:
    return "n/a" if value is None else f"${float(value):,.4f}"


def _stages(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in [*STAGES, *(s for s in report.get("stages") or {} if s not in STAGES)]:
        stage = (report.get("stages") or {}).get(name)
        if not stage:
            continue
        rows.append(
            {
                "name": name,
                "calls": f"{int(stage.get('calls') or 0):,}",
                "input": f"{int(stage.get('input_tokens') or 0):,}",
                "cached": f"{int(stage.get('cached_tokens') or 0):,}",
                "output": f"{int(stage.get('output_tokens') or 0):,}",
                "cost": _money(stage.get("cost_usd")),
                "seconds": f"{float(stage.get('seconds') or 0):,.1f}",
            }
        )
    return rows


def _bars(rates: Iterable[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Pass rates as bars of an inline SVG chart (x in percent of the plot), with their Wilson interval."""
    bars = []
    for i, (label, rate) in enumerate(rates):
        value = float(rate.get("rate") or 0.0)
        bars.append(
            {
                "label": label,
                "y": 10 + 34 * i,
                "width": round(100 * value, 2),
                "low": round(100 * float(rate.get("low", value)), 2),
                "high": round(100 * float(rate.get("high", value)), 2),
                "text": f"{rate.get('passed', 0)}/{rate.get('total', 0)} = {100 * value:.1f}%",
            }
        )
    return bars


def _evolution(traces: TraceStore, run: Mapping[str, Any], report: Mapping[str, Any] | None) -> _Evolution:
    run_id = str(run.get("id") or run.get("run_id"))
    report = report or {}
    levels: dict[int, list[_Edit]] = {}
    for row in traces.patch_rows(run_id):
        patch = row["patch"] if isinstance(row["patch"], dict) else {}
        for n, edit in enumerate(patch.get("edits") or []):
            if isinstance(edit, dict):
                levels.setdefault(int(row["level"]), []).append(_edit(edit, f"l{row['level']}.{row['index']}.e{n}"))
    final = [
        _Edit(
            id=str(p.get("edit_id")),
            op=str(p.get("op")),
            file=str(p.get("file")),
            preview=_cut(str(p.get("summary") or ""), 600),
            sources=[],
            support=[str(s) for s in p.get("support") or []],
        )
        for p in report.get("provenance") or []
    ]
    base, new = run.get("base_version"), run.get("new_version")
    facts = [
        ("status", str(run.get("status"))),
        ("versions", f"{base} → {new if new is not None else '(none)'}"),
        ("runs analysed", f"{report.get('trajectories', run.get('trajectories', 0)) or 0:,}"),
        ("edits applied / dropped", f"{_count(report.get('edits_applied'))} / {_count(report.get('edits_dropped'))}"),
        ("calls", f"{report.get('calls', 0) or 0:,}"),
        (
            "tokens in / cached / out",
            f"{report.get('input_tokens', 0) or 0:,} / {report.get('cached_tokens', 0) or 0:,} / "
            f"{report.get('output_tokens', 0) or 0:,}",
        ),
        ("cost", _money(report.get("cost_usd"))),
        ("wall time", f"{float(report.get('seconds') or 0):,.0f} s"),
    ]
    if run.get("error") or report.get("error"):
        facts.append(("error", str(report.get("error") or run.get("error"))))
    gate = report.get("gate")
    evolution = _Evolution(
        run_id=run_id,
        title=f"Evolution {run_id} of {run.get('skill')}",
        facts=facts,
        changelog=[str(c) for c in report.get("changelog") or []],
        notes=[str(n) for n in report.get("notes") or []],
        diff=_diff_lines(report.get("diff")),
        levels=sorted(levels.items()),
        final=final,
        stages=_stages(report),
        gate_reason=str(gate.get("reason") or "") if isinstance(gate, dict) else "",
        dropped=[_dropped(d) for d in report.get("edits_dropped") or [] if isinstance(d, dict)],
    )
    comparison = (gate or {}).get("comparison") if isinstance(gate, dict) else None
    if isinstance(gate, dict) and isinstance(comparison, dict) and isinstance(comparison.get("a"), dict):
        evolution.bars = _bars(
            [
                (f"v{gate.get('baseline_version')} (published)", comparison["a"]),
                (f"v{gate.get('candidate_version')} (new)", comparison["b"]),
            ]
        )
    return evolution


def _text(part: Any) -> tuple[str, str]:
    """(kind, text) of one message part, as plain text."""
    kind = getattr(part, "type", "text")
    if kind == "tool_call":
        args = part.arguments if isinstance(part.arguments, str) else json.dumps(part.arguments, ensure_ascii=False)
        return kind, _cut(f"{part.name}({args})")
    if kind == "tool_result":
        output = part.output if isinstance(part.output, str) else json.dumps(part.output, ensure_ascii=False)
        return ("tool_error" if part.is_error else kind), _cut(str(output))
    return kind, _cut(str(getattr(part, "text", "")))


def _message(message: Message) -> dict[str, Any]:
    return {"role": message.role, "parts": [_text(p) for p in message.content]}


def _runs(traces: TraceStore, ids: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The supporting runs to show (at most MAX_RUNS) and the ids not shown or no longer stored."""
    shown: list[dict[str, Any]] = []
    found: dict[str, Trajectory] = {t.id: t for t in traces.get_many(ids[:MAX_RUNS]) if t.id}
    for run_id in ids[:MAX_RUNS]:
        t = found.get(run_id)
        if t is None:
            continue
        shown.append(
            {
                "id": run_id,
                "task": _cut(t.task, 1_000),
                "outcome": t.outcome.status,
                "feedback": _cut(t.outcome.feedback or "", 1_000),
                "answer": _cut(t.final_answer or "", 1_000),
                "version": t.skill_version,
                "messages": [_message(m) for m in t.messages],
            }
        )
    missing = [i for i in ids if i not in found]
    return shown, missing


def render_run_page(traces: TraceStore, run_id: str) -> str:
    """The HTML page of an evolution or benchmark run (`trace2skill runs report RUN`)."""
    run = traces.get_run(run_id)
    report = run.get("report") if isinstance(run.get("report"), dict) else None
    bench: dict[str, Any] | None = None
    evolutions: list[_Evolution] = []
    if report is not None and "arms" in report:  # a benchmark: its arms, then each evolution it ran
        arms = report.get("arms") or {}
        bench = {
            "facts": [
                ("status", str(report.get("status"))),
                ("suite", str(report.get("suite"))),
                ("model", str(report.get("model"))),
                ("skill", f"{report.get('skill')} from version {report.get('base_version')}"),
                ("wall time", f"{float(report.get('seconds') or 0):,.0f} s"),
            ],
            "bars": _bars((str(arm.get("label") or name), arm) for name, arm in arms.items()),
            "comparisons": [str(c.get("summary") or c.get("name")) for c in report.get("comparisons") or []],
            "names": [str(c.get("name")) for c in report.get("comparisons") or []],
            "notes": [str(n) for n in report.get("notes") or []],
        }
        for evo in report.get("evolutions") or []:
            try:
                child = traces.get_run(str(evo.get("run_id")))
            except NotFound:
                continue
            evolutions.append(_evolution(traces, child, child.get("report") or evo))
    else:
        evolutions.append(_evolution(traces, run, report))
    support: list[str] = []
    for evolution in evolutions:
        for edit in [*evolution.final, *(e for _, level in evolution.levels for e in level)]:
            support.extend(s for s in edit.support if s not in support)
    shown, missing = _runs(traces, support)
    return str(
        _template().render(
            run_id=run_id,
            skill=run.get("skill"),
            status=run.get("status"),
            bench=bench,
            evolutions=evolutions,
            runs=shown,
            missing=missing,
            max_runs=MAX_RUNS,
            made=f"trace2skill {__version__}, {utcnow().strftime('%Y-%m-%d %H:%M UTC')}",
        )
    )
