"""Trajectories as analysts read them: a compact overview, full steps on request, artifacts.

The reference is never rendered here; it reaches analysts only through an evaluator.
"""

from __future__ import annotations

import json

from trace2skill.models import Message, ReasoningPart, TextPart, ToolCallPart, ToolResultPart, Trajectory

__all__ = ["read_artifact", "render_full", "render_overview", "render_steps"]

PREVIEW_CHARS = 160
OVERVIEW_CHARS = 12_000
READ_CHARS = 8_000
FULL_CHARS = 30_000
PART_CHARS = 2_000


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}\n… ({len(text) - limit:,} more characters)"


def _arguments(call: ToolCallPart) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return json.dumps(call.arguments, ensure_ascii=False)


def _message_text(message: Message, part_chars: int) -> str:
    lines: list[str] = []
    for part in message.content:
        if isinstance(part, TextPart):
            lines.append(_clip(part.text, part_chars))
        elif isinstance(part, ReasoningPart):
            lines.append("(reasoning) " + _clip(part.text, part_chars))
        elif isinstance(part, ToolCallPart):
            lines.append(f"→ call {part.name} [{part.id or '-'}]: {_clip(_arguments(part), part_chars)}")
        elif isinstance(part, ToolResultPart):
            flag = " ERROR" if part.is_error else ""
            lines.append(f"← result [{part.tool_call_id or '-'}]{flag}: {_clip(part.output_text, part_chars)}")
    return "\n".join(lines)


def _header(t: Trajectory) -> list[str]:
    o = t.outcome
    outcome = o.status + (f", score {o.score:g}" if o.score is not None else "")
    lines = [f"Task: {_clip(t.task, 4_000)}", f"Outcome: {outcome}"]
    if o.feedback:
        lines.append(f"Feedback: {_clip(o.feedback, 1_500)}")
    if t.final_answer is not None:
        lines.append(f"Final answer: {_clip(t.final_answer, 1_500)}")
    if t.artifacts:
        listed = ", ".join(
            f"{a.name} ({len(a.content):,} chars{', base64' if a.encoding == 'base64' else ''})" for a in t.artifacts
        )
        lines.append(f"Artifacts: {listed}")
    return lines


def render_overview(t: Trajectory) -> str:
    """Task, outcome and a one-line preview of every step, within OVERVIEW_CHARS."""
    lines = _header(t)
    n = len(t.messages)
    lines.append(
        f"Steps: {n}, numbered 0 to {max(n - 1, 0)}. Below is a one-line preview of each; read any range in full "
        f"with read_steps(start, end). A long range comes back in pieces of about {READ_CHARS:,} characters, "
        "each saying where to continue."
    )
    previews = [
        f"[{i}] {m.role}: {_one_line(_message_text(m, PREVIEW_CHARS), PREVIEW_CHARS)}" for i, m in enumerate(t.messages)
    ]
    budget = OVERVIEW_CHARS - sum(len(x) + 1 for x in lines)
    if sum(len(p) + 1 for p in previews) > budget:
        # Keep the beginning and the end, where failures usually show, and elide the middle.
        head: list[str] = []
        tail: list[str] = []
        used = 0
        for a, b in zip(previews, reversed(previews), strict=False):
            if used + len(a) + len(b) + 2 > budget - 100 or len(head) + len(tail) >= len(previews):
                break
            head.append(a)
            tail.append(b)
            used += len(a) + len(b) + 2
        skipped = len(previews) - len(head) - len(tail)
        gap = f"… steps {len(head)} to {len(head) + skipped - 1} not previewed (read them with read_steps) …"
        previews = [*head, gap, *reversed(tail)] if skipped > 0 else previews
    return "\n".join(lines + previews)


def render_steps(t: Trajectory, start: int, end: int | None = None) -> str:
    """Steps start..end (inclusive) in full, within READ_CHARS; says where to continue when cut."""
    n = len(t.messages)
    if n == 0:
        return "This trajectory has no steps."
    start = max(0, min(start, n - 1))
    end = n - 1 if end is None else max(start, min(end, n - 1))
    out: list[str] = []
    used = 0
    for i in range(start, end + 1):
        block = f"[{i}] {t.messages[i].role}\n{_message_text(t.messages[i], READ_CHARS)}"
        if used and used + len(block) > READ_CHARS:
            out.append(f"… stopped before step {i}; call read_steps from {i} to continue.")
            break
        out.append(_clip(block, READ_CHARS))
        used += len(block)
    return "\n\n".join(out)


def read_artifact(t: Trajectory, name: str, offset: int = 0) -> str:
    for a in t.artifacts:
        if a.name == name:
            if a.encoding == "base64":
                return (
                    f"{name} is binary ({len(a.content):,} base64 characters) and cannot be shown as text; "
                    "inspect it in the work folder with `run` (e.g. python3 with openpyxl for a workbook)."
                )
            offset = max(0, offset)
            chunk = a.content[offset : offset + READ_CHARS]
            rest = len(a.content) - offset - len(chunk)
            more = f"\n… {rest:,} more characters; read again with offset {offset + len(chunk)}." if rest > 0 else ""
            return chunk + more
    names = ", ".join(a.name for a in t.artifacts) or "none"
    raise KeyError(f"no artifact named {name!r} (artifacts: {names})")


def render_full(t: Trajectory) -> str:
    """The whole run for a single-pass analyst, within FULL_CHARS (the middle elided first)."""
    lines = _header(t)
    steps = [f"[{i}] {m.role}\n{_message_text(m, PART_CHARS)}" for i, m in enumerate(t.messages)]
    text = "\n".join(lines) + "\n\nSteps:\n\n" + "\n\n".join(steps)
    if len(text) <= FULL_CHARS:
        return text
    half = FULL_CHARS // 2
    return f"{text[:half]}\n\n… {len(text) - FULL_CHARS:,} characters of the middle left out …\n\n{text[-half:]}"
