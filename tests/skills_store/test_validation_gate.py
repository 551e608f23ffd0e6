"""An invalid skill is refused at import and at publish unless forced, naming every rule it breaks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.skills_store import SkillStore

from .conftest import skill_md

BROKEN = {
    "no frontmatter": ("# Notes\n\nJust text.\n", "SKILL.md must start with YAML frontmatter"),
    "invalid yaml": ("---\nname: [unclosed\n---\n# x\n", "SKILL.md frontmatter is not valid YAML"),
    "renamed": (skill_md("other-name"), "'other-name'"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_an_invalid_skill_is_refused_at_import_naming_the_rule_and_nothing_is_recorded(
    store: SkillStore, make_skill: Callable[..., Path], skills_dir: Path, case: str
) -> None:
    text, rule = BROKEN[case]
    folder = make_skill("notes", {"SKILL.md": text})
    with pytest.raises(InvalidInput) as refused:
        store.import_dir(folder, name="notes")  # the name asked for: SKILL.md must say the same
    message = str(refused.value)
    assert message.startswith(f"{folder} is not a valid skill (1 rule broken: ") and rule in message
    assert message.endswith("or import it with --force") and "\n" not in message
    assert store.list() == [] and not (skills_dir / "notes").exists()


def test_force_imports_and_publishes_an_invalid_skill(
    store: SkillStore, make_skill: Callable[..., Path], skills_dir: Path
) -> None:
    folder = make_skill("notes", {"SKILL.md": "# Notes\n"})
    version, created = store.import_dir(folder, force=True)
    assert created and version.version == 1 and store.published_version("notes") == 1
    assert (skills_dir / "notes" / "SKILL.md").read_text() == "# Notes\n"


def test_an_invalid_version_is_published_only_with_force(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    store.import_dir(make_skill("notes"))
    broken = make_skill("notes", {"SKILL.md": skill_md("notes", description="")}, folder="broken")
    store.import_dir(broken, publish=False, force=True)
    with pytest.raises(InvalidInput, match=r"version 2 of 'notes' is not a valid skill .*or publish it with --force"):
        store.publish("notes", 2)
    assert store.published_version("notes") == 1
    store.publish("notes", 2, force=True)
    assert store.published_version("notes") == 2
