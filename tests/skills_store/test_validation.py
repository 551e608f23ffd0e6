from __future__ import annotations

import pytest

from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import validate_skill


def _skill(front: str, body: str = "# PDF\n\nSteps.\n", name: str = "pdf", **extra: str) -> Skill:
    files = [SkillFile(path="SKILL.md", data=f"---\n{front}---\n{body}".encode())]
    files += [SkillFile(path=p, data=c.encode()) for p, c in extra.items()]
    return Skill(name=name, files=tuple(files))


GOOD = "name: pdf\ndescription: Fill PDF forms. Use when the user asks to fill a PDF.\n"


def test_a_conforming_skill_has_no_errors_or_warnings() -> None:
    report = validate_skill(
        _skill(
            GOOD + "license: MIT\nallowed-tools: Bash(python:*) Read\ncompatibility: Python 3.10+\n"
            "metadata:\n  author: me\n  version: '1.0'\n"
        )
    )
    assert report.ok
    assert report.errors == [] and report.warnings == []


@pytest.mark.parametrize(
    ("front", "error"),
    [
        ("description: d\n", "has no 'name'"),
        ("name: PDF\ndescription: d\n", "'name' 'PDF' must be 1-64 characters"),
        ("name: pdf--x\ndescription: d\n", "no leading, trailing or doubled"),
        (f"name: {'a' * 65}\ndescription: d\n", "'name' is 65 characters"),
        ("name: docx\ndescription: d\n", "does not match the skill's folder name 'pdf'"),
        ("name: pdf\n", "has no 'description'"),
        ("name: pdf\ndescription: ''\n", "'description' is empty"),
        (f"name: pdf\ndescription: {'d' * 1025}\n", "'description' is 1,025 characters; the limit is 1,024"),
        ("name: pdf\ndescription: Use <b>now</b>\n", "contains '<' or '>'"),
        ("name: pdf\ndescription: [a, b]\n", "'description' must be a string"),
        (GOOD + "version: 2\n", "unknown frontmatter key(s) 'version'"),
        (GOOD + "disable-model-invocation: true\n", "client-specific Claude Code extension"),
        (GOOD + "metadata: just text\n", "'metadata' must be a map"),
        (GOOD + "metadata:\n  version: 1.0\n", "metadata value of 'version' must be a string"),
        (GOOD + "metadata:\n  io.modelcontextprotocol/x: y\n", "reserved prefix"),
        (GOOD + f"compatibility: {'c' * 501}\n", "'compatibility' is 501 characters; the limit is 500"),
        (GOOD + "allowed-tools: {a: 1}\n", "'allowed-tools' must be"),
        (GOOD + "license: ''\n", "'license' must be a non-empty string"),
        ("name: pdf\ndescription: Use when: a form\n", "valid YAML only after quoting"),
    ],
)
def test_each_agent_skills_rule_is_an_error(front: str, error: str) -> None:
    report = validate_skill(_skill(front))
    assert not report.ok
    assert any(error in e for e in report.errors), report.errors


def test_a_missing_skill_md_is_an_error_with_a_hint_for_lowercase() -> None:
    report = validate_skill(Skill(name="pdf", files=(SkillFile(path="skill.md", data=b"x"),)))
    assert report.errors == ["the skill has no SKILL.md (found 'skill.md'; rename it to 'SKILL.md')"]


def test_skill_md_without_frontmatter_is_an_error() -> None:
    report = validate_skill(Skill(name="pdf", files=(SkillFile(path="SKILL.md", data=b"# PDF\n"),)))
    assert any("must start with YAML frontmatter" in e for e in report.errors)


def test_skill_md_over_500_lines_is_only_a_warning() -> None:
    report = validate_skill(_skill(GOOD, body="line\n" * 520))
    assert report.ok
    assert any("SKILL.md is 524 lines; keep it under 500" in w for w in report.warnings)


def test_exactly_500_lines_is_fine() -> None:
    report = validate_skill(_skill(GOOD, body="line\n" * 496))
    assert not any("lines" in w for w in report.warnings)


def test_long_references_and_broken_links_are_warnings() -> None:
    body = "See [forms](references/forms.md), [gone](references/gone.md), [web](https://x.y) and [up](../x.md).\n"
    report = validate_skill(_skill(GOOD, body=body, **{"references/forms.md": "r\n" * 301}))
    assert report.ok
    assert any("references/forms.md is 301 lines" in w for w in report.warnings)
    assert any("'references/gone.md', which is not in the skill" in w for w in report.warnings)
    assert any("'../x.md', which is outside the skill" in w for w in report.warnings)
    assert not any("https" in w for w in report.warnings)


def test_as_text_lists_errors_then_warnings_for_a_fix_round() -> None:
    report = validate_skill(_skill("name: pdf\ndescription: ''\n", body="line\n" * 600))
    text = report.as_text(rules=True)
    assert text.startswith("Agent Skills validation of 'pdf': 1 error, 1 warning.")
    assert text.index("Errors (must be fixed):") < text.index("Warnings (should be fixed):")
    assert "- 'description' is empty" in text
    assert "Allowed frontmatter keys: name, description, license" in text
