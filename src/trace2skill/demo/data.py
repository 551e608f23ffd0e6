"""The demo's embedded data: a starter Agent Skill and a set of recorded runs in the public JSON form.

Both ship inside the package (`demo/data/`), so the demo needs no network and no files of the user's.
The trajectories are what `trace2skill record FILE` accepts; read any of them as an example.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from trace2skill.errors import InvalidInput
from trace2skill.models import Trajectory

__all__ = ["SKILL_NAME", "load_trajectories", "skill_folder"]

SKILL_NAME = "spreadsheet-qa"
"""The starter skill's name (its folder under `data/skills/`)."""

_DATA = resources.files("trace2skill.demo").joinpath("data")


@contextlib.contextmanager
def skill_folder() -> Iterator[Path]:
    """The starter skill as a real folder (extracted first if the package is zipped)."""
    with resources.as_file(_DATA.joinpath("skills", SKILL_NAME)) as path:
        if not (path / "SKILL.md").is_file():
            raise InvalidInput(f"the demo's starter skill is missing from the installed package ({path})")
        yield path


def load_trajectories() -> list[Trajectory]:
    """Every embedded run, in file order (files are named NN-slug.json)."""
    folder = _DATA.joinpath("trajectories")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    if not files:
        raise InvalidInput("the demo's trajectories are missing from the installed package")
    return [Trajectory.model_validate_json(f.read_text(encoding="utf-8")) for f in files]
