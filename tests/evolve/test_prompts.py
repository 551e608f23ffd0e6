"""The prompts as the models read them: no example a small model could copy into a wrong edit, variants
that differ only in their evidence section, and the rules the method depends on."""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable

import pytest

from trace2skill.evolve.prompting import load_prompt, system_prompt

PROMPTS = sorted(p for p in (files("trace2skill.evolve") / "prompts").iterdir() if p.name.endswith(".md"))
SKILL_FOLDER_PATH = re.compile(r"\b(?:references|scripts|assets)/[A-Za-z0-9_.\-/]+")
QUOTED_HEADING = re.compile(r"`#{1,6} [^`]+`")


@pytest.mark.parametrize("prompt", PROMPTS, ids=lambda p: p.name)
def test_no_prompt_shows_a_concrete_file_path_or_heading_a_model_could_copy_as_an_anchor(prompt: Traversable) -> None:
    text = prompt.read_text(encoding="utf-8")
    assert SKILL_FOLDER_PATH.findall(text) == []  # placeholders such as references/<name>.md are fine
    assert QUOTED_HEADING.findall(text) == []


def test_the_example_path_a_small_model_once_copied_into_every_edit_is_gone() -> None:
    for role in ("proposer.failure", "proposer.success", "merger.failure", "merger.success", "merger.mixed"):
        assert "forms.md" not in system_prompt(role, "<skill/>")


def test_variants_share_everything_but_their_evidence_section() -> None:
    failure, success, mixed = (load_prompt(f"merger.{v}") for v in ("failure", "success", "mixed"))
    head = failure.partition("## This group's evidence")[0]
    assert success.startswith(head) and mixed.startswith(head)
    assert failure.split("## Edit operations")[1] == success.split("## Edit operations")[1]
    assert load_prompt("merger") == failure and load_prompt("proposer") == load_prompt("proposer.failure")
    with pytest.raises(ValueError, match="no variants"):
        load_prompt("drafter.success")


@pytest.mark.parametrize(
    "rule",
    [
        "Keep every distinct insight",
        "Never output more edits than the inputs hold distinct lessons",
        "Reconcile conflicts instead of choosing",
        "Never remove guidance that is currently correct",
        "References stay one level deep",
        "At level 1 nearly every input comes from a single run",
    ],
)
def test_the_merger_states_the_methods_rules(rule: str) -> None:
    assert rule in load_prompt("merger")


@pytest.mark.parametrize(
    "rule",
    [
        "Ignore what no skill edit would fix",
        "a failure of reasoning, arithmetic or knowledge",
        "timeouts, outages",
        "Never remove or weaken guidance that is currently correct",
        "Set how much freedom an instruction leaves the agent",
        "References stay one level deep",
    ],
)
def test_the_proposer_states_the_methods_rules(rule: str) -> None:
    assert rule in load_prompt("proposer")
