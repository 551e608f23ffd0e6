from __future__ import annotations

from trace2skill.evolve.report import render_markdown, support_line
from trace2skill.models import EvolutionReport


def _report(**kw: object) -> EvolutionReport:
    base = {
        "run_id": "r_1",
        "skill": "sheets",
        "status": "succeeded",
        "base_version": 1,
        "new_version": 2,
        "trajectories": 12,
        "analyses": 12,
        "lessons": 11,
        "patches": 10,
        "merge_levels": 2,
        "edits_applied": 1,
        "provenance": [
            {"edit_id": "m2.0.e1", "file": "SKILL.md", "op": "append_to_section", "summary": "## Tips: check units",
             "support": ["t1", "t2"]}
        ],
        "edits_dropped": [{"edit": {"id": "a3.e1", "file": "../x", "op": "create"}, "reason": "unsafe path"}],
        "stages": {
            "analyse": {"seconds": 1.5, "calls": 30, "rounds": 3, "input_tokens": 9000, "cached_tokens": 8000,
                        "output_tokens": 900, "cost_usd": 0.05},
            "propose": {"seconds": 0.0, "calls": 11, "rounds": 1, "input_tokens": 2000, "cached_tokens": 1500,
                        "output_tokens": 300, "cost_usd": 0.01},
        },
        "calls": 41,
        "input_tokens": 11000,
        "cached_tokens": 9500,
        "output_tokens": 1200,
        "cost_usd": 0.06,
        "seconds": 2.5,
        "diff": "\n".join(f"+line {i}" for i in range(500)),
    }  # fmt: skip
    return EvolutionReport.model_validate({**base, **kw})


def test_the_markdown_report_says_what_changed_why_and_at_what_cost() -> None:
    text = render_markdown(_report())
    assert "**Status:** succeeded (version 1 → 2)" in text
    assert "supported by 2 trajectories: t1, t2" in text
    assert "a3.e1 `../x` create: unsafe path" in text
    assert "| analyse | 1.50 | 30 | 3 | 9,000 | 8,000 | 900 | $0.0500 |" in text
    assert "| propose | (in analyse) | 11 |" in text
    assert "| **total** | 2.50 | 41 | | 11,000 | 9,500 | 1,200 | $0.0600 |" in text
    assert "… 100 more lines" in text


def test_a_failed_report_shows_its_error_and_long_support_lists_are_shortened() -> None:
    text = render_markdown(_report(status="failed", new_version=None, error="budget exceeded"))
    assert "**Error:** budget exceeded" in text and "based on version 1" in text
    assert support_line([f"t{i}" for i in range(20)]).endswith("t7 and 12 more")
    assert support_line([]) == "no recorded support"
