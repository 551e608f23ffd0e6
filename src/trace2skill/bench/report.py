"""A benchmark's report as files: Markdown for people, JSON for programs, a PNG chart of pass rates."""

from __future__ import annotations

import json
from pathlib import Path

from trace2skill.bench.chart import Bar, pass_rate_chart
from trace2skill.bench.harness import BenchReport
from trace2skill.bench.stats import PassRate

__all__ = ["render_bench_markdown", "write_bench_report"]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_bench_markdown(report: BenchReport) -> str:
    config = report.config
    lines = [
        f"# Benchmark {report.run_id}: {report.skill} on {report.suite}",
        "",
        f"- status: **{report.status}**" + (f" ({report.error})" if report.error else ""),
        f"- model: `{report.model}`; suite: {report.suite_description}",
        f"- skill `{report.skill}` starting from version {report.base_version}; "
        f"{config.get('train')} evolve-split tasks, {config.get('test')} test tasks, {config.get('seeds')} seed(s); "
        f"temperature {config.get('temperature')}, max turns {config.get('max_turns')}, "
        f"analyst {config.get('analyst')}",
        f"- sandbox: {', '.join(report.sandbox_modes) or 'not used (no tools)'}; wall time {report.seconds:,.0f} s",
        "",
        "## Pass rates on the test split (95% Wilson interval)",
        "",
        "| arm | passed | rate | interval | no verdict |",
        "|---|---|---|---|---|",
    ]
    for label, arm in report.arms.items():
        lines.append(
            f"| {label} | {arm['passed']}/{arm['total']} | {_pct(arm['rate'])} | "
            f"[{_pct(arm['low'])}, {_pct(arm['high'])}] | {arm['unknown']} |"
        )
    if report.comparisons:
        lines += ["", "## Paired comparisons (same tasks)", ""]
        lines += [f"- **{c['name']}**: {c['summary']}" for c in report.comparisons]
    if report.train:
        lines += ["", "## Runs the skill learned from (evolve split)", ""]
        lines += [f"- seed {seed}: {arm['summary']}" for seed, arm in report.train.items()]
    for e in report.evolutions:
        lines += [
            "",
            f"## Evolution, seed {e['seed']}: {e['status']}",
            "",
            f"- run `{e['run_id']}`: version {e['base_version']} → {e['new_version'] or '(none)'}; "
            f"{e['trajectories']} runs analysed into {e['lessons']} lessons, {e['patches']} patches, "
            f"{e['edits_applied']} edits applied, {e['edits_dropped']} dropped",
            f"- {e['calls']} calls, {e['input_tokens']:,} input and {e['output_tokens']:,} output tokens, "
            f"${e['cost_usd']:.4f}, {e['seconds']:,.0f} s",
        ]
        if e.get("error"):
            lines.append(f"- error: {e['error']}")
        if e.get("changelog"):
            lines += ["", "Changelog:", ""] + [f"- {c}" for c in e["changelog"]]
        if e.get("provenance"):
            lines += ["", "Provenance (which runs support each edit):", ""]
            for p in e["provenance"]:
                support = ", ".join(p.get("support") or [])
                lines.append(f"- {p.get('file')} {p.get('op')}: {p.get('summary', '')[:160]} ← {support}")
        if e.get("diff"):
            lines += ["", "```diff", e["diff"].rstrip(), "```"]
    usage = report.usage
    if usage:
        r, ev = usage.get("rollouts") or {}, usage.get("evolve") or {}
        lines += [
            "",
            "## Cost",
            "",
            f"- rollouts: {r.get('calls', 0)} calls, {r.get('input_tokens', 0):,} input / "
            f"{r.get('output_tokens', 0):,} output tokens, ${float(r.get('cost_usd') or 0):.4f}",
            f"- evolution: {ev.get('calls', 0)} calls, {ev.get('input_tokens', 0):,} input / "
            f"{ev.get('output_tokens', 0):,} output tokens, ${float(ev.get('cost_usd') or 0):.4f}",
        ]
        if usage.get("price"):
            lines.append(f"- price of {usage['price']}")
    if report.unknown:
        lines += ["", f"## Runs without a verdict ({len(report.unknown)})", ""]
        lines += [f"- {line}" for line in report.unknown[:50]]
        if len(report.unknown) > 50:
            lines.append(f"- ... and {len(report.unknown) - 50} more")
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def write_bench_report(report: BenchReport, folder: str | Path) -> dict[str, str]:
    """Write report.md, report.json and pass-rates.png into `folder`; returns their paths by kind."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files = {"markdown": str(out / "report.md"), "json": str(out / "report.json")}
    if report.arms:
        bars = [
            Bar(label, PassRate(a["passed"], a["total"], a["rate"], a["low"], a["high"]))
            for label, a in report.arms.items()
        ]
        title = f"{report.skill} on {report.suite} ({report.model})"
        pass_rate_chart(bars, out / "pass-rates.png", title=title, subtitle=f"{report.run_id}, 95% Wilson intervals")
        files["chart"] = str(out / "pass-rates.png")
    report.files = files
    Path(files["markdown"]).write_text(render_bench_markdown(report), encoding="utf-8")
    Path(files["json"]).write_text(
        json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False), encoding="utf-8"
    )
    return files
