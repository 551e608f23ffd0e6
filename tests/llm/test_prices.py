"""Budgets that bind: prices by exact model id (dated snapshots only where listed), a dollar budget refused
for a model nobody priced unless `--price` gives one, and reports that name the price they used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.doubles.llmserver import FakeLLMServer
from tests.doubles.simulated import seeded_home, server_handler

from trace2skill.cli import cli
from trace2skill.errors import InvalidInput
from trace2skill.home import Home
from trace2skill.llm import Budget, PriceTable, Usage, open_llm
from trace2skill.workspace import Workspace


def test_a_newer_model_does_not_take_an_older_ones_price() -> None:
    table = PriceTable.load(None)
    assert table.lookup("anthropic", "claude-opus-4-6") is None  # a prefix match gave it claude-opus-4's $15/$75
    assert table.lookup("openai", "gpt-5.1") is None
    assert table.lookup("openai", "gpt-4o-2024-05-13") is None  # cost $5/$15, not gpt-4o's $2.50/$10
    assert table.lookup("anthropic", "claude-sonnet-4-5-20250929") == table.lookup("anthropic", "claude-sonnet-4-5")
    assert table.lookup("openai", "gpt-4o-2024-08-06") == table.lookup("openai", "gpt-4o")
    assert table.lookup("openai", "gpt-5-mini-2025-08-07").input == 0.25  # type: ignore[union-attr]


def test_a_user_price_may_list_its_own_aliases_and_says_where_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text(
        json.dumps({"openai:qwen2.5-7b": {"input": 0.1, "output": 0.2, "aliases": ["qwen2.5-7b-instruct"]}})
    )
    table = PriceTable.load(tmp_path)
    price = table.lookup("openai", "qwen2.5-7b-instruct")
    assert price == table.lookup("openai", "qwen2.5-7b") and price is not None
    assert price.describe() == "$0.1 in / $0.2 out per million tokens (prices.json)"
    assert table.lookup("openai", "qwen2.5-7b-instruct-v2") is None


def test_the_answering_snapshot_falls_back_to_the_price_of_the_model_asked_for() -> None:
    table = PriceTable.load(None)
    usage = Usage(input_tokens=1_000_000)
    assert table.cost("openai", "gpt-5-mini-2026-01-01", usage, requested="gpt-5-mini") == pytest.approx(0.25)


@pytest.mark.parametrize(
    "bad", [{"input": "nan", "output": 1}, {"input": -1, "output": 1}, {"input": 1, "output": "inf"}]
)
def test_a_price_that_is_not_a_finite_amount_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="must be a finite number of dollars, 0 or more"):
        PriceTable.load(None, {"m": bad})


def test_a_dollar_budget_on_an_unpriced_model_is_refused_before_any_call(tmp_path: Path) -> None:
    home = Home(tmp_path)
    with pytest.raises(InvalidInput) as caught:
        open_llm("openai:qwen@http://127.0.0.1:9/v1", budget=Budget(usd=1), home=home)
    assert str(caught.value) == (
        "the budget of $1 cannot bind openai:qwen: no price is known for it; give one with --price IN/OUT (USD per "
        "million input/output tokens, e.g. --price 3/15) or add it to prices.json in the home folder"
    )
    priced = open_llm("openai:qwen@http://127.0.0.1:9/v1", budget=Budget(usd=1), home=home, price=(0.1, 0.2))
    assert priced.price_note() == "$0.1 in / $0.2 out per million tokens (--price)"
    local = tmp_path / "tiny.gguf"
    local.write_bytes(b"GGUF")
    assert open_llm(f"local:{local}", budget=Budget(usd=1), home=home).price_note() == "free (no price needed)"
    assert open_llm("openai:qwen@http://127.0.0.1:9/v1", home=home).price_note() == (
        "no known price (its calls counted as $0)"
    )


# --- at the command line, over the wire ----------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(server_handler) as s:
        yield s


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return seeded_home(tmp_path / "home", 12, seed=5)


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)


def test_evolve_refuses_a_budget_it_could_not_keep_and_keeps_one_with_a_price(
    home: Path, server: FakeLLMServer
) -> None:
    model = f"openai:my-local-model@{server.url}/v1"
    refused = run(home, "evolve", "sheets", "--model", model, "--budget-usd", "0.5")
    assert refused.exit_code == 1 and refused.stderr == (
        "Error: --budget-usd 0.5 cannot bind openai:my-local-model: no price is known for it; give one with --price "
        "IN/OUT (USD per million input/output tokens, e.g. --price 3/15) or add it to prices.json in the home folder\n"
    )
    assert json.loads(run(home, "runs", "list", "--json").stdout) == [] and server.count == 0
    args = ("--budget-usd", "0.05", "--price", "3/15", "--workers", "4", "--json")
    priced = run(home, "evolve", "sheets", "--model", model, *args)
    assert priced.exit_code == 1 and "budget exceeded" in priced.stderr
    report = json.loads(priced.stdout)
    assert report["status"] == "failed" and report["cost_usd"] >= 0.05
    ws = Workspace.open(Home(home))
    try:
        rows = ws.db.execute("SELECT cost_usd FROM llm_calls WHERE run_id = ?", [report["run_id"]]).fetchall()
    finally:
        ws.close()
    # over by at most the calls in flight when it was crossed: one per worker (`llm.budget`)
    assert report["cost_usd"] - 0.05 <= 4 * max(cost for (cost,) in rows) + 1e-9
    assert report["cost_usd"] == pytest.approx(sum(cost for (cost,) in rows))
    assert report["prices"] == {"openai:my-local-model": "$3 in / $15 out per million tokens (--price)"}
    markdown = run(home, "runs", "show", report["run_id"]).stdout
    assert "Price of openai:my-local-model: $3 in / $15 out per million tokens (--price)." in markdown


def test_a_dry_run_prices_the_estimate_with_the_given_price(home: Path, server: FakeLLMServer) -> None:
    model = f"openai:my-local-model@{server.url}/v1"
    unknown = json.loads(run(home, "evolve", "sheets", "--model", model, "--dry-run", "--json").stdout)
    priced = json.loads(
        run(home, "evolve", "sheets", "--model", model, "--dry-run", "--price", "3/15", "--json").stdout
    )
    assert unknown["cost_usd"] is None and priced["cost_usd"] > 0


def test_a_free_model_needs_no_price_for_a_budget(home: Path) -> None:
    local = home / "tiny.gguf"
    local.write_bytes(b"GGUF")
    result = run(home, "evolve", "sheets", "--model", f"local:{local}", "--budget-usd", "1", "--dry-run")
    assert result.exit_code == 0, result.output
