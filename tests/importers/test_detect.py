from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.importers import UnsupportedFormat, detect_format, normalize_format

EXPECTED = {
    "claude_code": "claude-code",
    "openai_chat": "openai-chat",
    "openai_responses": "openai-responses",
    "anthropic_messages": "anthropic-messages",
    "mini_swe_agent": "openai-chat",
    "harbor_atif": "atif",
}
UNSUPPORTED = {
    "langfuse": "Langfuse trace export",
    "langsmith": "LangSmith run payloads",
    "swe_agent": "SWE-agent .traj",
    "openhands": "OpenHands event stream",
}


SAMPLES = Path(__file__).parent / "samples"
SHARED_TRACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "traces"

# (folder, number of trace files, number of records they import): the in-repo samples always, and the
# extended corpus in ../shared/data/traces when it is there
CORPORA = [pytest.param(SAMPLES, 27, 24, id="samples")]
if SHARED_TRACES.is_dir():
    CORPORA.append(pytest.param(SHARED_TRACES, 42, 230, id="shared-corpus"))


def trace_files(folder: Path) -> list[Path]:
    """Trace files in the format folders (the first folder names the format)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix in (".json", ".jsonl", ".traj") and len(p.relative_to(folder).parts) > 1
    )


@pytest.mark.parametrize(("folder", "files_expected", "records_expected"), CORPORA)
def test_every_corpus_file_is_detected_as_its_format_or_named_as_unsupported(
    folder: Path, files_expected: int, records_expected: int
) -> None:
    files = trace_files(folder)
    assert len(files) == files_expected
    for path in files:
        kind = path.relative_to(folder).parts[0]
        if kind in EXPECTED:
            assert detect_format(path) == EXPECTED[kind], path
        elif kind in UNSUPPORTED:
            with pytest.raises(UnsupportedFormat, match=f"unsupported format \\({UNSUPPORTED[kind]}"):
                detect_format(path)
        elif path.name.endswith(".sample.jsonl"):
            with pytest.raises(UnsupportedFormat, match="log events"):
                detect_format(path)
        else:
            assert detect_format(path) == "otel", path


@pytest.mark.parametrize(("folder", "files_expected", "records_expected"), CORPORA)
def test_every_corpus_file_of_a_supported_format_imports_without_error(
    folder: Path, files_expected: int, records_expected: int, load: Any
) -> None:
    imported = 0
    for path in trace_files(folder):
        items = load(path)
        if any(i.unsupported for i in items):
            assert path.relative_to(folder).parts[0] in {*UNSUPPORTED, "otel_genai"}, path
            continue
        assert items and all(i.error is None for i in items), [(i.source, i.error) for i in items if i.error]
        imported += len(items)
    assert imported == records_expected


def test_unknown_shapes_and_non_json_are_unsupported_with_a_reason(tmp_path: Path) -> None:
    text = tmp_path / "notes.json"
    text.write_text("hello")
    with pytest.raises(UnsupportedFormat, match="not JSON"):
        detect_format(text)
    odd = tmp_path / "odd.json"
    odd.write_text('{"foo": 1}')
    with pytest.raises(UnsupportedFormat, match=r"unknown shape.*supported formats: claude-code"):
        detect_format(odd)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(UnsupportedFormat, match="empty"):
        detect_format(empty)


def test_format_names_and_aliases_normalize_and_unknown_names_are_refused() -> None:
    assert normalize_format("Codex") == "openai-responses"
    assert normalize_format("claude") == "claude-code"
    assert normalize_format("openinference") == "otel"
    assert normalize_format("auto") == "auto"
    with pytest.raises(InvalidInput, match="unknown format 'langfuse'; choose auto or one of"):
        normalize_format("langfuse")


def test_a_request_body_is_told_apart_by_its_blocks_and_roles(tmp_path: Path) -> None:
    anthropic = tmp_path / "a.json"
    block = {"type": "tool_use", "id": "t", "name": "x", "input": {}}
    anthropic.write_text(json.dumps({"model": "claude", "messages": [{"role": "assistant", "content": [block]}]}))
    chat = tmp_path / "c.json"
    chat.write_text(
        '{"model": "gpt", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}'
    )
    responses = tmp_path / "r.json"
    responses.write_text('{"model": "gpt-5", "input": "hi", "output": []}')
    assert detect_format(anthropic) == "anthropic-messages"
    assert detect_format(chat) == "openai-chat"
    assert detect_format(responses) == "openai-responses"


def test_a_jsonl_file_whose_first_line_is_corrupt_is_still_read_line_by_line(
    tmp_path: Path, fixtures: Path, load: Any
) -> None:
    good = (fixtures / "claude_code_branches.jsonl").read_text().splitlines()
    path = tmp_path / "session.jsonl"
    path.write_text("\n".join(['{"type": "user", "uuid": ', *good[1:]]) + "\n")
    assert detect_format(path) == "claude-code"
    items = load(path)
    assert any(i.error and i.source.endswith(":1") for i in items)
    assert sum(1 for i in items if i.trajectory) == 2
