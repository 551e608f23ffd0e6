from __future__ import annotations

import pytest

from trace2skill.evolve.sections import (
    AnchorAmbiguous,
    AnchorNotFound,
    fence_ranges,
    find_section,
    frontmatter_end,
    heading_query,
    is_markdown_path,
    normalise_heading,
    parse_sections,
)

DOC = """\
---
name: demo
# frontmatter comment, not a heading
description: Demo.
---
# Title

intro

```bash
# a shell comment, not a heading
```

## Alpha ##
alpha text
### Alpha one
deep text
#### Alpha one deep
deeper
## Beta
beta text
# Second
tail
"""


def titles(text: str) -> list[tuple[int, str]]:
    return [(s.level, s.title) for s in parse_sections(text)]


def test_headings_in_frontmatter_and_code_fences_are_not_sections() -> None:
    assert titles(DOC) == [
        (1, "Title"),
        (2, "Alpha"),
        (3, "Alpha one"),
        (4, "Alpha one deep"),
        (2, "Beta"),
        (1, "Second"),
    ]


def test_a_section_runs_to_the_next_heading_of_equal_or_higher_level() -> None:
    by_title = {s.title: s for s in parse_sections(DOC)}
    assert DOC[by_title["Alpha"].start : by_title["Alpha"].end] == (
        "## Alpha ##\nalpha text\n### Alpha one\ndeep text\n#### Alpha one deep\ndeeper\n"
    )
    assert DOC[by_title["Alpha one"].start : by_title["Alpha one"].end].endswith("deeper\n")
    assert DOC[by_title["Title"].start : by_title["Title"].end].endswith("beta text\n")
    assert DOC[by_title["Second"].start : by_title["Second"].end] == "# Second\ntail\n"


def test_own_text_ends_at_the_first_subsection() -> None:
    by_title = {s.title: s for s in parse_sections(DOC)}
    assert DOC[by_title["Alpha"].body : by_title["Alpha"].own_end] == "alpha text\n"
    assert by_title["Beta"].own_end == by_title["Beta"].end
    assert DOC[by_title["Title"].body : by_title["Title"].own_end].startswith("\nintro\n")


def test_section_body_starts_after_the_heading_line_and_lines_are_counted_from_the_file_start() -> None:
    beta = next(s for s in parse_sections(DOC) if s.title == "Beta")
    assert DOC[beta.body : beta.end] == "beta text\n"
    assert DOC.splitlines()[beta.line - 1] == "## Beta"
    assert beta.heading == "## Beta"


def test_fences_of_tildes_and_longer_backtick_runs_hide_headings_until_properly_closed() -> None:
    text = "# A\n````md\n```\n# inside\n```\n````\n~~~\n# also inside\n~~~\n# B\n"
    assert titles(text) == [(1, "A"), (1, "B")]
    assert len(fence_ranges(text)) == 2


def test_an_unclosed_fence_hides_every_later_heading() -> None:
    text = "# A\n```\n# hidden\n## hidden too\n"
    assert titles(text) == [(1, "A")]
    assert fence_ranges(text) == [(4, len(text))]


def test_only_real_atx_headings_count() -> None:
    text = "#hashtag\n    # indented code\n   ### three spaces ok\n####### seven\n#\n"
    assert titles(text) == [(3, "three spaces ok"), (1, "")]


def test_frontmatter_needs_a_closing_line_and_tolerates_a_bom() -> None:
    assert frontmatter_end("---\nname: a\n---\nbody") == len("---\nname: a\n---\n")
    assert frontmatter_end("\ufeff---\nname: a\n...\n# H\n") == len("\ufeff---\nname: a\n...\n")
    assert frontmatter_end("---\nname: a\n# H\n") == 0
    assert frontmatter_end("# H\n---\n") == 0
    assert titles("---\nname: a\n# H\n") == [(1, "H")]


def test_find_section_tolerates_hashes_whitespace_case_and_emphasis() -> None:
    for query in ("## Beta", "Beta", "  ##   beta  ", "# BETA", "**Beta**:"):
        assert find_section(DOC, query).title == "Beta"


def test_find_section_prefers_an_exact_title_to_a_normalised_one() -> None:
    text = "# Notes\n## notes\n"
    assert find_section(text, "notes").level == 2
    assert find_section(text, "Notes").level == 1


def test_duplicate_headings_are_ambiguous_unless_the_level_picks_one() -> None:
    text = "# Usage\n## Usage\ntext\n## Other\n## Usage\n"
    assert find_section(text, "# Usage").level == 1
    with pytest.raises(AnchorAmbiguous, match="lines 2, 5"):
        find_section(text, "## Usage")
    with pytest.raises(AnchorAmbiguous):
        find_section(text, "Usage")
    assert find_section(text, "Usage", level=1).start == 0


def test_a_missing_section_raises_not_found_with_the_query() -> None:
    with pytest.raises(AnchorNotFound, match="Gamma"):
        find_section(DOC, "## Gamma")
    with pytest.raises(AnchorNotFound):
        find_section(DOC, "description: Demo.")


def test_heading_queries_and_normalisation() -> None:
    assert heading_query(" ### Setup steps ## ") == (3, "Setup steps")
    assert heading_query("Setup") == (None, "Setup")
    assert normalise_heading("  `Set  up`: ") == "set up"
    assert is_markdown_path("references/a.MD") and not is_markdown_path("scripts/a.py")
