from __future__ import annotations

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.skills_store import parse_frontmatter, read_frontmatter, split_frontmatter


def test_parse_frontmatter_splits_yaml_from_body() -> None:
    data, body = parse_frontmatter("---\nname: pdf\ndescription: Fill forms.\n---\n# PDF\n\nSteps.\n")
    assert data == {"name": "pdf", "description": "Fill forms."}
    assert body == "# PDF\n\nSteps.\n"


def test_parse_frontmatter_without_a_block_returns_the_whole_text_as_body() -> None:
    assert parse_frontmatter("# Just markdown\n") == ({}, "# Just markdown\n")


def test_parse_frontmatter_retries_unquoted_colons_and_says_it_repaired_them() -> None:
    text = "---\nname: pdf\ndescription: Fill PDF forms. Use when: the user mentions a form\n---\nbody\n"
    fm = read_frontmatter(text)
    assert fm.data["description"] == "Fill PDF forms. Use when: the user mentions a form"
    assert fm.repaired is True
    assert read_frontmatter("---\nname: pdf\n---\n").repaired is False


def test_split_frontmatter_keeps_the_raw_text_for_splicing_back() -> None:
    raw, body = split_frontmatter("\ufeff---\r\nname: pdf  # keep\r\n---\r\nbody\r\n")
    assert raw == "name: pdf  # keep\r\n"
    assert body == "body\r\n"


def test_unclosed_frontmatter_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="no closing '---' line"):
        parse_frontmatter("---\nname: pdf\n# body\n")


def test_unparseable_yaml_names_the_line() -> None:
    with pytest.raises(InvalidInput, match=r"not valid YAML \(line 3\): expected <block end>, but found '-'"):
        parse_frontmatter("---\nname: pdf\n- item\n---\n")


def test_frontmatter_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be a mapping"):
        parse_frontmatter("---\n- a\n- b\n---\n")
