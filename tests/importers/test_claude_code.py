from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from trace2skill.importers.common import skill_text_digest
from trace2skill.importers.limits import MARKER
from trace2skill.models import LIMITS, ReasoningPart, TextPart


def scan(path: Path) -> dict[str, Any]:
    """What the raw transcript holds, counted independently of the importer."""
    msg_ids, calls, results, errors, user_texts = set(), set(), 0, 0, 0
    for line in path.read_text().splitlines():
        record = json.loads(line)
        message = record.get("message")
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        if record.get("type") == "assistant":
            msg_ids.add(message["id"])
            calls |= {b["id"] for b in blocks if b.get("type") == "tool_use"}
        elif record.get("type") == "user" and not record.get("isMeta"):
            tool_results = [b for b in blocks if b.get("type") == "tool_result"]
            results += len(tool_results)
            errors += sum(1 for b in tool_results if b.get("is_error"))
            if isinstance(content, str) or any(b.get("type") == "text" for b in blocks):
                user_texts += 1
    return {"assistant": len(msg_ids), "calls": calls, "results": results, "errors": errors, "users": user_texts}


def roles(t: Any) -> Counter[str]:
    return Counter(m.role for m in t.messages)


CLAUDE = "claude_code"


def test_every_fixture_main_session_matches_what_the_transcript_holds(samples: Path, imported: Any, ids: Any) -> None:
    for name in ("session_clamp.jsonl", "old_layout/8e2d4c6a-0b1f-4a3e-9d5c-7f6e5d4c3b2a.jsonl"):
        path = samples / CLAUDE / name
        expected = scan(path)
        (t,) = imported(path, "claude-code")
        assert roles(t)["assistant"] == expected["assistant"], name
        assert roles(t)["user"] == expected["users"], name
        call_ids, result_ids = ids(t)
        assert call_ids == expected["calls"], name
        assert len(t.tool_results) == expected["results"], name
        assert call_ids == result_ids, f"{name}: every tool call is paired with its result"
        assert sum(r.is_error for r in t.tool_results) == expected["errors"], name
        assert t.metadata["source_format"] == "claude-code" and t.metadata["session_id"] in t.id


def test_a_failed_bash_command_in_a_fixture_stays_an_error_result(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / CLAUDE / "session_clamp.jsonl")
    failed = next(r for r in t.tool_results if r.tool_call_id == "toolu_c03")
    assert failed.is_error and failed.output.startswith("Exit code 1")
    assert t.task.startswith("Add a function called clamp(x, lo, hi)")
    assert t.final_answer and ".gitignore" in t.final_answer
    assert t.metadata["skipped_records"]["meta"] == 2  # the two Stop-hook feedback lines
    assert "Stop hook feedback" not in "\n".join(m.text for m in t.messages)


def test_a_rejected_tool_use_and_the_interrupt_in_a_fixture_are_kept(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / CLAUDE / "session_clamp.jsonl")
    (rejected,) = [r for r in t.tool_results if "doesn't want to proceed" in r.output]
    assert rejected.is_error and rejected.tool_call_id == "toolu_c05"
    texts = [m.text for m in t.messages if m.role == "user"]
    assert texts[1] == "[Request interrupted by user for tool use]"
    assert texts[2].startswith("Leave setup.py alone")
    thoughts = [p.text for m in t.messages for p in m.content if isinstance(p, ReasoningPart)]
    assert len(thoughts) == 2 and thoughts[1].startswith("The package is not installed")
    assert t.metadata["subagents"] == ["b71c0d2", "c93e4f1"]  # the two Task runs
    # the snapshot before the first message is bookkeeping; the two during the session are counted
    assert t.metadata["skipped_records"]["file-history-snapshot"] == 2


def test_tool_use_counts_of_a_fixture_session_match_its_lines(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / CLAUDE / "session_clamp.jsonl")
    names = Counter(c.name for c in t.tool_calls)
    assert names == {"Bash": 4, "Edit": 2, "Task": 2, "Write": 1}
    assert [r.tool_call_id for r in t.tool_results if r.is_error] == ["toolu_c03", "toolu_c05"]


