from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.doubles.llmserver import FakeLLMServer, Reply

from trace2skill.cli import cli
from trace2skill.home import Home
from trace2skill.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "importers" / "fixtures"


def invoke(home: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def store(home: Path) -> Any:
    return Workspace.open(Home(home))


def test_import_auto_reports_runs_redactions_and_bad_records_by_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = invoke(home, "import", "auto", str(FIXTURES))
    assert result.exit_code == 0, result.output
    assert "Imported 9 trajectories from 6 file(s)" in result.output
    assert "stored: 9 new, 0 updated, 0 unchanged" in result.output
    assert "redacted: 1 (openai_key 1)" in result.output
    assert "record errors (5):" in result.output
    assert "claude_code_branches.jsonl:19: invalid JSON" in result.output
    assert "chat_records.jsonl:3: message 0 has unknown role 'wizard'" in result.output
    ws = store(home)
    try:
        assert ws.traces.count() == 9
    finally:
        ws.close()


def test_importing_again_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "import", "auto", str(FIXTURES / "anthropic_exchange.json"))
    again = invoke(home, "import", "anthropic-messages", str(FIXTURES / "anthropic_exchange.json"), "--json")
    summary = json.loads(again.output)
    assert summary["stored"] == {
        "added": 0,
        "replaced": 0,
        "unchanged": 1,
        "relabelled": 0,
        "versioned": {},
        "skill_reads": {},
    }
    assert again.exit_code == 0


def test_options_label_tag_and_name_the_skill_of_every_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = invoke(
        home,
        "import",
        "openai-responses",
        str(FIXTURES / "responses_request.json"),
        "--skill",
        "refactor",
        "--outcome",
        "failure",
        "--tag",
        "batch-1",
        "--tag",
        "codex",
        "--json",
    )
    (ident,) = json.loads(result.output)["ids"]
    ws = store(home)
    try:
        t = ws.traces.get(ident)
    finally:
        ws.close()
    assert t.skill == "refactor" and t.tags == ["batch-1", "codex"]
    assert t.outcome.status == "failure" and t.outcome.judged_by == "human"


