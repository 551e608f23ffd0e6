"""Fixtures shared by the integration tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from trace2skill.home import Home
from trace2skill.workspace import Workspace


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Home]:
    """A home this process cannot write to, even as root (the immutable attribute), else skipped."""
    home = Home(tmp_path / "locked")
    Workspace.open(home).close()
    immutable = shutil.which("chattr") is not None and (
        subprocess.run(["chattr", "+i", str(home.root)], capture_output=True, check=False).returncode == 0
    )
    if not immutable:
        home.root.chmod(0o500)
    try:
        probe = home.root / "probe"
        try:
            probe.touch()
        except OSError:
            pass
        else:
            probe.unlink()
            pytest.skip("this process can write to any folder here (root without chattr): cannot make one unwritable")
        yield home
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(home.root)], check=False)
        home.root.chmod(0o700)