def test_old_layout_sidechain_fixtures_are_their_own_linked_trajectories(samples: Path, imported: Any) -> None:
    folder = samples / CLAUDE / "old_layout"
    main = "8e2d4c6a-0b1f-4a3e-9d5c-7f6e5d4c3b2a"
    for name in ("agent-1a2b3c4d.jsonl", "agent-5e6f7a8b.jsonl"):
        (t,) = imported(folder / name)
        assert t.task == "Warmup"
        assert [m.role for m in t.messages] == ["user", "assistant"]
        assert t.metadata["subagent"] is True
        assert t.metadata["parent_session_id"] == main
        assert t.metadata["agent_id"] == name.removeprefix("agent-").removesuffix(".jsonl")
        assert t.id != f"claude-code:{main}"
    (bedrock,) = imported(folder / "agent-5e6f7a8b.jsonl")
    assert "haiku" in bedrock.metadata["model"]
    whole = imported(folder)  # the folder: the main session and both sidechains, each its own run
    assert sorted(t.metadata.get("agent_id", "main") for t in whole) == ["1a2b3c4d", "5e6f7a8b", "main"]


def test_a_new_layout_fixture_subagent_merges_parallel_calls_and_skips_progress(
    samples: Path, imported: Any, ids: Any
) -> None:
    (t,) = imported(samples / CLAUDE / "subagents" / "6c5b4a39_agent-ab12cd3.jsonl")
    names = Counter(c.name for c in t.tool_calls)
    assert names == {"WebSearch": 3, "WebFetch": 2}
    call_ids, result_ids = ids(t)
    assert call_ids == result_ids
    # three parallel calls written one per line (one after a sibling's result) form one message
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert [p.type for p in t.messages[1].content] == ["text", "tool_call", "tool_call", "tool_call"]
    assert t.metadata["skipped_records"] == {"progress": 5}
    assert t.metadata["subagent"] is True and t.metadata["agent_id"] == "ab12cd3"


def test_a_compaction_sidechain_fixture_imports_its_summary(samples: Path, imported: Any) -> None:
    (t,) = imported(samples / CLAUDE / "subagents" / "6c5b4a39_agent-acompact-5f0e1d.jsonl")
    assert [m.role for m in t.messages] == ["user", "assistant"]
    assert t.task.startswith("Your task is to create a detailed summary")
    assert t.final_answer and t.final_answer.startswith("<summary>")
    assert t.metadata["skipped_records"]["meta"] == 2


def test_a_stream_json_fixture_imports_with_the_task_marked_missing(samples: Path, imported: Any, ids: Any) -> None:
    (t,) = imported(samples / CLAUDE / "action_ci-runner.sdk.json")
    call_ids, result_ids = ids(t)
    assert call_ids == result_ids == {"call_sdk_1", "call_sdk_2", "call_sdk_3"}
    assert t.metadata["task_missing"] is True
    assert t.task.startswith("[no user request recorded in this claude-code log]")
    assert t.final_answer == "Updated the CI runner to ubuntu-24.04 and commented on #42."
    assert t.metadata["result"]["total_cost_usd"] == 0.0123


def test_every_real_main_session_matches_what_the_transcript_holds(traces: Path, imported: Any, ids: Any) -> None:
    for name in (
        "drmaciver_coverage-test-fix.jsonl",
        "drmaciver_python-to-rust-port.jsonl",
        "codemie_session-9eda1058.jsonl",
        "codemie_tmp-private/4c2ddfdc-b619-4525-8d03-1950fb1b0257.jsonl",
    ):
        path = traces / "claude_code" / name
        expected = scan(path)
        (t,) = imported(path, "claude-code")
        assert roles(t)["assistant"] == expected["assistant"], name
        assert roles(t)["user"] == expected["users"], name
        call_ids, result_ids = ids(t)
        assert call_ids == expected["calls"], name
        assert len(t.tool_results) == expected["results"], name
        assert call_ids == result_ids, f"{name}: every tool call is paired with its result"
        assert sum(r.is_error for r in t.tool_results) == expected["errors"], name
        assert t.metadata["source_format"] == "claude-code" and t.metadata["session_id"] in t.id


