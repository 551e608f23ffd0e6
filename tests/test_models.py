from __future__ import annotations

import json

import pytest

from trace2skill.models import (
    LIMITS,
    InvalidTrajectory,
    Patch,
    Skill,
    SkillFile,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    parse_trajectory,
    without_lone_surrogates,
)

ARCHITECTURE_EXAMPLE = {
    "task": "Sum column B of sales.xlsx into B20",
    "skill": "xlsx",
    "messages": [
        {"role": "user", "content": "Sum column B of sales.xlsx into B20"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll inspect the sheet first."},
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "bash",
                    "arguments": {"command": "python inspect.py"},
                },
            ],
        },
        {
            "role": "tool",
            "content": [
                {
                    "type": "tool_result",
                    "tool_call_id": "c1",
                    "output": "KeyError: 'Sheet1'",
                    "is_error": True,
                }
            ],
        },
        {"role": "assistant", "content": "Done: B20 = SUM(B2:B19)."},
    ],
    "outcome": {"status": "failure", "score": 0.0, "feedback": "B20 empty in output"},
    "final_answer": "B20 = SUM(B2:B19)",
    "tags": ["spreadsheet"],
    "metadata": {"model": "claude-sonnet-4-5", "agent": "claude-code"},
}


def test_architecture_example_parses_with_typed_parts():
    t = parse_trajectory(json.dumps(ARCHITECTURE_EXAMPLE))
    assert t.skill == "xlsx"
    assert t.outcome.status == "failure"
    assert isinstance(t.messages[0].content[0], TextPart)
    assert t.messages[0].text == "Sum column B of sales.xlsx into B20"
    assert [type(p) for p in t.messages[1].content] == [TextPart, ToolCallPart]
    result = t.messages[2].content[0]
    assert isinstance(result, ToolResultPart) and result.is_error and result.tool_call_id == "c1"
    assert t.tool_calls[0].arguments == {"command": "python inspect.py"}


def test_only_task_and_messages_are_required_and_outcome_defaults_to_unknown():
    t = parse_trajectory({"task": "t", "messages": []})
    assert t.outcome.status == "unknown"
    with pytest.raises(InvalidTrajectory, match="messages"):
        parse_trajectory({"task": "t"})


def test_round_trip_through_json_is_lossless():
    t = parse_trajectory(ARCHITECTURE_EXAMPLE)
    assert parse_trajectory(t.model_dump_json()) == t


def test_unknown_field_is_named_in_the_error():
    with pytest.raises(InvalidTrajectory, match="outcom"):
        parse_trajectory({"task": "t", "messages": [], "outcom": "failure"})


def test_unknown_part_type_is_refused():
    with pytest.raises(InvalidTrajectory, match=r"messages\.0\.content\.0"):
        parse_trajectory({"task": "t", "messages": [{"role": "user", "content": [{"type": "image"}]}]})


def test_oversized_payload_is_refused_before_parsing():
    huge = json.dumps({"task": "t", "messages": [], "metadata": {"x": "a" * LIMITS.trajectory_bytes}})
    with pytest.raises(InvalidTrajectory, match="limit is"):
        parse_trajectory(huge)


def test_oversized_field_names_the_field():
    with pytest.raises(InvalidTrajectory, match="task"):
        parse_trajectory({"task": "x" * (LIMITS.task_chars + 1), "messages": []})


def test_malformed_json_and_non_object_get_clear_errors():
    with pytest.raises(InvalidTrajectory, match="not valid JSON"):
        parse_trajectory("{not json")
    with pytest.raises(InvalidTrajectory, match="JSON object"):
        parse_trajectory("[1, 2]")


@pytest.mark.parametrize("bad", ["../etc", "Upper", "-lead", "a--b", "x" * 65, "nul\x00"])
def test_invalid_skill_names_are_refused(bad):
    with pytest.raises(InvalidTrajectory, match="skill"):
        parse_trajectory({"task": "t", "messages": [], "skill": bad})


def test_non_finite_score_is_refused():
    with pytest.raises(InvalidTrajectory, match="finite"):
        parse_trajectory('{"task": "t", "messages": [], "outcome": {"status": "success", "score": NaN}}')


def test_unparseable_tool_arguments_are_kept_raw():
    t = parse_trajectory(
        {
            "task": "t",
            "messages": [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_call", "name": "bash", "arguments": "{oops"}],
                }
            ],
        }
    )
    assert t.tool_calls[0].arguments == "{oops"


def test_skill_digest_depends_on_content_not_order():
    a = SkillFile(path="SKILL.md", data=b"x")
    b = SkillFile(path="references/r.md", data=b"y")
    assert Skill(name="s", files=(a, b)).digest == Skill(name="s", files=(b, a)).digest
    changed = Skill(name="s", files=(a, b)).with_files({"references/r.md": b"z"})
    assert changed.digest != Skill(name="s", files=(a, b)).digest
    assert changed.with_files({"references/r.md": None}).file("references/r.md") is None


def test_patch_accepts_the_papers_changelog_entries_key():
    p = Patch.model_validate({"edits": [], "changelog_entries": ["a"]})
    assert p.changelog == ["a"]


def test_lone_surrogates_in_keys_and_values_become_replacement_characters_and_pairs_stay() -> None:
    value = {"a\ud800": ["x\udc00y", "\U0001f600", 3, None], "n": {"deep": "\udbff"}}
    assert without_lone_surrogates(value) == {"a\ufffd": ["x\ufffdy", "\U0001f600", 3, None], "n": {"deep": "\ufffd"}}


def test_a_value_without_lone_surrogates_is_returned_as_it_is() -> None:
    value = {"task": "Sum B", "messages": [{"role": "user", "content": "emoji \U0001f600"}], "n": 1.5}
    assert without_lone_surrogates(value) is value
