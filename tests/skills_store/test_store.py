from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlite_utils

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.skills_store import SkillStore, read_skill_dir
from trace2skill.skills_store.publish import VERSIONS_DIR
from trace2skill.store import open_database

from .conftest import skill_md


def test_import_records_version_one_and_publishes_it(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", {"scripts/fill.py*": "print(1)\n"})
    version, created = store.import_dir(folder)
    assert created and version.version == 1 and version.parent is None and version.author == "human"
    assert version.changelog == [f"imported from {folder}"]
    assert version.description == "Fills PDF forms. Use when the user asks to fill a PDF."
    assert (version.file_count, version.total_bytes) == (2, len(skill_md("pdf")) + len("print(1)\n"))
    published = store.skills_dir / "pdf"
    assert (published / "SKILL.md").read_text() == skill_md("pdf")
    assert os.access(published / "scripts/fill.py", os.X_OK)
    assert store.published_version("pdf") == 1


def test_importing_unchanged_content_records_nothing_and_a_change_records_the_next_version(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    again, created = store.import_dir(folder)
    assert (again.version, created) == (1, False)
    (folder / "references").mkdir()
    (folder / "references/forms.md").write_text("# Forms\n")
    second, created = store.import_dir(folder, changelog=["add forms reference"])
    assert created and (second.version, second.parent, second.changelog) == (2, 1, ["add forms reference"])
    assert [v.version for v in store.history("pdf")] == [1, 2]
    assert (store.skills_dir / "pdf/references/forms.md").read_text() == "# Forms\n"


def test_two_versions_sharing_a_file_store_one_blob(
    store: SkillStore, make_skill: Callable[..., Path], db: sqlite_utils.Database
) -> None:
    shared = "# a large shared reference\n" * 100
    folder = make_skill("pdf", {"references/shared.md": shared})
    store.import_dir(folder)
    (folder / "SKILL.md").write_text(skill_md("pdf", body="Changed steps."))
    store.import_dir(folder)
    blobs = db.execute("SELECT sha256 FROM skill_blobs").fetchall()
    file_rows = db.execute("SELECT COUNT(*) FROM skill_files").fetchone()[0]
    assert file_rows == 4
    assert len(blobs) == 3  # two SKILL.md contents + one shared reference
    refs = db.execute("SELECT DISTINCT sha256 FROM skill_files WHERE path = 'references/shared.md'").fetchall()
    assert len(refs) == 1


def test_load_returns_exactly_what_was_imported(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", {"assets/logo.bin": bytes(range(256)), "scripts/run.sh*": "#!/bin/sh\n"})
    version, _ = store.import_dir(folder)
    skill = store.load("pdf")
    assert skill.digest == version.digest
    assert skill.file("assets/logo.bin").data == bytes(range(256))
    assert skill.file("scripts/run.sh").executable is True
    assert store.read_file("pdf", "scripts/run.sh") == b"#!/bin/sh\n"
    infos = {i.path: i for i in store.list_files("pdf")}
    assert infos["assets/logo.bin"].size == 256 and infos["scripts/run.sh"].executable


def test_missing_skills_versions_and_files_are_not_found_with_the_valid_range(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("pdf"))
    with pytest.raises(NotFound, match="no skill named 'docx'"):
        store.head("docx")
    with pytest.raises(NotFound, match="has no version 7 \\(versions are 1 to 1\\)"):
        store.get_version("pdf", 7)
    with pytest.raises(NotFound, match=r"has no file 'nope.md'"):
        store.read_file("pdf", "nope.md")


def test_commit_records_provenance_and_skips_content_equal_to_head_or_parent(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    v1, _ = store.import_dir(make_skill("pdf"))
    base = store.load("pdf")
    evolved = base.with_files({"references/forms.md": b"# Forms\n"})
    provenance = [
        {"edit_id": "m1.e1", "file": "references/forms.md", "op": "create", "summary": "add", "support": ["t1", "t2"]}
    ]
    v2 = store.commit(
        evolved, parent=1, author="evolve:run-7", changelog=["add forms"], provenance=provenance, run_id="run-7"
    )
    assert (v2.version, v2.parent, v2.author, v2.run_id) == (2, 1, "evolve:run-7", "run-7")
    assert v2.provenance[0]["support"] == ["t1", "t2"] and v2.provenance[0]["edit_id"] == "m1.e1"
    assert store.get_version("pdf", 2).provenance == v2.provenance
    assert store.commit(evolved, parent=1, author="evolve:x", changelog=[]).version == 2
    assert store.commit(base, parent=1, author="evolve:y", changelog=[]) == v1  # no change from its parent
    assert len(store.history("pdf")) == 2
    assert store.published_version("pdf") == 2


def test_commit_refuses_bad_provenance_and_unknown_parents(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    store.import_dir(make_skill("pdf"))
    changed = store.load("pdf").with_files({"x.md": b"x"})
    with pytest.raises(InvalidInput, match=r"provenance\[0\]: support"):
        store.commit(changed, parent=1, author="evolve:r", changelog=[], provenance=[{"support": "t1"}])
    with pytest.raises(NotFound, match="has no version 9 to build on"):
        store.commit(changed, parent=9, author="evolve:r", changelog=[])
    with pytest.raises(InvalidInput, match="author must be"):
        store.commit(changed, parent=1, author="", changelog=[])
    assert len(store.history("pdf")) == 1


def test_rollback_publishes_old_content_as_a_new_version(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    (folder / "SKILL.md").write_text(skill_md("pdf", body="Version two."))
    store.import_dir(folder)
    v3 = store.rollback("pdf", 1)
    assert (v3.version, v3.parent, v3.author) == (3, 2, "rollback")
    assert v3.changelog == ["rollback to version 1: its content replaces version 2"]
    assert v3.digest == store.get_version("pdf", 1).digest
    assert (store.skills_dir / "pdf/SKILL.md").read_text() == skill_md("pdf")
    assert store.rollback("pdf", 3).version == 3  # already the head's content: nothing new


def test_diff_between_versions_names_the_changed_file(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    (folder / "SKILL.md").write_text(skill_md("pdf", body="Version two."))
    store.import_dir(folder)
    out = store.diff("pdf", 1, 2)
    assert "--- a/SKILL.md\n+++ b/SKILL.md\n" in out and "-Follow the steps.\n+Version two.\n" in out
    assert store.diff("pdf", 2, 2) == ""


def test_versions_are_immutable_in_the_database(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    store.import_dir(make_skill("pdf"))
    for sql in (
        "UPDATE skill_versions SET author = 'x'",
        "DELETE FROM skill_files",
        "UPDATE skill_blobs SET data = x'00'",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            store.db.execute(sql)
    assert store.load("pdf").digest == store.head("pdf").digest


def test_list_shows_each_skill_with_head_and_published_version(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("pdf"))
    folder = make_skill("docx")
    store.import_dir(folder, publish=False)
    (folder / "SKILL.md").write_text(skill_md("docx", body="two"))
    store.import_dir(folder, publish=False)
    summaries = {s.name: s for s in store.list()}
    assert list(summaries) == ["docx", "pdf"]
    assert (summaries["docx"].head, summaries["docx"].versions, summaries["docx"].published_version) == (2, 2, None)
    assert (summaries["pdf"].head, summaries["pdf"].published_version) == (1, 1)


def test_opening_the_store_twice_applies_migrations_once(db: sqlite_utils.Database, skills_dir: Path) -> None:
    query = "SELECT COUNT(*) FROM _sqlite_migrations WHERE migration_set = 'trace2skill.skills'"
    SkillStore(db, skills_dir)
    first = db.execute(query).fetchone()[0]
    SkillStore(db, skills_dir)
    assert first >= 2 and db.execute(query).fetchone()[0] == first


# --- hand edits of the published folder ------------------------------------------------------------


def test_a_hand_edit_of_the_published_folder_is_recorded_as_a_new_version(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("pdf"))
    published = store.skills_dir / "pdf"
    (published / "SKILL.md").write_text(skill_md("pdf", body="Edited by hand."))
    (published / "notes.md").write_text("mine\n")
    version = store.sync_published("pdf")
    assert version is not None
    assert (version.version, version.parent, version.author) == (2, 1, "hand-edit")
    assert "changed: SKILL.md; added: notes.md" in version.changelog[0]
    assert store.read_file("pdf", "notes.md") == b"mine\n"
    assert store.published_version("pdf") == 2
    assert store.sync_published("pdf") is None
    assert store.publish("pdf") == published  # already published: nothing rewritten
    assert (published / "notes.md").read_text() == "mine\n"


def test_an_evolve_from_before_a_hand_edit_is_recorded_but_never_overwrites_it(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("pdf"))
    evolved = store.load("pdf").with_files({"references/new.md": b"# New\n"})
    published = store.skills_dir / "pdf"
    (published / "SKILL.md").write_text(skill_md("pdf", body="Edited by hand."))
    with pytest.raises(Conflict) as raised:
        store.commit(evolved, parent=1, author="evolve:r1", changelog=["new ref"], run_id="r1")
    message = str(raised.value)
    assert "version 3 of 'pdf' was recorded but not published" in message
    assert "edited by hand; that edit is now version 2" in message
    assert "skills diff pdf 2 3" in message and "--force" in message
    assert [(v.version, v.author) for v in store.history("pdf")] == [(1, "human"), (2, "hand-edit"), (3, "evolve:r1")]
    assert "Edited by hand." in (published / "SKILL.md").read_text()
    assert not (published / "references").exists()
    store.publish("pdf", 3, force=True)
    assert (published / "references/new.md").read_text() == "# New\n"
    assert store.published_version("pdf") == 3


def test_an_evolve_started_after_the_hand_edit_publishes_normally(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    store.import_dir(make_skill("pdf"))
    (store.skills_dir / "pdf/SKILL.md").write_text(skill_md("pdf", body="Edited by hand."))
    hand = store.sync_published("pdf")
    assert hand is not None
    evolved = store.load("pdf").with_files({"references/new.md": b"# New\n"})
    v3 = store.commit(evolved, parent=hand.version, author="evolve:r2", changelog=[])
    assert store.published_version("pdf") == v3.version == 3
    assert "Edited by hand." in (store.skills_dir / "pdf/SKILL.md").read_text()


def test_a_hand_edit_that_breaks_the_rules_blocks_publishing_until_forced(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    (tmp_path / "secret").write_text("s3cret")
    (store.skills_dir / "pdf/leak.md").symlink_to(tmp_path / "secret")
    (folder / "SKILL.md").write_text(skill_md("pdf", body="two"))
    with pytest.raises(
        Conflict,
        match=r"version 2 of 'pdf' was recorded but not published: .*changed by hand and "
        r"cannot be recorded .*leak.md is a symbolic link",
    ):
        store.import_dir(folder)
    assert store.head("pdf").version == 2
    store.publish("pdf", force=True)
    assert not (store.skills_dir / "pdf/leak.md").exists()
    assert (tmp_path / "secret").read_text() == "s3cret"


def test_a_published_symlink_replaced_by_a_real_folder_is_kept_in_history(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    published = store.skills_dir / "pdf"
    published.unlink()
    copy = make_skill("pdf", {"extra.md": "hand\n"}, folder="copy")
    os.rename(copy, published)
    (folder / "SKILL.md").write_text(skill_md("pdf", body="three"))
    v3, _ = store.import_dir(folder)
    assert [(v.version, v.author) for v in store.history("pdf")] == [(1, "human"), (2, "hand-edit"), (3, "human")]
    assert store.read_file("pdf", "extra.md", version=2) == b"hand\n"
    assert published.is_symlink() and (published / "SKILL.md").read_text() == skill_md("pdf", body="three")
    assert v3.parent == 2


def test_publishing_an_older_version_over_a_newer_one_needs_force(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    (folder / "SKILL.md").write_text(skill_md("pdf", body="two"))
    store.import_dir(folder)
    with pytest.raises(Conflict, match="version 1 does not descend from the published version 2"):
        store.publish("pdf", 1)
    store.publish("pdf", 1, force=True)
    assert store.published_version("pdf") == 1
    assert store.publish("pdf") and store.published_version("pdf") == 2  # forward again needs no force


def test_old_published_folders_are_pruned(store: SkillStore, make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf")
    for i in range(6):
        (folder / "SKILL.md").write_text(skill_md("pdf", body=f"v{i}"))
        store.import_dir(folder)
    versions = store.skills_dir / VERSIONS_DIR / "pdf"
    kept = sorted(p.name for p in versions.iterdir())
    assert len(kept) == 1 + store.keep_previous
    link = os.readlink(store.skills_dir / "pdf")
    assert link.startswith(f"{VERSIONS_DIR}/pdf/6-") and not os.path.isabs(link)
    assert link.rsplit("/", 1)[1] in kept


# --- export ---------------------------------------------------------------------------------------


def test_export_writes_a_plain_folder_and_replaces_an_earlier_export(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    folder = make_skill("pdf", {"scripts/run.sh*": "#!/bin/sh\n"})
    store.import_dir(folder)
    (folder / "SKILL.md").write_text(skill_md("pdf", body="two"))
    store.import_dir(folder)
    dest = tmp_path / "claude" / "skills"
    out = store.export("pdf", dest, version=1)
    assert out == dest / "pdf" and out.is_dir() and not out.is_symlink()
    assert (out / "SKILL.md").read_text() == skill_md("pdf")
    assert os.access(out / "scripts/run.sh", os.X_OK)
    store.export("pdf", dest)
    assert (out / "SKILL.md").read_text() == skill_md("pdf", body="two")
    assert sorted(p.name for p in dest.iterdir()) == ["pdf"]  # no temporary folder left behind


def test_export_never_replaces_content_that_is_not_a_version_unless_forced(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    store.import_dir(make_skill("pdf"))
    dest = tmp_path / "agents"
    store.export("pdf", dest)
    (dest / "pdf/SKILL.md").write_text(skill_md("pdf", body="my local change"))
    with pytest.raises(Conflict, match="not a version of 'pdf' \\(edited by hand\\?\\); keep it with"):
        store.export("pdf", dest)
    assert "my local change" in (dest / "pdf/SKILL.md").read_text()
    store.export("pdf", dest, force=True)
    assert (dest / "pdf/SKILL.md").read_text() == skill_md("pdf")


def test_export_over_a_symlink_replaces_the_link_not_its_target(
    store: SkillStore, make_skill: Callable[..., Path], tmp_path: Path
) -> None:
    store.import_dir(make_skill("pdf"))
    mine = make_skill("pdf", {"keep.md": "mine"}, folder="mine")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "pdf").symlink_to(mine, target_is_directory=True)
    store.export("pdf", dest, force=True)
    assert not (dest / "pdf").is_symlink() and not (dest / "pdf/keep.md").exists()
    assert (mine / "keep.md").read_text() == "mine"


IMPORTER = r"""
import sys
from pathlib import Path
from trace2skill.skills_store import SkillStore
from trace2skill.store import open_database

db_path, skills_dir, src, tag = sys.argv[1:5]
store = SkillStore(open_database(db_path), skills_dir, fsync=False)
folder = Path(src) / tag / "pdf"
folder.mkdir(parents=True)
for i in range(10):
    (folder / "SKILL.md").write_text(f"---\nname: pdf\ndescription: d\n---\n{tag} {i}\n")
    store.import_dir(folder)
"""


def test_two_processes_importing_at_once_get_contiguous_versions_and_the_last_one_published(tmp_path: Path) -> None:
    db_path, skills_dir = tmp_path / "shared.db", tmp_path / "skills"
    open_database(db_path).close()  # WAL set up once; the skill tables are created by the racing processes
    procs = [
        subprocess.Popen([sys.executable, "-c", IMPORTER, str(db_path), str(skills_dir), str(tmp_path), tag])
        for tag in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = SkillStore(open_database(db_path), skills_dir)
    history = store.history("pdf")
    assert [v.version for v in history] == list(range(1, 21))
    assert [v.parent for v in history] == [None, *range(1, 20)]
    assert store.published_version("pdf") == 20
    assert read_skill_dir(store.skills_dir / "pdf").digest == history[-1].digest


def test_a_folder_already_in_the_skills_folder_is_kept_as_version_one_before_an_import_replaces_it(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    stray = make_skill("pdf", {"mine.md": "written by hand\n"}, folder="stray")
    store.skills_dir.mkdir(parents=True)
    os.rename(stray, store.skills_dir / "pdf")
    version, created = store.import_dir(make_skill("pdf"))
    assert created and version.version == 2 and version.parent == 1
    [first, _] = store.history("pdf")
    assert first.author == "hand-edit" and "not written by this store" in first.changelog[0]
    assert store.read_file("pdf", "mine.md", version=1) == b"written by hand\n"
    assert not (store.skills_dir / "pdf/mine.md").exists()


def test_importing_unchanged_content_republishes_a_deleted_published_folder(
    store: SkillStore, make_skill: Callable[..., Path]
) -> None:
    folder = make_skill("pdf")
    store.import_dir(folder)
    (store.skills_dir / "pdf").unlink()
    version, created = store.import_dir(folder)
    assert (version.version, created) == (1, False)
    assert (store.skills_dir / "pdf/SKILL.md").read_text() == skill_md("pdf")
