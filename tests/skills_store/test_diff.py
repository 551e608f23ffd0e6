from __future__ import annotations

from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import diff_skills


def _skill(**files: bytes | tuple[bytes, bool]) -> Skill:
    out = []
    for path, value in files.items():
        data, executable = value if isinstance(value, tuple) else (value, False)
        out.append(SkillFile(path=path.replace("__", "/"), data=data, executable=executable))
    return Skill(name="pdf", files=tuple(out))


def test_diff_of_equal_skills_is_empty() -> None:
    a = _skill(SKILL_md=b"same\n")
    assert diff_skills(a, a) == ""


def test_diff_shows_changed_added_removed_and_binary_files_git_style() -> None:
    a = _skill(**{"SKILL.md": b"one\ntwo\n", "old.md": b"gone\n", "logo.png": b"\x89PNG\x00a"})
    b = _skill(**{"SKILL.md": b"one\nTWO\n", "new.md": b"fresh\n", "logo.png": b"\x89PNG\x00b"})
    out = diff_skills(a, b)
    assert "diff --git a/SKILL.md b/SKILL.md\n--- a/SKILL.md\n+++ b/SKILL.md\n" in out
    assert "-two\n+TWO\n" in out
    assert "new file mode 100644\n--- /dev/null\n+++ b/new.md\n@@ -0,0 +1 @@\n+fresh\n" in out
    assert "deleted file mode 100644\n--- a/old.md\n+++ /dev/null\n" in out
    assert "Binary files a/logo.png and b/logo.png differ\n" in out
    assert out.index("SKILL.md") < out.index("logo.png") < out.index("new.md") < out.index("old.md")


def test_diff_notes_a_mode_change_and_a_missing_final_newline() -> None:
    a = _skill(run_sh=(b"echo hi", False))
    b = _skill(run_sh=(b"echo bye", True))
    out = diff_skills(a, b)
    assert "old mode 100644\nnew mode 100755\n" in out
    assert "-echo hi\n\\ No newline at end of file\n+echo bye\n\\ No newline at end of file\n" in out
