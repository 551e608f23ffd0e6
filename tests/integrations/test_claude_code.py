from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.errors import InvalidInput
from trace2skill.integrations.claude_code import HOOK_MODULE, install, installed_events, settings_path, uninstall

EXISTING = {
    "model": "opus",
    "permissions": {"allow": ["Bash(git status)"], "deny": []},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 3}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}],
    },
    "env": {"FOO": "bär"},
}


def write_settings(path: Path) -> str:
    text = json.dumps(EXISTING, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def ours(data: dict, event: str) -> list[dict]:
    return [h for g in data["hooks"].get(event, []) for h in g["hooks"] if HOOK_MODULE in h.get("command", "")]


def test_install_adds_one_hook_per_event_and_keeps_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = write_settings(path)
    change = install(path, tmp_path / "home")
    assert change.changed and change.events == ["Stop", "SessionEnd"]
    data = json.loads(path.read_text())
    assert {k: v for k, v in data.items() if k != "hooks"} == {k: v for k, v in EXISTING.items() if k != "hooks"}
    assert data["hooks"]["PreToolUse"] == EXISTING["hooks"]["PreToolUse"]
    assert data["hooks"]["Stop"][0] == EXISTING["hooks"]["Stop"][0]  # the user's own Stop hook, first and intact
    assert len(ours(data, "Stop")) == 1 and len(ours(data, "SessionEnd")) == 1
    assert "--home" in ours(data, "Stop")[0]["command"] and str(tmp_path / "home") in ours(data, "Stop")[0]["command"]
    assert change.backup is not None and change.backup.read_text() == original


def test_installing_twice_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_settings(path)
    install(path, tmp_path / "home")
    first = path.read_bytes()
    again = install(path, tmp_path / "home")
    assert not again.changed
    assert path.read_bytes() == first
    data = json.loads(first)
    assert len(ours(data, "Stop")) == 1 and len(ours(data, "SessionEnd")) == 1


def test_reinstalling_with_another_home_replaces_our_entry_only(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    write_settings(path)
    install(path, tmp_path / "one")
    install(path, tmp_path / "two")
    data = json.loads(path.read_text())
    (stop,) = ours(data, "Stop")
    assert str(tmp_path / "two") in stop["command"] and str(tmp_path / "one") not in stop["command"]
    assert data["hooks"]["Stop"][0] == EXISTING["hooks"]["Stop"][0]


def test_uninstall_restores_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = write_settings(path)
    install(path, tmp_path / "home")
    change = uninstall(path)
    assert change.changed and set(change.events) == {"Stop", "SessionEnd"}
    assert path.read_text(encoding="utf-8") == original
    assert not uninstall(path).changed


def test_a_missing_settings_file_is_created_and_an_invalid_one_is_never_overwritten(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "settings.json"
    install(fresh, tmp_path / "home", events=("SessionEnd",))
    assert list(installed_events(fresh)) == ["SessionEnd"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"hooks": {,}}')
    with pytest.raises(InvalidInput, match=r"not valid JSON .*nothing was changed"):
        install(broken, tmp_path / "home")
    assert broken.read_text() == '{"hooks": {,}}'


def test_the_user_scope_follows_claude_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert settings_path("user") == tmp_path / "cfg" / "settings.json"
    assert settings_path("local", cwd=tmp_path) == tmp_path / ".claude" / "settings.local.json"
