"""`trace2skill setup CLIENT` as a library: real config files in a fake user home ($HOME and the
clients' own variables point into tmp_path), never the real one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tomlkit

from trace2skill.errors import InvalidInput, StorageError
from trace2skill.home import Home
from trace2skill.integrations import claude_code
from trace2skill.integrations.setup import CLIENTS, client_status, setup, undo
from trace2skill.workspace import Workspace

COMMAND = "/opt/t2s/bin/trace2skill"

CLAUDE_JSON = {
    "numStartups": 12,
    "theme": "dark",
    "mcpServers": {"github": {"type": "stdio", "command": "gh-mcp", "args": [], "env": {"TOKEN": "x"}}},
    "projects": {"/src/app": {"mcpServers": {}, "allowedTools": []}},
}

CODEX_TOML = """\
# Codex settings, kept by hand
model = "o3"  # the default model

[mcp_servers.docs]
command = "docs-mcp"   # a server of mine
args = ["--stdio"]

[profiles.fast]
model = "o4-mini"
"""

CURSOR_JSON = (
    '{\n    "mcpServers": {\n        "browser": {\n            "url": "http://127.0.0.1:9000/mcp"\n        }\n    }\n}'
)


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's home folder for the clients' files; the real one stays untouched."""
    folder = tmp_path / "user"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME", "APPDATA"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "t2s")


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) below `folder`."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


def test_setting_up_claude_code_registers_the_server_installs_the_hook_and_exports_skills(
    user: Path, home: Home
) -> None:
    (user / ".claude.json").write_text(json.dumps(CLAUDE_JSON, indent=2) + "\n")
    result = setup("claude-code", home, command=COMMAND)
    assert [(s.kind, s.action) for s in result.steps] == [
        ("mcp-server", "add"),
        ("hook", "add"),
        ("skills-folder", "add"),
    ]
    data = json.loads((user / ".claude.json").read_text())
    assert data["mcpServers"]["trace2skill"] == {
        "type": "stdio",
        "command": COMMAND,
        "args": ["serve"],
        "env": {"TRACE2SKILL_HOME": str(home.root)},
    }
    assert {k: v for k, v in data.items() if k != "mcpServers"} == {
        k: v for k, v in CLAUDE_JSON.items() if k != "mcpServers"
    }
    assert data["mcpServers"]["github"] == CLAUDE_JSON["mcpServers"]["github"]
    assert list(data) == list(CLAUDE_JSON)  # key order kept
    events = claude_code.installed_events(user / ".claude" / "settings.json")
    assert set(events) == {"Stop", "SessionEnd"} and str(home.root) in events["Stop"]
    assert home.export_dirs() == [user / ".claude" / "skills"]
    assert not (user / ".claude" / "settings.json.bak").exists()  # setup keeps its own record instead


def test_running_setup_twice_changes_nothing_the_second_time(user: Path, home: Home) -> None:
    setup("claude-code", home, command=COMMAND)
    before = snapshot(user), snapshot(home.root)
    again = setup("claude-code", home, command=COMMAND)
    assert not again.changed
    assert {s.action for s in again.steps} == {"unchanged"}
    assert (snapshot(user), snapshot(home.root)) == before


def test_a_dry_run_writes_nothing_anywhere(user: Path, home: Home) -> None:
    (user / ".codex").mkdir()
    (user / ".codex" / "config.toml").write_text(CODEX_TOML)
    before = snapshot(user)
    result = setup("codex", home, dry_run=True, command=COMMAND)
    assert result.changed and result.dry_run
    assert [s.action for s in result.steps] == ["add", "add"]
    assert snapshot(user) == before
    assert not home.root.exists()  # not even the home folder or the record


@pytest.mark.parametrize("client", ["claude-code", "claude-desktop", "cursor", "codex"])
def test_undo_puts_existing_files_back_byte_for_byte_and_deletes_the_ones_it_created(
    user: Path, home: Home, client: str
) -> None:
    (user / ".claude.json").write_text(json.dumps(CLAUDE_JSON, indent=2) + "\n")
    (user / ".codex").mkdir()
    (user / ".codex" / "config.toml").write_text(CODEX_TOML)
    (user / ".cursor").mkdir()
    (user / ".cursor" / "mcp.json").write_text(CURSOR_JSON)
    home.root.mkdir()
    home.config_path.write_text('{"model": "sonnet"}')  # compact: a re-dump would not reproduce it
    before_user, before_config = snapshot(user), home.config_path.read_bytes()
    assert setup(client, home, command=COMMAND).changed
    assert snapshot(user) != before_user
    result = undo(client, home)
    assert result.changed and {s.action for s in result.steps} == {"restore"}
    assert snapshot(user) == before_user  # files that existed: identical; files and folders it made: gone
    assert home.config_path.read_bytes() == before_config
    assert not (home.root / "setup.json").exists()


