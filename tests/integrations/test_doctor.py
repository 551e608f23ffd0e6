"""`trace2skill doctor` as a library: real homes, real SQLite files, a real model call against the
local protocol server (`llm.testserver`), client files in a fake user home."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.doubles.llmserver import FakeLLMServer, Fault

from trace2skill.home import Home
from trace2skill.integrations import doctor
from trace2skill.integrations.setup import setup
from trace2skill.store import open_database
from trace2skill.workspace import Workspace

KEY = "sk-ant-test-0123456789abcdef"


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME", "TRACE2SKILL_MODEL"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def healthy(tmp_path: Path, user: Path) -> Home:
    """A home with a database, a configured model, and trace2skill set up for Cursor."""
    home = Home(tmp_path / "t2s")
    Workspace.open(home).close()
    home.write_config({"model": "anthropic:claude-sonnet-4-5"})
    setup("cursor", home, command=shutil.which("sh") or "/bin/sh")
    return home


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def files(folder: Path) -> dict[str, bytes]:
    """Every file's content, but SQLite's own -wal/-shm files, which any reader of a WAL database makes."""
    return {
        str(p): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_a_healthy_home_passes_every_check_and_never_shows_the_key(healthy: Home) -> None:
    checks = doctor.run(healthy, env={"ANTHROPIC_API_KEY": KEY})
    assert [c for c in checks if c.status == "fail"] == []
    named = by_name(checks)
    assert named["home"].status == "ok"
    assert named["database"].status == "ok" and "integrity ok" in named["database"].message
    assert named["schema"].status == "ok"
    assert named["provider"].status == "ok"
    assert "anthropic:claude-sonnet-4-5" in named["provider"].message
    assert "config.json" in named["provider"].message and "ANTHROPIC_API_KEY" in named["provider"].message
    assert named["client cursor"].status == "ok" and "registered" in named["client cursor"].message
    assert not any(KEY in json.dumps(c.as_dict()) for c in checks)


def test_doctor_writes_nothing_to_the_home(healthy: Home) -> None:
    before = files(healthy.root)
    doctor.run(healthy, env={"ANTHROPIC_API_KEY": KEY})
    assert files(healthy.root) == before


def test_a_file_that_is_not_a_database_fails_with_what_to_do(healthy: Home) -> None:
    for suffix in ("-wal", "-shm"):
        Path(str(healthy.db_path) + suffix).unlink(missing_ok=True)
    healthy.db_path.write_bytes(b"this is not SQLite at all " * 200)
    check = by_name(doctor.check_database(healthy))["database"]
    assert check.status == "fail"
    assert "damaged or not a database" in check.message and "mv " in check.fix


def test_a_database_with_a_broken_page_fails_the_integrity_check(tmp_path: Path) -> None:
    home = Home(tmp_path / "t2s")
    db = open_database(home.db_path)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("CREATE INDEX filler_body ON filler (body)")
    with db.conn:
        db.conn.executemany("INSERT INTO filler (body) VALUES (?)", [(f"row {i} " * 20,) for i in range(3000)])
    db.close()
    size = home.db_path.stat().st_size
    with home.db_path.open("r+b") as handle:  # scribble over a page in the middle of the file
        handle.seek(size // 2)
        handle.write(b"\xa5" * 16384)
    check = by_name(doctor.check_database(home))["database"]
    assert check.status == "fail"
    assert "integrity" in check.message or "damaged" in check.message


def test_a_database_from_a_newer_trace2skill_fails_the_schema_check(healthy: Home) -> None:
    db = open_database(healthy.db_path)
    with db.conn:
        db.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, ?, ?)",
            ["trace2skill.store", "m999_from_the_future", "2030-01-01"],
        )
    db.close()
    schema = by_name(doctor.check_database(healthy))["schema"]
    assert schema.status == "fail" and "m999_from_the_future" in schema.message and "upgrade" in schema.fix


def test_an_older_database_reports_its_pending_upgrades_as_a_warning(tmp_path: Path) -> None:
    home = Home(tmp_path / "t2s")
    open_database(home.db_path).close()  # the trace store's tables only: no skill store yet
    schema = by_name(doctor.check_database(home))["schema"]
    assert schema.status == "warn" and "trace2skill.skills:" in schema.message


def test_an_unwritable_home_fails_with_how_to_fix_it(unwritable: Home) -> None:
    checks = by_name(doctor.check_home(unwritable))
    assert checks["home"].status == "fail"
    assert "cannot be written" in checks["home"].message and "--home" in checks["home"].fix


def test_a_home_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "t2s").write_text("oops")
    check = doctor.check_home(Home(tmp_path / "t2s"))[0]
    assert check.status == "fail" and "not a folder" in check.message


def test_a_missing_key_for_the_configured_model_fails_and_names_the_variable(healthy: Home) -> None:
    checks, model = doctor.check_provider(healthy, env={"OPENAI_API_KEY": "sk-other"})
    assert model is None
    assert checks[0].status == "fail"
    assert "ANTHROPIC_API_KEY is not set" in checks[0].message and "export ANTHROPIC_API_KEY" in checks[0].fix
    assert "sk-other" not in checks[0].message


def test_no_model_at_all_is_a_warning_that_says_how_to_configure_one(tmp_path: Path) -> None:
    checks, model = doctor.check_provider(Home(tmp_path / "t2s"), env={})
    assert model is None and checks[0].status == "warn"
    assert "ANTHROPIC_API_KEY" in checks[0].fix and "config set model" in checks[0].fix


def test_an_environment_model_wins_over_the_configured_one(healthy: Home) -> None:
    checks, model = doctor.check_provider(
        healthy, env={"TRACE2SKILL_MODEL": "openai:gpt-5-mini", "OPENAI_API_KEY": "k"}
    )
    assert model == "openai:gpt-5-mini" and "$TRACE2SKILL_MODEL" in checks[0].message


def test_check_model_makes_one_tiny_real_call(healthy: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer(replies=["OK"]) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        model = f"anthropic:claude-sonnet-4-5@{server.url}"
        healthy.write_config({"model": model})
        checks = by_name(doctor.run(healthy, check_model_call=True, env={"ANTHROPIC_API_KEY": KEY}))
        assert len(server.requests) == 1
    assert checks["model call"].status == "ok" and "'OK'" in checks["model call"].message


def test_a_model_call_that_is_refused_fails_in_one_line(healthy: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer(replies=[Fault("status", status=401, message="invalid x-api-key")]) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        check = doctor.check_model(healthy, f"anthropic:claude-sonnet-4-5@{server.url}")
    assert check.status == "fail" and "\n" not in check.message and KEY not in check.message


def test_the_model_is_only_called_when_asked(healthy: Home) -> None:
    with FakeLLMServer() as server:
        healthy.write_config({"model": f"anthropic:claude-sonnet-4-5@{server.url}"})
        checks = doctor.run(healthy, env={})
        assert server.requests == []
    assert "model call" not in by_name(checks)


def test_a_registration_for_another_home_is_a_warning(healthy: Home, tmp_path: Path) -> None:
    other = Home(tmp_path / "elsewhere")
    check = by_name(doctor.check_clients(other))["client cursor"]
    assert check.status == "warn" and str(healthy.root) in check.message
    assert check.fix == "trace2skill setup cursor"


def test_a_client_file_that_does_not_parse_fails(healthy: Home, user: Path) -> None:
    (user / ".cursor" / "mcp.json").write_text("{broken")
    check = by_name(doctor.check_clients(healthy))["client cursor"]
    assert check.status == "fail" and "not valid JSON" in check.message
