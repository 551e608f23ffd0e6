"""`trace2skill config`: defaults for the model, workers and budget, and model aliases, used by the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import seeded_home

from trace2skill.cli import cli
from trace2skill.llm.aliases import BUILTIN_MODEL_ALIASES, resolve_alias
from trace2skill.llm.factory import parse_model
from trace2skill.llm.local_models import CATALOG
from trace2skill.llm.prices import BUILTIN_PRICES


@pytest.fixture(autouse=True)
def no_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("TRACE2SKILL_MODEL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return seeded_home(tmp_path / "home", 10, seed=4)


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], env=env, catch_exceptions=False)


def ok(home: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run(home, *args, env=env)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def dry_run(home: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return json.loads(ok(home, "evolve", "sheets", "--dry-run", "--json", *args, env=env))


def test_set_get_list_and_unset_round_trip_through_the_home_config_file(home: Path) -> None:
    assert ok(home, "config", "set", "model", "sonnet") == "model = sonnet\n"
    assert ok(home, "config", "set", "workers", "8") == "workers = 8\n"
    assert ok(home, "config", "set", "budget-usd", "2.5") == "budget-usd = 2.5\n"
    assert ok(home, "config", "set", "alias.fast", "openai:gpt-5-nano") == "alias.fast = openai:gpt-5-nano\n"
    assert json.loads((home / "config.json").read_text()) == {
        "alias.fast": "openai:gpt-5-nano",
        "budget-usd": 2.5,
        "model": "sonnet",
        "workers": 8,
    }
    assert ok(home, "config", "get", "workers") == "8\n"
    assert ok(home, "config", "get", "alias.opus") == "anthropic:claude-opus-4-5\n"  # built in
    listed = {row["key"]: row for row in json.loads(ok(home, "config", "list", "--json"))}
    assert listed["model"] == {"key": "model", "value": "sonnet", "source": "config"}
    assert listed["alias.sonnet"]["source"] == "built-in" and listed["alias.fast"]["source"] == "config"
    assert ok(home, "config", "unset", "workers") == "workers unset\n"
    result = run(home, "config", "get", "workers")
    assert result.exit_code == 1
    assert result.stderr == "Error: workers is not set: set it with `trace2skill config set workers VALUE`\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("model", "gpt5"), "Error: model 'gpt5' is not of the form provider:model"),
        (("workers", "0"), "Error: workers 0 is outside 1 to 1024"),
        (("workers", "many"), "Error: workers 'many' is not a whole number; give one such as 8"),
        (("budget-usd", "nan"), "Error: budget-usd 'nan' is not a finite number"),
        (("colour", "red"), "Error: unknown setting 'colour': the settings are model, workers, budget-usd, alias.NAME"),
        (("alias.a:b", "sonnet"), "Error: alias name 'a:b': use lower-case letters"),
        (("alias.loop", "loop"), "Error: model alias loop → loop loops"),
    ],
)
def test_a_bad_setting_is_one_line_and_nothing_is_written(home: Path, args: tuple[str, str], line: str) -> None:
    result = run(home, "config", "set", *args)
    assert result.exit_code == 1 and result.stderr.startswith(line) and result.stderr.count("\n") == 1
    assert not (home / "config.json").exists()


def test_a_broken_config_file_is_one_line_naming_it(home: Path) -> None:
    (home / "config.json").write_text("{not json")
    result = run(home, "evolve", "sheets", "--dry-run")
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {home / 'config.json'} is not valid JSON")


def test_each_built_in_alias_names_an_exact_model_id() -> None:
    for alias, model in BUILTIN_MODEL_ALIASES.items():
        assert resolve_alias(alias) == model
        spec = parse_model(alias)  # the factory resolves them too
        if spec.provider == "local":
            assert spec.model in CATALOG
        else:
            assert model in BUILTIN_PRICES, alias  # priced by its exact id
    assert resolve_alias("sonnet") == "anthropic:claude-sonnet-4-5"
    assert resolve_alias("anthropic:sonnet") == "anthropic:sonnet"  # only a bare name is an alias


def test_an_alias_on_the_command_line_becomes_its_exact_id(home: Path) -> None:
    estimate = dry_run(home, "-m", "sonnet")
    assert estimate["model"] == "anthropic:claude-sonnet-4-5" and estimate["cost_usd"] > 0  # priced by the exact id
    ok(home, "config", "set", "alias.fast", "gpt-5-nano")  # a user alias may name a built-in one
    assert dry_run(home, "-m", "fast")["model"] == "openai:gpt-5-nano"


def test_the_configured_defaults_are_used_where_no_flag_is_given(home: Path) -> None:
    assert dry_run(home)["model"] is None  # nothing configured: no model
    ok(home, "config", "set", "model", "haiku")
    ok(home, "config", "set", "workers", "4")
    configured = dry_run(home)
    assert configured["model"] == "anthropic:claude-haiku-4-5" and configured["workers"] == 4
    flagged = dry_run(home, "--model", "opus", "-w", "2")
    assert flagged["model"] == "anthropic:claude-opus-4-5" and flagged["workers"] == 2  # a flag wins
    assert dry_run(home, env={"TRACE2SKILL_MODEL": "gpt-5-mini"})["model"] == "openai:gpt-5-mini"  # so does the env


def test_an_evolution_runs_with_the_configured_model_and_budget(home: Path, server: FakeLLMServer) -> None:
    ok(home, "config", "set", "alias.here", f"anthropic:claude-sonnet-4-5@{server.url}")
    ok(home, "config", "set", "model", "here")
    ok(home, "config", "set", "budget-usd", "5")
    report = json.loads(ok(home, "evolve", "sheets", "--json"))
    assert report["status"] == "succeeded" and server.count > 0
    shown = json.loads(ok(home, "runs", "show", report["run_id"], "--json"))
    settings = shown["config"]["evolution"]
    assert settings["model"] == f"anthropic:claude-sonnet-4-5@{server.url}" and settings["budget_usd"] == 5
