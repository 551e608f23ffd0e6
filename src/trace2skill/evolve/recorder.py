"""Per-stage timings, sequential call rounds and notes of one run, for its report."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from trace2skill.evolve.progress import ProgressCallback

__all__ = ["RunRecorder", "collapse_notes"]

_PER_RUN = re.compile(r"^(analysis|proposal) (?:of|for) (\S+) failed: (.*)$", re.DOTALL)
_IDS_SHOWN = 5


def collapse_notes(notes: list[str]) -> list[str]:
    """Each distinct note once, in first-seen order, `(×N)` when it came N times; per-run failures with
    the same cause become one note naming the runs. A run whose model went away must not end with 42
    copies of one line."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for note in notes:
        found = _PER_RUN.match(note)
        key = f"{found.group(1)}\0{found.group(3)}" if found else note
        groups.setdefault(key, []).append((found.group(2) if found else "", note))
    out: list[str] = []
    for key, seen in groups.items():
        what, sep, cause = key.partition("\0")
        if len(seen) == 1:
            out.append(seen[0][1])
        elif not sep:
            out.append(f"{key} (×{len(seen)})")
        else:
            runs = [run for run, _ in seen]
            more = f" and {len(runs) - _IDS_SHOWN} more" if len(runs) > _IDS_SHOWN else ""
            out.append(f"{what} of {len(runs)} runs failed ({', '.join(runs[:_IDS_SHOWN])}{more}): {cause}")
    return out


@dataclass
class RunRecorder:
    progress: ProgressCallback
    seconds: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - start
