"""`traces export` → a fresh home → `import` → `traces export` gives the same bytes, for the demo's runs and
for every real trace file the importer tests read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trace2skill.cli import cli
from trace2skill.demo import load_trajectories
from trace2skill.home import Home
from trace2skill.workspace import Workspace

IMPORTERS = Path(__file__).resolve().parents[1] / "importers"


def ok(home: Path, *args: str, stdin: bytes | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result


def round_trip(home: Path, tmp_path: Path) -> tuple[bytes, bytes]:
    """The export of `home`, and the export of a fresh home that imported it (from a file, by auto-detection)."""
    exported = tmp_path / "runs.jsonl"
    ok(home, "traces", "export", "-o", str(exported))
    fresh = tmp_path / "fresh"
    summary = json.loads(ok(fresh, "import", str(exported), "--json").stdout)
    assert summary["errors_total"] == 0 and summary["formats"] == {"trace2skill": summary["imported"]}
    assert summary["redactions"] == {}  # redacted when first stored: nothing new to redact
    return exported.read_bytes(), ok(fresh, "traces", "export").stdout_bytes


def test_the_demo_runs_round_trip_byte_for_byte(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = Workspace.open(Home(home))
    try:
        runs = load_trajectories()
        for run in runs:  # as the demo stores them: through Workspace.record, which redacts
            workspace.record(run)
    finally:
        workspace.close()
    first, second = round_trip(home, tmp_path)
    assert len(first.splitlines()) == len(runs) == 40
    assert second == first


def test_the_real_trace_files_round_trip_byte_for_byte(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folders = [str(IMPORTERS / name) for name in ("fixtures", "samples") if (IMPORTERS / name).is_dir()]
    summary = json.loads(ok(home, "import", "auto", *folders, "--json").stdout)
    assert summary["imported"] >= 8 and len(summary["formats"]) >= 5  # five importers' output at least
    first, second = round_trip(home, tmp_path)
    assert len(first.splitlines()) == summary["stored"]["added"]
    assert second == first


SHARED_TRACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "traces"


def test_the_shared_corpus_of_real_traces_round_trips_byte_for_byte(tmp_path: Path) -> None:
    """The extended corpus beside the repository (../shared/data/traces), where it is present."""
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"the shared trace corpus is not at {SHARED_TRACES}; the test above covers our own samples")
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["--home", str(home), "import", "auto", str(SHARED_TRACES), "--json"])
    summary = json.loads(result.stdout)
    assert summary["stored"]["added"] >= 100 and len(summary["formats"]) >= 5
    first, second = round_trip(home, tmp_path)
    assert len(first.splitlines()) == summary["stored"]["added"]
    assert second == first
