from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trace2skill.errors import InvalidInput
from trace2skill.skills_store import frontmatter, parse_frontmatter, read_frontmatter, split_frontmatter


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


def test_a_frontmatter_is_parsed_once_and_every_reader_gets_its_own_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    load = frontmatter._load
    monkeypatch.setattr(frontmatter, "_load", lambda raw, *loader: parsed.append(raw) or load(raw, *loader))
    text = "---\nname: parsed-once\nmetadata:\n  tags: [sheets]\n---\nbody\n"
    first = read_frontmatter(text)
    first.data["metadata"]["tags"].append("changed by a caller")
    second = read_frontmatter(text.replace("body", "another body"))
    assert len(parsed) == 1
    assert second.data == {"name": "parsed-once", "metadata": {"tags": ["sheets"]}} and second.body == "another body\n"


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML was built without libyaml")
def test_libyaml_reads_the_shipped_skills_exactly_as_the_pure_python_loader_does() -> None:
    assert frontmatter._LOADER is yaml.CSafeLoader
    root = Path(__file__).resolve().parents[2]
    skills = [*root.glob("examples/skills/*/SKILL.md"), *root.glob("src/trace2skill/demo/data/skills/*/SKILL.md")]
    assert skills
    for path in skills:
        raw, _ = split_frontmatter(path.read_text(encoding="utf-8"))
        assert raw is not None
        assert yaml.load(raw, Loader=yaml.CSafeLoader) == yaml.safe_load(raw), path
