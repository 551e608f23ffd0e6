"""The demo's simulated analyst fleet: deterministic answers to every prompt the pipeline sends.

With no model configured, `trace2skill demo` still runs the real pipeline, and this fleet stands in
for the model behind the demo's loopback server (`trace2skill.demo.llmserver`). It reads the run,
checks a fix with the evaluator (first the agent's own answer, then its own correction: evaluators
never reveal the expected value), submits lessons tied to the run's topic, proposes small edits,
merges identical edits across patches (naming every source), repairs an anchor by finding the
closest line of the file, and drafts a skill.

It recognises a run's subject by a `[topic:NAME]` marker in its text (the demo adds one,
`trace2skill.demo.simulated`); each topic has one lesson and one edit, so lessons recur across runs
and merging has something to merge. A `[fix:VALUE]` marker stands in for the analyst's working-out
(without one, the correction takes back a row counted twice: the answer 3 too high). Runs marked
`[unfixable]` never reach a passing fix, so the evaluator gate drops their lessons. The LLM judge
(failures without a scorer) passes the reference answer or, with only a rubric, any answer other
than the run's rejected one.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from trace2skill.demo.llmserver import Reply, ServerRequest

__all__ = ["DOUBLE_COUNTED", "TOPICS", "Topic", "View", "answer", "server_handler"]

DOUBLE_COUNTED = 3
"""The mistake the correction takes back when a run carries no `[fix:VALUE]`: one row of 3 counted twice."""


@dataclass(frozen=True)
class Topic:
    lesson: str
    when: str
    content: str
    edit: dict[str, Any]
    create: dict[str, Any] | None = None


TOPICS: dict[str, Topic] = {
    "dates": Topic(
        "Normalise dates before comparing them",
        "when a task filters, sorts or compares dates",
        "Parse every date into ISO form (YYYY-MM-DD) before comparing; never compare the raw strings.",
        {
            "file": "SKILL.md",
            "op": "append_to_section",
            "target_section": "## Tips",
            "content": "- Parse dates into ISO form before comparing them (details: references/dates.md).",
        },
        {
            "file": "references/dates.md",
            "op": "create",
            "content": "# Dates\n\nConvert every date with an explicit format string; keep the original column.\n",
        },
    ),
    "units": Topic(
        "Check the units of every number",
        "when figures come from different columns or sheets",
        "Read the header or note that states the unit before adding or comparing figures.",
        {
            "file": "SKILL.md",
            "op": "append_to_section",
            "target_section": "## Tips",
            "content": "- Check the unit of each column before adding or comparing figures.",
        },
    ),
    "totals": Topic(
        "Recompute totals instead of trusting them",
        "when the answer is a sum or a total row exists",
        "Sum the data rows yourself and compare with any total row before answering.",
        {
            "file": "SKILL.md",
            "op": "insert_after",
            "target_section": "## Workflow",
            "target_text": "2. Open the sheet and find the data range.",  # S0 says "Locate the data range."
            "content": "3. Recompute any total from the data rows before trusting a total row.",
        },
    ),
    "headers": Topic(
        "Confirm which row holds the headers",
        "when a sheet has title rows above the table",
        "Print the first rows and pick the header row explicitly; never assume it is row 1.",
        {
            "file": "SKILL.md",
            "op": "append_to_section",
            "target_section": "## Workflow",
            "content": "- Print the first rows and pick the header row explicitly.",
        },
    ),
    "readback": Topic(
        "Read the output back after writing it",
        "after writing any file",
        "Open the written file again and check the target cells hold what you meant to write.",
        {
            "file": "SKILL.md",
            "op": "append_to_section",
            "target_section": "## Tips",
            "content": "- Read the output file back and check the written cells.",
        },
    ),
}
_TOPIC_OF_LESSON = {t.lesson: name for name, t in TOPICS.items()}

# --- answering ------------------------------------------------------------------------------------


@dataclass
class View:
    """What the simulated model reads of a request, whatever the protocol."""

    system: str
    texts: list[str]
    turns: int

    @property
    def role(self) -> str:
        return self.system.lstrip().partition("\n")[0]


def _topic(text: str) -> str:
    m = re.search(r"\[topic:(\w+)\]", text)
    return m.group(1) if m and m.group(1) in TOPICS else "readback"


def _lesson(topic: str) -> dict[str, str]:
    t = TOPICS[topic]
    return {"title": t.lesson, "description": t.when, "content": t.content}


def _correction(overview: str, answer: str) -> str | None:
    """The simulated analyst's fix: a `[fix:VALUE]` marker, else the synthetic runs' mistake taken back out."""
    if m := re.search(r"\[fix:(.*?)\]", overview):
        return m.group(1)
    return str(int(answer) - DOUBLE_COUNTED) if re.fullmatch(r"\d+", answer) else None


def _agentic(view: View) -> list[tuple[str, dict[str, Any]]]:
    overview = view.texts[0] if view.texts else ""
    topic = _topic(overview)
    final = re.search(r"^Final answer: (.*)$", overview, re.MULTILINE)
    answer = final.group(1) if final else ""
    if view.turns == 0:
        return [("read_steps", {"start": 0, "end": 2}), ("evaluate", {"answer": answer})]
    if view.turns == 1:
        correction = _correction(overview, answer)
        fix = answer + "?" if "[unfixable]" in overview or correction is None else correction
        return [("evaluate", {"answer": fix})]
    analysis = {
        "causes": [
            {"title": "Skipped a check", "description": "The agent answered without the check this topic needs."}
        ],
        "lessons": [_lesson(topic)],
        "fix_confirmed": "PASS" in "".join(view.texts),
    }
    return [("submit_analysis", analysis)]


def _judge(prompt: str) -> dict[str, Any]:
    """The LLM judge: a candidate passes when it equals the reference answer or, with only a rubric, when it
    is a new answer (the run's rejected answer, or that answer with a doubt added, fails)."""
    shown = re.search(r"## Final answer\n(.*?)(?:\n## File |\n</candidate>)", prompt, re.DOTALL)
    got = shown.group(1).strip() if shown else "(none)"
    reference = re.search(r"# Reference answer[^\n]*\n(.*?)\n\n# ", prompt, re.DOTALL)
    rejected = re.search(r"^The rejected attempt's final answer was: (.*)$", prompt, re.MULTILINE)
    if reference is not None:
        passed = got.lower() == reference.group(1).strip().lower()
    else:
        passed = got != "(none)" and not (rejected and got.startswith(rejected.group(1).strip()))
    feedback = "" if passed else "The final answer does not accomplish the task."
    return {"passed": passed, "score": 1.0 if passed else 0.0, "feedback": feedback}


def _lesson_topics(text: str) -> list[str]:
    return [name for title, name in _TOPIC_OF_LESSON.items() if title in text]


def _proposal(view: View) -> dict[str, Any]:
    text = "\n".join(view.texts)
    edits: list[dict[str, Any]] = []
    for topic in _lesson_topics(text)[:1]:
        t = TOPICS[topic]
        if t.edit["content"] in view.system:  # the skill already says it
            continue
        edits.append(dict(t.edit))
        if t.create:
            edits.append(dict(t.create))
    return {"reasoning": "One edit per lesson.", "edits": edits, "changelog": [f"teach: {e['file']}" for e in edits]}


_SIGNATURE = ("file", "op", "target_section", "target_text", "old_text", "after_section", "content")


def _merge(view: View) -> dict[str, Any]:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for text in view.texts:
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            try:
                edit = json.loads(line)
            except ValueError:
                continue
            if not isinstance(edit, dict) or "id" not in edit:
                continue
            key = tuple(edit.get(k) for k in _SIGNATURE)
            merged = groups.setdefault(key, {**{k: edit.get(k) for k in _SIGNATURE}, "sources": []})
            merged["sources"].append(edit["id"])
    edits = list(groups.values())
    return {
        "reasoning": "Identical edits combined.",
        "edits": edits,
        "changelog": [f"{e['op']} {e['file']}" for e in edits],
    }


def _file_lines(system: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s*\d+\| (.*)$", system, re.MULTILINE)]


def _closest(value: str, lines: list[str]) -> str:
    """The line sharing the most words with `value` (a cheap stand-in for a model's judgement)."""
    words = set(re.findall(r"\w+", value.lower()))
    best, score = value, 0.0
    for line in lines:
        other = set(re.findall(r"\w+", line.lower()))
        overlap = len(words & other) / max(1, len(words | other))
        if overlap > score:
            best, score = line, overlap
    return best if score >= 0.3 else value


def _anchor_fix(view: View) -> dict[str, Any]:
    user = "\n".join(view.texts)
    fix: dict[str, Any] = {}
    lines = _file_lines(view.system)
    for name in ("target_section", "target_text", "old_text", "after_section"):
        m = re.search(rf"^{name}: (.*)$", user, re.MULTILINE)
        if not m or m.group(1) == "(empty)":
            continue
        try:
            value = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            continue
        if any(line == value for line in lines):
            fix[name] = value
            continue
        fix[name] = _closest(value, lines)
    fix["note"] = "pointed the anchors at the closest line"
    return fix


def _draft(view: View) -> dict[str, Any]:
    return {
        "description": "Answer questions about spreadsheets and edit them safely. Use for xlsx and csv tasks.",
        "body": "# Spreadsheet tasks\n\n## Workflow\n\n1. Read the input file.\n2. Locate the data range.\n"
        "4. Write the answer.\n\n## Tips\n\n- Keep formulas intact.\n",
        "references": [],
    }


def answer(view: View) -> list[tuple[str, dict[str, Any]]] | dict[str, Any]:
    """Tool calls (agentic turns) or a structured answer (every other role)."""
    role = view.role
    if "error analyst (with evaluator)" in role:
        return _agentic(view)
    if role.startswith("# Role: judge"):
        return _judge("\n".join(view.texts))
    if "error analyst (single pass)" in role:
        topic = _topic("\n".join(view.texts))
        return {"causes": [{"title": "Skipped a check", "description": "seen in the log"}], "lessons": [_lesson(topic)]}
    if "success analyst" in role:
        topic = _topic("\n".join(view.texts))
        return {"solution_path": "Read, check, answer.", "lessons": [_lesson(topic)]}
    if "skill editor (proposal)" in role:
        return _proposal(view)
    if "skill editor (merge)" in role:
        return _merge(view)
    if "skill author" in role:
        return _draft(view)
    if role.startswith("You correct the anchors"):
        return _anchor_fix(view)
    if role.startswith("You repair an Agent Skill"):
        return {"reasoning": "nothing to change", "edits": []}
    return {"text": "unrecognised request"}


def server_handler(req: ServerRequest) -> Reply | dict[str, Any]:
    """For the local protocol server: answers a `ServerRequest`."""
    texts = req.texts[1:] if req.system else req.texts
    turns = sum(1 for m in req.messages if m.get("role") == "assistant")
    result = answer(View(req.system, texts, turns))
    if isinstance(result, dict):
        return result
    return Reply(tool_calls=[{"name": name, "arguments": args} for name, args in result])