def test_codex_toml_keeps_comments_order_and_other_servers(user: Path, home: Home) -> None:
    (user / ".codex").mkdir()
    path = user / ".codex" / "config.toml"
    path.write_text(CODEX_TOML)
    setup("codex", home, command=COMMAND)
    text = path.read_text()
    ours = text[text.index("[mcp_servers.trace2skill]") :].split("\n\n", 1)[0] + "\n\n"
    assert text.replace(ours, "") == CODEX_TOML  # every line of the user's, comments included, kept in order
    assert text.index("[mcp_servers.docs]") < text.index("[mcp_servers.trace2skill]") < text.index("[profiles.fast]")
    doc = tomlkit.parse(text).unwrap()
    assert doc["mcp_servers"]["trace2skill"] == {
        "command": COMMAND,
        "args": ["serve"],
        "env": {"TRACE2SKILL_HOME": str(home.root)},
        "env_vars": ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_MODEL"],
    }
    assert "[mcp_servers.trace2skill]" in text


def test_codex_home_and_claude_config_dir_are_honoured(
    user: Path, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-alt"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-alt"))
    setup("codex", home, command=COMMAND)
    setup("claude-code", home, command=COMMAND)
    assert "trace2skill" in tomlkit.parse((tmp_path / "codex-alt" / "config.toml").read_text())["mcp_servers"]
    assert "trace2skill" in json.loads((tmp_path / "claude-alt" / ".claude.json").read_text())["mcpServers"]
    assert claude_code.installed_events(tmp_path / "claude-alt" / "settings.json")
    assert tmp_path / "claude-alt" / "skills" in home.export_dirs()
    assert not (user / ".codex").exists() and not (user / ".claude.json").exists()