def test_a_failed_bash_command_stays_an_error_result(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "claude_code" / "drmaciver_coverage-test-fix.jsonl")
    (error,) = [r for r in t.tool_results if r.is_error]
    assert error.output.startswith("Exit code 1")
    assert t.task.startswith("Add a function called multiply_numbers")
    assert t.final_answer and "gitignore" in t.final_answer
    assert t.metadata["skipped_records"] == {"meta": 2}  # the two Stop-hook feedback lines


def test_a_rejected_tool_use_and_the_interrupt_are_kept(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "claude_code" / "codemie_session-9eda1058.jsonl")
    (rejected,) = [r for r in t.tool_results if r.is_error]
    assert "doesn't want to proceed" in rejected.output
    texts = [m.text for m in t.messages if m.role == "user"]
    assert texts[1].startswith("[Request interrupted by user")
    assert any(isinstance(p, ReasoningPart) for m in t.messages for p in m.content)  # thinking blocks
    assert t.metadata["subagents"] == ["a693a87", "a46b9c3"]  # the two Task runs
    assert t.metadata["skipped_records"]["file-history-snapshot"] == 2


def test_tool_use_counts_of_the_long_port_session_match_the_readme(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "claude_code" / "drmaciver_python-to-rust-port.jsonl")
    names = Counter(c.name for c in t.tool_calls)
    assert (names["TodoWrite"], names["Bash"], names["Write"], names["Task"]) == (10, 16, 7, 1)
    assert not any(r.is_error for r in t.tool_results)


def test_old_layout_sidechain_files_are_their_own_linked_trajectories(traces: Path, imported: Any) -> None:
    folder = traces / "claude_code" / "codemie_tmp-private"
    main = "4c2ddfdc-b619-4525-8d03-1950fb1b0257"
    for name in ("agent-36541525.jsonl", "agent-50243ee8.jsonl"):
        (t,) = imported(folder / name)
        assert t.task == "Warmup"
        assert [m.role for m in t.messages] == ["user", "assistant"]
        assert t.metadata["subagent"] is True
        assert t.metadata["parent_session_id"] == main
        assert t.metadata["agent_id"] == name.removeprefix("agent-").removesuffix(".jsonl")
        assert t.id != f"claude-code:{main}"
    (bedrock,) = imported(folder / "agent-50243ee8.jsonl")
    assert "haiku" in bedrock.metadata["model"]


def test_new_layout_subagent_merges_parallel_calls_and_skips_progress(traces: Path, imported: Any, ids: Any) -> None:
    (t,) = imported(traces / "claude_code" / "spotter_subagents" / "ae4a77f8_agent-aac57f5.jsonl")
    names = Counter(c.name for c in t.tool_calls)
    assert names == {"WebSearch": 6, "WebFetch": 6}
    call_ids, result_ids = ids(t)
    assert call_ids == result_ids
    # six parallel calls written one per line (some after their siblings' results) form one message each
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert t.metadata["skipped_records"] == {"progress": 12}
    assert t.metadata["subagent"] is True and t.metadata["agent_id"] == "aac57f5"


def test_a_compaction_sidechain_imports_its_summary(traces: Path, imported: Any) -> None:
    (t,) = imported(traces / "claude_code" / "spotter_subagents" / "4d5611e5_agent-acompact-e1f845.jsonl")
    assert [m.role for m in t.messages] == ["user", "assistant"]
    assert t.task.startswith("Your task is to create a detailed summary")
    assert t.metadata["skipped_records"]["meta"] == 3


def test_stream_json_output_imports_with_the_task_marked_missing(traces: Path, imported: Any, ids: Any) -> None:
    (t,) = imported(traces / "claude_code" / "claude-code-action_sample-turns.sdk.json")
    call_ids, result_ids = ids(t)
    assert call_ids == result_ids == {"tool_call_1", "tool_call_2", "tool_call_3"}
    assert t.metadata["task_missing"] is True
    assert t.task.startswith("[no user request recorded in this claude-code log]")
    assert t.final_answer and t.final_answer.startswith("Successfully removed debug print")
    assert t.metadata["result"]["total_cost_usd"] == 0.0347


