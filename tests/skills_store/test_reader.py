from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput, UnsafePath
from trace2skill.models import LIMITS
from trace2skill.skills_store import read_skill_dir


def test_read_skill_dir_reads_every_file_sorted_with_its_executable_bit(make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", {"scripts/fill.py*": "print(1)\n", "references/forms.md": "# Forms\n", "a.bin": b"\0\1"})
    skill = read_skill_dir(folder)
    assert skill.name == "pdf"
    assert [f.path for f in skill.files] == ["SKILL.md", "a.bin", "references/forms.md", "scripts/fill.py"]
    assert skill.file("scripts/fill.py").executable is True
    assert skill.file("references/forms.md").executable is False
    assert skill.file("a.bin").data == b"\0\1"


def test_read_skill_dir_skips_vcs_and_cache_clutter(make_skill: Callable[..., Path]) -> None:
    folder = make_skill(
        "pdf",
        {".git/HEAD": "ref", "scripts/__pycache__/x.pyc": b"x", ".DS_Store": b"x", "scripts/y.pyc": b"x", ".keep": ""},
    )
    assert [f.path for f in read_skill_dir(folder).files] == [".keep", "SKILL.md"]


def test_the_name_comes_from_the_argument_then_skill_md_then_the_folder(make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", folder="checkout-of-pdf")
    assert read_skill_dir(folder).name == "pdf"
    assert read_skill_dir(folder, name="other").name == "other"
    (folder / "SKILL.md").write_text("# no frontmatter\n")
    assert read_skill_dir(folder).name == "checkout-of-pdf"


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside.md", "references/forms.md"])
def test_any_symlink_inside_the_folder_is_refused(make_skill: Callable[..., Path], target: str) -> None:
    folder = make_skill("pdf", {"references/forms.md": "# Forms\n"})
    (folder / "link.md").symlink_to(target)
    where = "inside" if target == "references/forms.md" else "outside"
    with pytest.raises(UnsafePath, match=f"link.md is a symbolic link to .*\\({where} the skill folder\\)"):
        read_skill_dir(folder)


def test_a_symlinked_subfolder_is_refused(make_skill: Callable[..., Path], tmp_path: Path) -> None:
    folder = make_skill("pdf")
    (tmp_path / "secrets").mkdir()
    (folder / "references").symlink_to(tmp_path / "secrets", target_is_directory=True)
    with pytest.raises(UnsafePath, match="references is a symbolic link"):
        read_skill_dir(folder)


def test_the_folder_itself_may_be_a_symlink(make_skill: Callable[..., Path], tmp_path: Path) -> None:
    folder = make_skill("pdf")
    (tmp_path / "linked").symlink_to(folder, target_is_directory=True)
    assert read_skill_dir(tmp_path / "linked").file("SKILL.md") is not None


def test_special_files_are_refused(make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf")
    os.mkfifo(folder / "pipe")
    with pytest.raises(UnsafePath, match="pipe is not a regular file"):
        read_skill_dir(folder)


def test_too_many_files_is_refused(make_skill: Callable[..., Path]) -> None:
    folder = make_skill("pdf", {f"references/{i}.md": "x" for i in range(LIMITS.skill_files)})
    with pytest.raises(InvalidInput, match=f"more than {LIMITS.skill_files} files"):
        read_skill_dir(folder)


def test_too_large_a_file_or_skill_is_refused(make_skill: Callable[..., Path]) -> None:
    big = make_skill("big", {"assets/blob.bin": b"\0" * (LIMITS.skill_file_bytes + 1)})
    with pytest.raises(InvalidInput, match=r"blob.bin is 2,097,153 bytes; the limit per skill file is 2,097,152"):
        read_skill_dir(big)
    chunk = b"\0" * LIMITS.skill_file_bytes
    many = make_skill("many", {f"assets/{i}.bin": chunk for i in range(LIMITS.skill_bytes // len(chunk) + 1)})
    with pytest.raises(InvalidInput, match="bytes in all"):
        read_skill_dir(many)


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such folder"):
        read_skill_dir(tmp_path / "nope")