def test_claude_desktop_uses_xdg_config_home_on_linux_and_has_no_hook_or_skills_folder(
    user: Path, home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if CLIENTS["claude-desktop"].config_file().parts[-3:-1] == ("Application Support", "Claude"):
        pytest.skip("macOS keeps Claude Desktop's file under ~/Library")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    result = setup("claude-desktop", home, command=COMMAND)
    assert [s.kind for s in result.steps] == ["mcp-server"]
    data = json.loads((tmp_path / "xdg" / "Claude" / "claude_desktop_config.json").read_text())
    assert data == {
        "mcpServers": {
            "trace2skill": {"command": COMMAND, "args": ["serve"], "env": {"TRACE2SKILL_HOME": str(home.root)}}
        }
    }
    assert any("record_trajectory" in note for note in result.notes)


def test_undo_after_the_client_rewrote_its_file_removes_only_our_entry(user: Path, home: Home) -> None:
    path = user / ".claude.json"
    path.write_text(json.dumps(CLAUDE_JSON, indent=2) + "\n")
    setup("claude-code", home, command=COMMAND)
    data = json.loads(path.read_text())
    data["numStartups"] = 13  # Claude Code rewrites this file all the time
    data["mcpServers"]["later"] = {"command": "added-after-setup"}
    path.write_text(json.dumps(data, indent=2) + "\n")
    result = undo("claude-code", home)
    by_kind = {s.kind: s.action for s in result.steps}
    assert by_kind["mcp-server"] == "remove"
    after = json.loads(path.read_text())
    assert "trace2skill" not in after["mcpServers"]
    assert after["mcpServers"]["later"] == {"command": "added-after-setup"}
    assert after["numStartups"] == 13 and after["projects"] == CLAUDE_JSON["projects"]


def test_an_entry_edited_by_the_user_since_setup_is_left_alone_by_undo(user: Path, home: Home) -> None:
    path = user / ".cursor" / "mcp.json"
    setup("cursor", home, command=COMMAND)
    data = json.loads(path.read_text())
    data["mcpServers"]["trace2skill"]["env"]["ANTHROPIC_API_KEY"] = "the user's own"
    path.write_text(json.dumps(data))
    result = undo("cursor", home)
    assert {s.kind: s.action for s in result.steps}["mcp-server"] == "kept"
    assert json.loads(path.read_text())["mcpServers"]["trace2skill"]["env"]["ANTHROPIC_API_KEY"] == "the user's own"


def test_a_changed_registration_is_updated_and_undo_restores_the_previous_one(user: Path, home: Home) -> None:
    path = user / ".cursor" / "mcp.json"
    path.parent.mkdir()
    old = {"mcpServers": {"trace2skill": {"command": "/old/trace2skill", "args": ["serve"]}}}
    path.write_text(json.dumps(old, indent=2) + "\n")
    result = setup("cursor", home, command=COMMAND)
    assert result.steps[0].action == "update"
    assert json.loads(path.read_text())["mcpServers"]["trace2skill"]["command"] == COMMAND
    undo("cursor", home)
    assert json.loads(path.read_text()) == old


def test_a_config_file_that_does_not_parse_is_never_overwritten(user: Path, home: Home) -> None:
    path = user / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text('{"mcpServers": {,}')
    with pytest.raises(InvalidInput, match="not valid JSON"):
        setup("cursor", home, command=COMMAND)
    assert path.read_text() == '{"mcpServers": {,}'
    assert not home.config_path.exists()  # nothing else was written either


def test_two_clients_sharing_the_home_config_undo_in_any_order(user: Path, home: Home) -> None:
    setup("claude-code", home, command=COMMAND)
    setup("codex", home, command=COMMAND)
    assert home.export_dirs() == [user / ".claude" / "skills", user / ".agents" / "skills"]
    undo("claude-code", home)  # its config.json edit is no longer the last one: removed by value
    assert home.export_dirs() == [user / ".agents" / "skills"]
    assert client_status("codex", home).registered
    assert not client_status("claude-code", home).registered
    undo("codex", home)
    assert home.export_dirs() == []
    assert not (home.root / "setup.json").exists()


def test_undo_without_a_setup_says_there_is_nothing_to_undo(user: Path, home: Home) -> None:
    result = undo("codex", home)
    assert not result.changed and "nothing to undo" in result.notes[0]


def test_the_record_is_private_to_the_user(user: Path, home: Home) -> None:
    setup("cursor", home, command=COMMAND)
    assert (home.root / "setup.json").stat().st_mode & 0o077 == 0


def test_a_publish_after_setup_lands_in_the_clients_skills_folder(user: Path, home: Home, tmp_path: Path) -> None:
    setup("claude-code", home, command=COMMAND)
    source = tmp_path / "src" / "sheets"
    source.mkdir(parents=True)
    (source / "SKILL.md").write_text("---\nname: sheets\ndescription: Work with spreadsheets.\n---\n\n# Sheets\n")
    workspace = Workspace.open(home)
    try:
        workspace.skills.import_dir(source)  # records version 1 and publishes it
    finally:
        workspace.close()
    exported = user / ".claude" / "skills" / "sheets" / "SKILL.md"
    assert exported.read_text() == (source / "SKILL.md").read_text()
    assert not exported.parent.is_symlink()  # a plain folder the client reads, not a link into the home


def test_client_status_names_a_registration_for_another_home(user: Path, home: Home, tmp_path: Path) -> None:
    setup("cursor", Home(tmp_path / "other-home"), command=os.path.realpath(__file__))
    status = client_status("cursor", home)
    assert status.registered and status.installed
    assert any("other-home" in p for p in status.problems)


def test_setup_with_a_home_it_cannot_write_changes_no_client_file(user: Path, unwritable: Home) -> None:
    (user / ".cursor").mkdir()
    (user / ".cursor" / "mcp.json").write_text(CURSOR_JSON)
    with pytest.raises(StorageError, match="cannot be written"):
        setup("cursor", unwritable, command=COMMAND)
    assert (user / ".cursor" / "mcp.json").read_text() == CURSOR_JSON
    assert setup("cursor", unwritable, dry_run=True, command=COMMAND).changed  # a dry run needs no writing


def test_a_command_given_by_name_is_found_on_path(user: Path, home: Home) -> None:
    setup("cursor", home, command="sh")
    entry = json.loads((user / ".cursor" / "mcp.json").read_text())["mcpServers"]["trace2skill"]
    assert Path(entry["command"]).is_absolute() and Path(entry["command"]).name == "sh"


def test_a_hand_made_skill_in_the_clients_folder_is_left_alone_and_the_publish_goes_on(
    user: Path, home: Home, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    setup("claude-code", home, command=COMMAND)
    mine = user / ".claude" / "skills" / "sheets"
    mine.mkdir(parents=True)
    (mine / "SKILL.md").write_text("---\nname: sheets\ndescription: My own, by hand.\n---\n\n# Mine\n")
    source = tmp_path / "src" / "sheets"
    source.mkdir(parents=True)
    (source / "SKILL.md").write_text("---\nname: sheets\ndescription: Work with spreadsheets.\n---\n\n# Sheets\n")
    workspace = Workspace.open(home)
    try:
        workspace.skills.import_dir(source)
        assert (home.skills_dir / "sheets" / "SKILL.md").read_text() == (source / "SKILL.md").read_text()
    finally:
        workspace.close()
    assert "My own, by hand." in (mine / "SKILL.md").read_text()
    assert "did not export it to" in caplog.text


def test_a_config_file_that_is_a_symlink_stays_one(user: Path, home: Home, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "cursor-mcp.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text(CURSOR_JSON)
    (user / ".cursor").mkdir()
    (user / ".cursor" / "mcp.json").symlink_to(dotfiles)
    setup("cursor", home, command=COMMAND)
    assert (user / ".cursor" / "mcp.json").is_symlink()
    assert "trace2skill" in json.loads(dotfiles.read_text())["mcpServers"]
    undo("cursor", home)
    assert (user / ".cursor" / "mcp.json").is_symlink() and dotfiles.read_text() == CURSOR_JSON
