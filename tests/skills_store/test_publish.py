"""A reader polling a published folder while it is republished in a loop never sees two versions mixed.

The reader runs in its own process (true parallelism, as a client would). Like any client that
wants a consistent view, it opens the skill folder once and reads every file relative to that
handle; it counts reads where files carry different version markers (must be none), reads where
the folder was missing (must be none: the swap is atomic), and reads whose pinned folder was pruned
underneath it (allowed: it saw nothing wrong, it just retries).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store import SkillStore
from trace2skill.skills_store import publish as publish_module

READER = r"""
import errno, json, os, sys

root, stop = sys.argv[1], sys.argv[2]
stats = {"complete": 0, "absent": 0, "vanished": 0, "mixed": 0, "markers": []}
seen = set()

def markers_in(dir_fd):
    found = set()
    for name in os.listdir(dir_fd):
        try:
            fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
        except IsADirectoryError:
            fd = None
        if fd is None or os.path.isdir(f"/proc/self/fd/{fd}"):
            if fd is not None:
                os.close(fd)
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)
            try:
                found |= markers_in(sub)
            finally:
                os.close(sub)
            continue
        with os.fdopen(fd, "rb") as f:
            data = f.read()
        found.add(data.rsplit(b"marker=", 1)[-1].strip())
    return found

announced = False
while not os.path.exists(stop):
    try:
        dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        stats["absent"] += 1
        continue
    try:
        found = markers_in(dir_fd)
    except FileNotFoundError:
        stats["vanished"] += 1
        continue
    finally:
        os.close(dir_fd)
    if not found:
        # Every file already gone: the pinned folder was pruned underneath the reader, not mixed.
        stats["vanished"] += 1
    elif len(found) == 1:
        stats["complete"] += 1
        seen |= found
    else:
        stats["mixed"] += 1
    if not announced:
        print("ready", flush=True)
        announced = True
stats["markers"] = sorted(m.decode() for m in seen)
print(json.dumps(stats), flush=True)
"""

FILES = ("SKILL.md", "references/a.md", "references/b.md", "scripts/run.py", "assets/data.txt")


def _version(k: int) -> Skill:
    files = []
    for path in FILES:
        head = "---\nname: pdf\ndescription: Fill forms.\n---\n" if path == "SKILL.md" else ""
        text = f"{head}{path} content {'x' * (50 * k % 700)}\nmarker={k}\n"
        files.append(SkillFile(path=path, data=text.encode(), executable=path.endswith(".py")))
    return Skill(name="pdf", files=tuple(files))


def _poll_while(folder: Path, tmp_path: Path, action: Callable[[int], None], rounds: int) -> dict:
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(folder), str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
        for k in range(rounds):
            action(k)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    return json.loads(out)


def test_a_reader_never_sees_a_mix_of_two_published_versions(store: SkillStore, tmp_path: Path) -> None:
    store.commit(_version(0), parent=None, author="human", changelog=["v0"])
    rounds = 150

    def publish_next(k: int) -> None:
        store.commit(_version(k + 1), parent=k + 1, author="evolve:loop", changelog=[f"v{k + 1}"])

    stats = _poll_while(store.skills_dir / "pdf", tmp_path, publish_next, rounds)
    assert store.head("pdf").version == rounds + 1
    assert stats["mixed"] == 0, stats
    assert stats["absent"] == 0, stats
    assert stats["complete"] > 0 and len(stats["markers"]) >= 2, stats
    assert (store.skills_dir / "pdf/SKILL.md").read_text().endswith(f"marker={rounds}\n")


@pytest.mark.skipif(publish_module._RENAMEAT2 is None, reason="needs renameat2 (Linux) for an atomic folder swap")
def test_a_reader_never_sees_a_mix_of_two_exported_versions(store: SkillStore, tmp_path: Path) -> None:
    for k in range(4):
        store.commit(_version(k), parent=k or None, author="human", changelog=[], publish=False)
    dest = tmp_path / "claude-skills"
    store.export("pdf", dest, version=1)

    def export_next(k: int) -> None:
        store.export("pdf", dest, version=k % 4 + 1)

    stats = _poll_while(dest / "pdf", tmp_path, export_next, 120)
    assert stats["mixed"] == 0, stats
    assert stats["absent"] == 0, stats
    assert stats["complete"] > 0 and len(stats["markers"]) >= 2, stats
    assert not (dest / "pdf").is_symlink()
    assert sorted(p.name for p in dest.iterdir()) == ["pdf"]
