"""Fixtures for the evolve tests: a small but realistic skill, and a scripted LLM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.doubles.scripted import ScriptedProvider

from trace2skill.llm import LLM, ChatRequest, RetryPolicy
from trace2skill.models import Skill, SkillFile

SKILL_MD = """\
---
name: xlsx
description: Read, edit and recalculate Excel workbooks. Use when a task mentions .xlsx files.
license: Proprietary. LICENSE.txt has complete terms
---

# Spreadsheets

Work on a copy of the input workbook.

## Reading

- Open with openpyxl.
- Inspect every sheet first.

```python
# not a heading: a comment in a code block
wb = openpyxl.load_workbook(path)
```

### Dates

Dates come back as datetime objects.

## Writing

Write formulas, not values.
Run `python scripts/recalc.py out.xlsx` after saving.

See [the guide](references/guide.md) for charts.

## Checks

| step | what |
|------|------|
| 1 | recalc |
"""

GUIDE_MD = """\
# Charts guide

## Bar charts

Use openpyxl.chart.BarChart.
"""


Handler = Callable[[ChatRequest], Any]


def make_skill(skill_md: str = SKILL_MD, **extra: str | bytes) -> Skill:
    files = {
        "SKILL.md": skill_md.encode(),
        "references/guide.md": GUIDE_MD.encode(),
        "scripts/recalc.py": b"#!/usr/bin/env python3\nprint('recalc')\n",
        "LICENSE.txt": b"All rights reserved.\n",
    }
    for key, value in extra.items():
        files[key.replace("__", "/")] = value.encode() if isinstance(value, str) else value
    return Skill(
        name="xlsx",
        files=tuple(SkillFile(path=p, data=d, executable=p.startswith("scripts/")) for p, d in sorted(files.items())),
    )


@pytest.fixture
def skill() -> Skill:
    return make_skill()


@pytest.fixture
def scripted_llm(home: Path) -> Callable[[Handler], LLM]:
    """Build the real LLM middleware over a ScriptedProvider answering from `handler`.

    Requests the provider received are in `llm.provider.requests`.
    """

    def make(handler: Handler) -> LLM:
        return LLM(ScriptedProvider(handler), retry=RetryPolicy(max_attempts=1))

    return make
