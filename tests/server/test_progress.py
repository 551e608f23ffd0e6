"""The progress bridge: evolve's per-stage events become one strictly increasing MCP progress value."""

from __future__ import annotations

import pytest

from trace2skill.evolve.progress import ProgressEvent
from trace2skill.server.progress import ProgressBridge, bridge_progress

pytestmark = pytest.mark.anyio


def _feed(bridge: ProgressBridge, events: list[ProgressEvent]) -> list[tuple[float, float, str]]:
    return [note for e in events if (note := bridge.update(e)) is not None]


def test_interleaved_analysis_and_proposal_events_never_move_progress_backwards() -> None:
    events = [ProgressEvent("select", 1, 1, "4 trajectories")]
    events += [ProgressEvent("analyse", 0, 4, "started"), ProgressEvent("propose", 0, 4, "started")]
    for i in range(1, 5):
        events += [ProgressEvent("analyse", i, 4, f"t{i}"), ProgressEvent("propose", i, 4, f"t{i}")]
    events += [ProgressEvent("analyse", 2, 4, "late repeat"), ProgressEvent("merge", 0, 1, "started")]
    events += [ProgressEvent("merge", 1, 1), ProgressEvent("apply", 0, None, "started")]
    events += [ProgressEvent("apply", 0, None, "3 edits"), ProgressEvent("commit", 1, 1, "version 2")]
    events += [ProgressEvent("done", 1, 1, "succeeded")]
    notes = _feed(ProgressBridge("deepen"), events)
    values = [n[0] for n in notes]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert {n[1] for n in notes} == {5.0} and notes[-1] == (5.0, 5.0, "done: succeeded")
    assert "analyse 1/4: t1" in [n[2] for n in notes] and all(v < 5.0 for v in values[:-1])


def test_create_mode_counts_the_draft_stage_and_unknown_stages_are_ignored() -> None:
    bridge = ProgressBridge("create")
    assert bridge.total == 6.0
    assert bridge.update(ProgressEvent("mystery", 1, 1)) is None
    first = bridge.update(ProgressEvent("draft", 0, 1, "started"))
    assert first is not None and 1.0 < first[0] < 2.0


async def test_notifications_go_out_in_order_and_a_failing_send_does_not_stop_the_run() -> None:
    sent: list[float] = []

    async def send(value: float, total: float | None, message: str | None) -> None:
        sent.append(value)
        if len(sent) == 2:
            raise RuntimeError("client went away")

    async with bridge_progress(send, "deepen") as progress:
        for i in range(1, 4):
            progress(ProgressEvent("analyse", i, 3))
        progress(ProgressEvent("done", 1, 1))
    assert sent == sorted(sent) and len(sent) == 4 and sent[-1] == 5.0


async def test_an_error_inside_the_bridge_comes_out_as_itself() -> None:
    async def send(value: float, total: float | None, message: str | None) -> None:
        return None

    with pytest.raises(LookupError, match="the original"):
        async with bridge_progress(send, "deepen") as progress:
            progress(ProgressEvent("analyse", 1, 2))
            raise LookupError("the original")
