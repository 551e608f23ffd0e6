from __future__ import annotations

import pytest

from trace2skill.llm.defaults import configured_model, no_model_message


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        ("openai:gpt-5-mini", {"TRACE2SKILL_MODEL": "anthropic:x"}, ("openai:gpt-5-mini", "--model")),
        (None, {"TRACE2SKILL_MODEL": "anthropic:x", "OPENAI_API_KEY": "k"}, ("anthropic:x", "$TRACE2SKILL_MODEL")),
        (None, {"TRACE2SKILL_MODEL": " ", "OPENAI_API_KEY": "k"}, ("openai:gpt-5", "default for $OPENAI_API_KEY")),
        (
            None,
            {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "k"},
            ("anthropic:claude-sonnet-4-5", "default for $ANTHROPIC_API_KEY"),
        ),
        ("", {}, None),
    ],
)
def test_configured_model_follows_flag_then_env_then_provider_keys(explicit, env, expected):
    assert configured_model(explicit, env) == expected


def test_no_model_message_names_every_way_to_configure_one():
    message = no_model_message("evolve with")
    for hint in ("--model", "$TRACE2SKILL_MODEL", "$ANTHROPIC_API_KEY", "$OPENAI_API_KEY"):
        assert hint in message


def test_evolve_command_uses_a_provider_key_when_no_model_is_named(tmp_path, monkeypatch):
    """With only a key set, evolve uses that provider's default model; with none, the error names every option."""
    from click.testing import CliRunner
    from tests.doubles.simulated import make_skill, make_trajectories

    from trace2skill.cli import cli
    from trace2skill.home import Home
    from trace2skill.workspace import Workspace

    monkeypatch.delenv("TRACE2SKILL_MODEL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    skill_dir = tmp_path / "sheets"
    skill_dir.mkdir()
    for f in make_skill("sheets").files:
        (skill_dir / f.path).parent.mkdir(parents=True, exist_ok=True)
        (skill_dir / f.path).write_bytes(f.data)
    runner = CliRunner()
    home = str(tmp_path / "home")
    assert runner.invoke(cli, ["--home", home, "skills", "import", str(skill_dir)]).exit_code == 0
    ws = Workspace.open(Home(tmp_path / "home"))
    ws.traces.add_many(make_trajectories(6))
    ws.close()
    result = runner.invoke(cli, ["--home", home, "evolve", "sheets", "--dry-run"])
    assert "openai:gpt-5" in result.output, result.output
    monkeypatch.delenv("OPENAI_API_KEY")
    assert "(no model)" in runner.invoke(cli, ["--home", home, "evolve", "sheets", "--dry-run"]).output
    result = runner.invoke(cli, ["--home", home, "evolve", "sheets"])
    assert result.exit_code != 0
    assert "$OPENAI_API_KEY" in result.output