def test_a_claude_code_run_gets_the_stored_version_whose_skill_text_it_loaded(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "python-testing"
    folder.mkdir()
    front = "---\nname: python-testing\ndescription: Test Python code.\n---\n"
    (folder / "SKILL.md").write_text(front + "# Python testing\n")
    assert invoke(home, "skills", "import", str(folder)).exit_code == 0
    (folder / "SKILL.md").write_text(front + "# Python testing\nRun pytest -x first.\n")
    assert invoke(home, "skills", "import", str(folder)).exit_code == 0  # v2: the text the transcript loaded
    result = invoke(home, "import", "claude-code", str(FIXTURES / "claude_code_branches.jsonl"), "--json")
    ws = store(home)
    try:
        runs = [ws.traces.get(i) for i in json.loads(result.output)["ids"]]
    finally:
        ws.close()
    (main,) = [t for t in runs if t.skill == "python-testing"]
    assert main.skill_version == 2 and main.metadata["skill_version_from"] == "v2: its SKILL.md text"
    assert json.loads(result.output)["stored"]["versioned"] == {"python-testing": 1}


def test_reimporting_gives_a_stored_run_the_version_it_lacked_and_says_so(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "python-testing"
    transcript = str(FIXTURES / "claude_code_branches.jsonl")
    first = invoke(home, "import", "claude-code", transcript)
    assert first.exit_code == 0 and "skill versions" not in first.output  # the skill is not in the store yet
    folder.mkdir()
    body = "---\nname: python-testing\ndescription: Test Python code.\n---\n# Python testing\nRun pytest -x first.\n"
    (folder / "SKILL.md").write_text(body)
    assert invoke(home, "skills", "import", str(folder)).exit_code == 0
    again = invoke(home, "import", "claude-code", transcript)
    assert "stored: 0 new, 1 updated, 1 unchanged" in again.output, again.output
    assert "skill versions from the SKILL.md text the runs loaded: python-testing 1" in again.output
    ws = store(home)
    try:
        (main,) = [t for t in ws.traces.filter(skill="python-testing")]
        assert main.skill_version == 1
    finally:
        ws.close()
    third = invoke(home, "import", "claude-code", transcript)
    assert "stored: 0 new, 0 updated, 2 unchanged" in third.output


def test_no_redact_keeps_what_the_log_said(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = invoke(
        home, "import", "claude-code", str(FIXTURES / "claude_code_branches.jsonl"), "--no-redact", "--json"
    )
    summary = json.loads(result.output)
    assert summary["redactions"] == {}
    ws = store(home)
    try:
        assert "sk-proj-Abc123" in ws.traces.get("claude-code:5e1f0c2a-0000-4000-8000-000000000001").model_dump_json()
    finally:
        ws.close()


def test_a_path_without_a_format_is_detected(tmp_path: Path) -> None:
    result = invoke(tmp_path / "home", "import", str(FIXTURES / "otlp_export.json"))
    assert result.exit_code == 0 and "Imported 2 trajectories" in result.output


def test_nothing_importable_exits_non_zero_and_says_why(tmp_path: Path) -> None:
    odd = tmp_path / "langfuse.json"
    odd.write_text('{"trace": {}, "observations": []}')
    result = invoke(tmp_path / "home", "import", "auto", str(odd))
    assert result.exit_code == 1
    assert "unsupported format (Langfuse trace export)" in result.output
    assert "Error: nothing was imported (every file was unsupported)" in result.stderr


def test_an_unknown_format_or_a_bad_option_is_one_clear_error(tmp_path: Path) -> None:
    result = invoke(tmp_path / "home", "import", "langsmith", str(FIXTURES))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: unknown format 'langsmith'; choose auto or one of: "
        "claude-code, openai-chat, openai-responses, anthropic-messages, otel, atif, trace2skill"
    )
    bad_skill = invoke(tmp_path / "home", "import", "auto", str(FIXTURES), "--skill", "Not A Skill")
    assert bad_skill.exit_code == 1 and "not a valid Agent Skills name" in bad_skill.stderr
    missing = invoke(tmp_path / "home", "import", "auto", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 1 and "no such file or folder" in missing.stderr


def test_hooks_install_status_and_uninstall_from_the_command_line(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{\n  "model": "opus"\n}\n')
    installed = invoke(tmp_path / "home", "hooks", "install", "claude-code", "--settings", str(settings))
    assert installed.exit_code == 0 and "installed Stop, SessionEnd hook(s)" in installed.output
    status = json.loads(
        invoke(tmp_path / "home", "hooks", "status", "claude-code", "--settings", str(settings), "--json").output
    )
    assert set(status["events"]) == {"Stop", "SessionEnd"}
    removed = invoke(tmp_path / "home", "hooks", "uninstall", "claude-code", "--settings", str(settings))
    assert removed.exit_code == 0 and settings.read_text() == '{\n  "model": "opus"\n}\n'


@pytest.fixture
def judge_server() -> Iterator[FakeLLMServer]:
    def answer(req: Any) -> Reply:
        failed = "tool result ERROR" in req.last_user_text
        return Reply(
            data={
                "status": "failure" if failed else "success",
                "score": 0.0 if failed else 1.0,
                "feedback": "the command failed" if failed else "it worked",
            }
        )

    with FakeLLMServer(answer) as server:
        yield server


def test_traces_judge_labels_unknown_runs_and_records_the_model(tmp_path: Path, judge_server: FakeLLMServer) -> None:
    home = tmp_path / "home"
    invoke(home, "import", "auto", str(FIXTURES / "anthropic_exchange.json"), str(FIXTURES / "otlp_export.json"))
    invoke(home, "import", "auto", str(FIXTURES / "responses_request.json"), "--outcome", "success")
    model = f"anthropic:claude-judge@{judge_server.url}"
    result = invoke(home, "traces", "judge", "--model", model, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) == 3  # the run labelled at import time is not judged again
    assert judge_server.count == 3
    ws = store(home)
    try:
        exchange = ws.traces.get(next(r["id"] for r in rows if r["id"].startswith("anthropic")))
        assert exchange.outcome.status == "failure"  # its rm failed: the judge saw the error flag
        assert exchange.outcome.judged_by == "model:anthropic:claude-judge"
        assert ws.traces.count(outcome="unknown") == 0
    finally:
        ws.close()
    second = invoke(home, "traces", "judge", "--model", model)
    assert "no runs with an unknown outcome to judge" in second.output


def test_traces_judge_needs_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("TRACE2SKILL_MODEL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    result = invoke(tmp_path / "home", "traces", "judge")
    assert result.exit_code == 1 and "no model to judge with" in result.stderr


def test_a_real_claude_code_folder_imports_with_its_subagents(tmp_path: Path, shared_data: Path) -> None:
    folder = tmp_path / "-tmp-private"
    shutil.copytree(shared_data / "traces" / "claude_code" / "codemie_tmp-private", folder)
    result = invoke(tmp_path / "home", "import", "claude-code", str(folder), "--json")
    summary = json.loads(result.output)
    assert summary["imported"] == 3 and summary["errors"] == []


def test_many_bad_records_are_counted_and_the_listing_is_shortened(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    path.write_text("\n".join(["{oops"] * 30 + [good]) + "\n")
    result = invoke(tmp_path / "home", "import", "openai-chat", str(path))
    assert result.exit_code == 0
    assert "record errors (30):" in result.output
    assert f"{path}:20: invalid JSON" in result.output and f"{path}:21:" not in result.output
    assert "... and 10 more" in result.output
    summary = json.loads(invoke(tmp_path / "home2", "import", "openai-chat", str(path), "--json").output)
    assert summary["errors_total"] == 30 and summary["imported"] == 1


def test_the_skill_files_a_claude_code_session_used_count_as_reads_of_the_version_it_loaded(tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "xlsx"
    (folder / "references").mkdir(parents=True)
    (folder / "scripts").mkdir()
    body = "# XLSX\nRecalculate with scripts/recalc.py after writing formulas.\n"  # the body the transcript loaded
    (folder / "SKILL.md").write_text(f"---\nname: xlsx\ndescription: Edit workbooks.\n---\n{body}")
    (folder / "references" / "formulas.md").write_text("# Formulas\n")
    (folder / "references" / "charts.md").write_text("# Charts\n")
    (folder / "scripts" / "recalc.py").write_text("print('recalculated')\n")
    assert invoke(home, "skills", "import", str(folder)).exit_code == 0
    transcript = str(FIXTURES / "claude_code_skill_files.jsonl")

    first = invoke(home, "import", "claude-code", transcript, "--json")
    assert json.loads(first.output)["stored"]["skill_reads"] == {"xlsx": 3}
    again = invoke(home, "import", "claude-code", transcript)  # the hook imports a session at every stop
    assert "skill files the runs used, recorded as reads (skills usage NAME): xlsx 3" in again.output

    usage = json.loads(invoke(home, "skills", "usage", "xlsx", "--json").output)
    reads = {f["path"]: f["reads"] for f in usage["files"]}
    assert reads == {"SKILL.md": 1, "references/charts.md": 0, "references/formulas.md": 1, "scripts/recalc.py": 1}
    assert usage["never_read"] == ["references/charts.md"]
    assert (usage["version"], usage["trajectories"]) == (1, 1)
