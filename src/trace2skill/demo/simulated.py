"""The demo's offline model: the simulated analyst fleet, told which lesson each embedded run teaches.

`trace2skill.demo.fleet` answers every prompt of the pipeline like a careful analyst, and
recognises a run's subject by a `[topic:NAME]` marker in its text. The demo's runs are plain,
realistic trajectories without markers; their tags name the subject instead (`dates`, `units`,
`totals`, `headers`, `readback`), and runs tagged `missing-input` are broken tasks no lesson could
fix. This handler adds the marker to a request that carries one of those runs (with the answer the
analyst would work out, since no evaluator reveals it), then lets the simulated fleet answer. It
stands in for a model's judgement and nothing else: the markers exist only on the loopback wire,
and the requests come from the real pipeline through the real SDK client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from trace2skill.demo.fleet import TOPICS, server_handler
from trace2skill.models import Trajectory

__all__ = ["BROKEN_TAG", "DemoFleet", "marker_for"]

BROKEN_TAG = "missing-input"
NO_REFERENCE_FIX = "the corrected result"
"""What the simulated analyst offers the LLM judge for a failure without a reference."""


def marker_for(trajectory: Trajectory) -> str:
    """`[topic:NAME]` for the run's first subject tag, plus `[unfixable]` for a broken task, else
    `[fix:VALUE]` for a failure with a reference: the right answer a real analyst would work out from
    the run's files, since the evaluator only says pass or fail (without a reference, a stand-in that
    the simulated judge accepts)."""
    parts = [f"[topic:{tag}]" for tag in trajectory.tags if tag in TOPICS][:1]
    if BROKEN_TAG in trajectory.tags:
        parts.append("[unfixable]")
    elif parts and trajectory.outcome.status == "failure" and isinstance(trajectory.reference, str | int | float):
        parts.append(f"[fix:{trajectory.reference}]")
    elif parts and trajectory.outcome.status == "failure" and trajectory.reference is None:
        parts.append(f"[fix:{NO_REFERENCE_FIX}]")  # the LLM judge checks it against the task
    return " ".join(parts)


class DemoFleet:
    """A `MessagesServer` handler: the simulated fleet, with each embedded run's marker added."""

    def __init__(self, trajectories: Iterable[Trajectory]) -> None:
        self.markers = {f"Task: {t.task}": m for t in trajectories if (m := marker_for(t))}

    def __call__(self, req: Any) -> Any:
        return server_handler(self.mark(req))

    def mark(self, req: Any) -> Any:
        """The request with the marker appended to the first text that quotes a known task."""
        for i, message in enumerate(req.messages):
            content = message.get("content")
            if isinstance(content, str):
                marked = self._marked(content)
                if marked is not None:
                    return self._replace(req, i, {**message, "content": marked})
            elif isinstance(content, list):
                for j, block in enumerate(content):
                    text = block.get("text") if isinstance(block, dict) else None
                    marked = self._marked(text) if isinstance(text, str) else None
                    if marked is not None:
                        blocks = [*content[:j], {**block, "text": marked}, *content[j + 1 :]]
                        return self._replace(req, i, {**message, "content": blocks})
        return req

    def _marked(self, text: str) -> str | None:
        if "Task: " not in text:
            return None
        for task, marker in self.markers.items():
            if task in text:
                return f"{text}\n{marker}"
        return None

    @staticmethod
    def _replace(req: Any, index: int, message: dict[str, Any]) -> Any:
        messages = [*req.messages[:index], message, *req.messages[index + 1 :]]
        return dataclasses.replace(req, messages=messages)
