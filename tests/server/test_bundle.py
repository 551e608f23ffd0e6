"""The MCP bundle as a host installs it: manifest.json's `mcp_config` resolved by the MCPB reference
library (@anthropic-ai/mcpb, run with Node), its entry point started as a file with the resulting
environment, from a working directory of its own, and a uv.lock that pins every dependency.

The host would start `uv run --frozen ...`; these tests start the same entry point with this
interpreter instead, so that they neither download packages nor touch the development venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
ENTRY = MANIFEST["server"]["entry_point"]
MCPB_VERSION = "2.1.2"
RESOLVER = Path(__file__).with_name("resolve_mcp_config.mjs")
RUN = {"task": "Count rows", "skill": "sheets", "messages": [{"role": "user", "content": "go"}], "outcome": "failure"}
DRY_RUN = {"name": "sheets", "mode": "create", "task_description": "Count rows", "dry_run": True}
"""Costs nothing and says which model the server would use, and where that choice came from."""


@pytest.fixture(scope="session")
def mcpb() -> Path:
    """The MCPB reference library's dist/ folder, installed with npm once per machine."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        pytest.skip("node is not installed: the MCPB reference library (@anthropic-ai/mcpb) cannot run here")
    folder = Path(os.environ.get("TRACE2SKILL_MCPB_DIR") or Path(tempfile.gettempdir()) / f"t2s-mcpb-{MCPB_VERSION}")
    dist = folder / "node_modules" / "@anthropic-ai" / "mcpb" / "dist"
    if not (dist / "index.js").is_file():
        if npm is None:
            pytest.skip("npm is not installed: cannot install the MCPB reference library, @anthropic-ai/mcpb")
        done = subprocess.run(
            [npm, "install", "--prefix", str(folder), f"@anthropic-ai/mcpb@{MCPB_VERSION}", "--no-audit", "--no-fund"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0 or not (dist / "index.js").is_file():
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"could not install @anthropic-ai/mcpb@{MCPB_VERSION} with npm (registry unreachable?): {why}")
    return dist


def resolve(mcpb: Path, manifest: dict[str, Any], home: Path, user_config: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """The mcp_config a host runs for this manifest, as the reference library computes it."""
    path = tmp / "manifest.json"
    path.write_text(json.dumps(manifest))
    done = subprocess.run(
        ["node", str(RESOLVER), str(mcpb / "index.js"), str(path), str(ROOT), str(home), json.dumps(user_config)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


def entry_point_process(config: dict[str, Any], home: Path, cwd: Path) -> StdioServerParameters:
    """The host's process, minus uv: the resolved entry point and environment, with this interpreter."""
    assert config["command"] == "uv"
    assert config["args"] == ["run", "--frozen", "--directory", str(ROOT), ENTRY]
    env = {**get_default_environment(), "HOME": str(home), **config["env"]}
    return StdioServerParameters(command=sys.executable, args=[str(ROOT / config["args"][-1])], env=env, cwd=cwd)


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "user"
    home.mkdir()
    return home


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """The working directory the host starts the server in."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return cwd


def test_the_reference_library_validates_the_manifest(mcpb: Path) -> None:
    done = subprocess.run(
        ["node", str(mcpb / "cli" / "cli.js"), "validate", str(ROOT / "manifest.json")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    assert "validation passes" in done.stdout


async def test_a_fresh_install_with_nothing_filled_in_keeps_its_data_in_the_users_home(
    mcpb: Path, user_home: Path, elsewhere: Path, tmp_path: Path, connect: Callable[..., Client]
) -> None:
    config = resolve(mcpb, MANIFEST, user_home, {}, tmp_path)
    assert config["env"] == {"TRACE2SKILL_HOME": "", "TRACE2SKILL_MODEL": "", "ANTHROPIC_API_KEY": "",
                             "OPENAI_API_KEY": ""}  # fmt: skip
    async with connect(entry_point_process(config, user_home, elsewhere)) as client:
        recorded = await client.call_tool("record_trajectory", {"trajectory": RUN})
        dry = await client.call_tool("evolve_skill", DRY_RUN)
    assert not recorded.is_error and dry.structured_content is not None
    assert dry.structured_content["llm_source"] == "none configured"
    assert (user_home / ".trace2skill" / "trace2skill.db").is_file()
    assert list(elsewhere.iterdir()) == [] and not (ROOT / "${HOME}").exists()


async def test_a_chosen_home_and_key_reach_the_server(
    mcpb: Path, user_home: Path, elsewhere: Path, tmp_path: Path, connect: Callable[..., Client]
) -> None:
    chosen = tmp_path / "chosen home"
    config = resolve(mcpb, MANIFEST, user_home, {"home": str(chosen), "openai_api_key": "sk-test-key"}, tmp_path)
    async with connect(entry_point_process(config, user_home, elsewhere)) as client:
        await client.call_tool("record_trajectory", {"trajectory": RUN})
        dry = await client.call_tool("evolve_skill", DRY_RUN)
    assert dry.structured_content is not None
    assert dry.structured_content["llm_source"] == "default for $OPENAI_API_KEY"
    assert (chosen / "trace2skill.db").is_file() and not (user_home / ".trace2skill").exists()


async def test_placeholders_a_host_left_unexpanded_count_as_unset_with_a_note(
    mcpb: Path, user_home: Path, elsewhere: Path, tmp_path: Path, mode: str
) -> None:
    """The manifest as it was: optional keys without a default, `${HOME}` inside the home default."""
    old = json.loads(json.dumps(MANIFEST))
    for key in ("anthropic_api_key", "openai_api_key"):
        old["user_config"][key].pop("default")
    old["user_config"]["home"]["default"] = "${HOME}/.trace2skill"
    config = resolve(mcpb, old, user_home, {}, tmp_path)
    assert config["env"]["TRACE2SKILL_HOME"] == "${HOME}/.trace2skill"
    assert config["env"]["ANTHROPIC_API_KEY"] == "${user_config.anthropic_api_key}"
    errors = tmp_path / "stderr.txt"
    with errors.open("w") as errlog:
        transport = stdio_client(entry_point_process(config, user_home, elsewhere), errlog=errlog)
        kwargs: dict[str, Any] = {"raise_exceptions": True} if mode == "auto" else {}
        async with Client(transport, mode=mode, **kwargs) as client:
            await client.call_tool("record_trajectory", {"trajectory": RUN})
            dry = await client.call_tool("evolve_skill", DRY_RUN)
            listed = await client.list_resources()
    assert dry.structured_content is not None and dry.structured_content["llm_source"] == "none configured"
    assert isinstance(listed, types.ListResourcesResult)
    assert (user_home / ".trace2skill" / "trace2skill.db").is_file()
    assert list(elsewhere.iterdir()) == []
    notes = [line for line in errors.read_text().splitlines() if line.startswith("trace2skill: ")]
    assert notes == [
        "trace2skill: $ANTHROPIC_API_KEY holds the unexpanded placeholder ${user_config.anthropic_api_key} "
        "(a setting left empty); treating it as unset",
        "trace2skill: $OPENAI_API_KEY holds the unexpanded placeholder ${user_config.openai_api_key} "
        "(a setting left empty); treating it as unset",
    ]


def test_the_entry_point_runs_as_a_file_from_any_directory(elsewhere: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / ENTRY), "--help"], cwd=elsewhere, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: trace2skill serve [OPTIONS]")


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match is not None
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def test_uv_lock_pins_every_dependency_of_the_project() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    root = packages[project["name"]]
    wanted = {_name(r) for r in project["dependencies"]}
    assert {d["name"] for d in root["dependencies"]} == wanted  # a lock made from this pyproject.toml
    for name in wanted:
        assert packages[name]["version"] and "registry" in packages[name]["source"], name
    assert lock["requires-python"] == project["requires-python"]
    assert "uv.lock" not in (ROOT / ".mcpbignore").read_text().split()
