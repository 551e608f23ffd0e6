"""`trace2skill runs report`: one self-contained page per run, with every edit and every run behind it.

The demo's real evolution (the pipeline against the local protocol server, offline) is the run shown;
the browser test opens its page in headless Chromium through Playwright and skips, saying what to
install, where either is missing.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from trace2skill.cli import cli
from trace2skill.demo import run_demo
from trace2skill.home import Home
from trace2skill.html_report import render_run_page
from trace2skill.models import Trajectory
from trace2skill.workspace import Workspace

PROVIDER_ENV = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "TRACE2SKILL_MODEL", "ANTHROPIC_AUTH_TOKEN")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    saved = {key: os.environ.pop(key) for key in PROVIDER_ENV if key in os.environ}
    try:
        home = tmp_path_factory.mktemp("report") / "home"
        run_demo(home=home)
        yield home
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="module")
def page(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    ws = Workspace.open(Home(demo_home))
    try:
        (run,) = ws.traces.list_runs()
    finally:
        ws.close()
    target = tmp_path_factory.mktemp("page") / "report.html"
    result = CliRunner().invoke(cli, ["--home", str(demo_home), "runs", "report", run["run_id"], "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Wrote {target} (")
    return target, run


def _supports(run: dict[str, Any]) -> set[str]:
    return {s for edit in run["report"]["provenance"] for s in edit["support"]}


def test_the_page_holds_every_applied_edit_and_every_run_that_backs_it(page: tuple[Path, dict[str, Any]]) -> None:
    path, run = page
    html = path.read_text()
    edits = run["report"]["provenance"]
    assert len(edits) >= 5
    for edit in edits:
        assert f'data-edit="{edit["edit_id"]}"' in html
        for support in edit["support"]:
            assert f'href="#run-{support}"' in html
    shown = set(re.findall(r'<article class="run" id="run-([^"]+)"', html))
    assert _supports(run) <= shown
    assert run["report"]["diff"].splitlines()[0] in html
    for stage in ("analyse", "propose", "merge", "apply"):
        assert f"<td>{stage}</td>" in html
    assert html.count('class="level"') == run["report"]["merge_levels"] + 1 and 'data-level="0"' in html


def test_the_page_loads_nothing_from_outside_and_runs_no_script(page: tuple[Path, dict[str, Any]]) -> None:
    html = page[0].read_text()
    assert "default-src 'none'" in html and "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_run_text_is_shown_as_text_never_as_markup(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script><img src="https://evil.example/x.png">'
    ws = Workspace.open(Home(tmp_path / "home"))
    try:
        run = {"task": hostile, "skill": "s", "messages": [{"role": "user", "content": hostile}]}
        (tid,) = ws.traces.add_many([Trajectory.model_validate(run)])
        ws.traces.create_run("r_hostile", "s", {})
        edit = {"file": "SKILL.md", "op": "append_to_section", "content": hostile, "id": "a0.e1", "support": [tid]}
        ws.traces.save_patch("r_hostile", 0, 0, {"edits": [edit]})
        provenance = [{"edit_id": "a0.e1", "file": "SKILL.md", "op": "append_to_section", "summary": hostile,
                       "support": [tid]}]  # fmt: skip
        ws.traces.update_run("r_hostile", status="succeeded", report={"provenance": provenance, "diff": "+" + hostile})
        html = render_run_page(ws.traces, "r_hostile")
    finally:
        ws.close()
    assert "<script>" not in html and "<img" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # edit, final edit, diff, task and message
    assert f'id="run-{tid}"' in html


def test_an_unknown_run_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "runs", "report", "r_nope"])
    assert result.exit_code == 1 and result.stderr == "Error: no evolution run with id 'r_nope'\n"


def _browser() -> tuple[Any, str]:
    """Playwright's sync API and a Chromium to drive, or a skip that says what to install."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]' installs it")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("no Chromium on PATH: install it (apt-get install chromium; .ci/run does) to run the browser test")
    return sync_playwright, chromium


def test_a_real_browser_opens_the_page_without_errors_and_shows_every_edit_and_run(
    page: tuple[Path, dict[str, Any]],
) -> None:
    sync_playwright, chromium = _browser()
    path, run = page
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.on("request", lambda r: problems.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            tab.goto(path.as_uri())
            finals = tab.locator(".edit.final")
            assert finals.count() == len(run["report"]["provenance"])
            assert all(finals.nth(i).is_visible() for i in range(finals.count()))
            articles = tab.locator("article.run")
            assert {articles.nth(i).get_attribute("data-run") for i in range(articles.count())} >= _supports(run)
            first = run["report"]["provenance"][0]["support"][0]
            tab.locator(f'.edit.final a[href="#run-{first}"]').first.click()
            assert tab.evaluate("location.hash") == f"#run-{first}"
            target = tab.locator(f"#run-{first}")
            target.locator("summary").click()
            assert target.locator(".msg").first.is_visible()
            assert tab.locator("svg").count() == 0 or tab.locator("svg").first.is_visible()
        finally:
            browser.close()
    assert problems == []