def test_the_kept_branch_is_followed_and_the_abandoned_one_dropped(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    main = next(i.trajectory for i in items if i.trajectory and not i.trajectory.metadata.get("subagent"))
    texts = "\n".join(p.text for m in main.messages for p in m.content if isinstance(p, TextPart))
    assert "rewrite the whole file" not in texts
    assert [c.name for c in main.tool_calls] == ["Read", "Bash", "Skill", "Edit"]
    assert main.metadata["branch_records_dropped"] == 2
    assert [m.role for m in main.messages] == [
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    # the parallel result hanging off a sibling line is still paired
    assert {r.tool_call_id for r in main.tool_results} == {c.id for c in main.tool_calls}
    assert [r.is_error for r in main.tool_results] == [False, True, False, False]


def test_compaction_meta_lines_and_local_command_output_are_skipped(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    main = next(i.trajectory for i in items if i.trajectory and not i.trajectory.metadata.get("subagent"))
    texts = [m.text for m in main.messages if m.role == "user"]
    assert not any("continued from a previous conversation" in t or "local-command" in t for t in texts)
    assert not any("Base directory for this skill" in t for t in texts)
    assert main.messages[-1].text == "Fixed add(); the test passes now."  # reached across the compact boundary
    assert main.metadata["title"] == "Fix add() in calc.py"


def test_a_loaded_skill_is_noted_and_set(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    main = next(i.trajectory for i in items if i.trajectory and not i.trajectory.metadata.get("subagent"))
    assert main.metadata["skills_loaded"] == ["python-testing"]
    assert main.skill == "python-testing"


def test_the_skill_text_the_model_saw_is_kept_as_a_digest_and_not_as_text(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    main = next(i.trajectory for i in items if i.trajectory and not i.trajectory.metadata.get("subagent"))
    body = "\n# Python testing  \nRun pytest -x first.\n\n"  # trailing spaces and blank lines at the ends do not count
    assert main.metadata["skill_text_sha256"] == {"python-testing": [skill_text_digest(body)]}
    assert "Run pytest -x first" not in main.model_dump_json()
    assert skill_text_digest(body) != skill_text_digest("# Python testing\n\nRun pytest -x first.")


def test_the_files_of_a_loaded_skill_the_session_used_are_listed_relative_to_its_folder(
    fixtures: Path, imported: Any
) -> None:
    # the transcript: the skill loaded from /home/u/.claude/skills/xlsx, references/formulas.md opened with Read,
    # ~/.claude/skills/xlsx/scripts/recalc.py run with Bash, /work/out.xlsx read (not the skill's),
    # and /home/u/.claude/skills/xlsx/../notes.txt printed (out of the folder)
    (run,) = imported(fixtures / "claude_code_skill_files.jsonl")
    assert run.skill == "xlsx"
    assert run.metadata["skill_files_used"] == {"xlsx": ["SKILL.md", "references/formulas.md", "scripts/recalc.py"]}


def test_only_paths_inside_the_folder_the_skill_was_loaded_from_count() -> None:
    from trace2skill.importers.claude_code import skill_files_used

    def read(path: str) -> dict[str, Any]:
        return {"type": "tool_call", "id": "t", "name": "Read", "arguments": {"file_path": path}}

    messages = [{"role": "assistant", "content": [read("/s/x/references/a.md"), read("/s/xy/references/b.md")]}]
    assert skill_files_used(messages, {"x": "/s/x"}, {}) == {"x": ["references/a.md"]}  # not /s/xy
    assert skill_files_used(messages, {}, {"x": ["digest"]}) == {}  # loaded, but from no folder the log names
    assert skill_files_used(messages, {"x": "/s/x"}, {"x": ["digest"]}) == {"x": ["SKILL.md", "references/a.md"]}
    bash = {
        "type": "tool_call",
        "id": "b",
        "name": "Bash",
        "arguments": {"command": "ls /s/x/references/ /s/x/scripts/*.py"},
    }
    assert skill_files_used([{"role": "assistant", "content": [bash]}], {"x": "/s/x"}, {}) == {}  # no one file
    windows = [{"role": "assistant", "content": [read("C:\\Users\\u\\.claude\\skills\\x\\scripts\\a.py")]}]
    assert skill_files_used(windows, {"x": "C:/Users/u/.claude/skills/x"}, {}) == {"x": ["scripts/a.py"]}


def test_inline_sidechain_records_become_a_linked_subagent_run(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    (side,) = [i.trajectory for i in items if i.trajectory and i.trajectory.metadata.get("subagent")]
    assert side.task == "Find every caller of add()"
    assert side.metadata["parent_session_id"] == "5e1f0c2a-0000-4000-8000-000000000001"


def test_malformed_lines_are_named_and_the_rest_imports(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    errors = sorted((i.source.rsplit(":", 1)[1], i.error) for i in items if i.error)
    assert errors[0][0] == "19" and errors[0][1].startswith("invalid JSON")
    assert errors[1][0] == "20" and "without a message object" in errors[1][1]
    assert sum(1 for i in items if i.trajectory) == 2


def test_a_secret_in_the_transcript_is_redacted_before_storing(fixtures: Path, load: Any) -> None:
    items = load(fixtures / "claude_code_branches.jsonl")
    main = next(i.trajectory for i in items if i.trajectory and not i.trajectory.metadata.get("subagent"))
    dumped = main.model_dump_json()
    assert "sk-proj-Abc123" not in dumped and "[REDACTED:openai_key]" in dumped
    assert main.metadata["redactions"] == {"openai_key": 1}
    raw = load(fixtures / "claude_code_branches.jsonl", redact=False)
    assert "sk-proj-Abc123" in next(i.trajectory for i in raw if i.trajectory).model_dump_json()


def _huge_session(path: Path, outputs: int, size: int) -> None:
    lines, parent = [], None
    lines.append(
        json.dumps(
            {
                "type": "user",
                "uuid": "u0",
                "parentUuid": None,
                "sessionId": "big",
                "message": {"role": "user", "content": "Grep the logs"},
            }
        )
    )
    parent = "u0"
    for i in range(outputs):
        body = "x" * size
        if i == 3:  # secrets all across the region where the head/tail cut falls
            keys = " AKIAIOSFODNN7EXAMPLE" * 8000 + " "
            body = body[:120_000] + keys + body[120_000 + len(keys) :]
        lines.append(
            json.dumps(
                {
                    "type": "assistant",
                    "uuid": f"a{i}",
                    "parentUuid": parent,
                    "sessionId": "big",
                    "message": {
                        "id": f"m{i}",
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": "cat log"}}
                        ],
                    },
                }
            )
        )
        lines.append(
            json.dumps(
                {
                    "type": "user",
                    "uuid": f"r{i}",
                    "parentUuid": f"a{i}",
                    "sessionId": "big",
                    "message": {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": body}],
                    },
                }
            )
        )
        parent = f"r{i}"
    path.write_text("\n".join(lines) + "\n")


def test_a_session_larger_than_the_limit_is_cut_visibly_and_fits(tmp_path: Path, imported: Any) -> None:
    path = tmp_path / "big.jsonl"
    _huge_session(path, outputs=24, size=500_000)
    (t,) = imported(path)
    assert len(t.model_dump_json().encode()) <= LIMITS.trajectory_bytes
    assert len(t.tool_results) == 24
    cut = [r for r in t.tool_results if "trace2skill import:" in r.output]
    assert len(cut) == 24
    assert MARKER.split("{")[0] in cut[0].output
    assert t.metadata["truncated"]["count"] >= 24
    dumped = t.model_dump_json()
    # redacted before the cut: no half key survives on either side of the marker
    assert "AKIA" not in dumped and "EXAMPLE" not in dumped
    kept = dumped.count("[REDACTED:aws_access_key]")
    assert kept > 100 and t.metadata["redactions"]["aws_access_key"] == kept
