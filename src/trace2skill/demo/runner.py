"""`run_demo`: the main job of trace2skill end to end, on the embedded data, in a fresh home folder.

Import a starter skill, record forty realistic runs (with redaction), evolve the skill through the
real pipeline, and show the report, the diff, where the new version is published, and what to try
next. With a model configured (`model=`, `$TRACE2SKILL_MODEL`, `$ANTHROPIC_API_KEY` or
`$OPENAI_API_KEY`) the analysts are that model; otherwise a local server that speaks the Anthropic
Messages protocol answers with the simulated analyst fleet, and the demo says so.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.syntax import Syntax

from trace2skill.demo.data import SKILL_NAME, load_trajectories, skill_folder
from trace2skill.demo.simulated import DemoFleet
from trace2skill.errors import InvalidInput, Trace2SkillError
from trace2skill.evolve.estimate import Estimate
from trace2skill.evolve.progress import ProgressCallback, ignore_progress
from trace2skill.home import Home
from trace2skill.models import EvolutionConfig, EvolutionReport, Trajectory

if TYPE_CHECKING:
    from trace2skill.workspace import Workspace

__all__ = ["REAL_MODEL_BUDGET_USD", "SIMULATED_AS", "DemoResult", "choose_model", "run_demo"]

SIMULATED_AS = "anthropic:claude-sonnet-4-5"
"""The model name the simulated run is sent (and priced) as."""

REAL_MODEL_BUDGET_USD = 2.0
"""A demo against a real model stops starting calls once it has spent this much."""

ProgressDisplay = Callable[[], AbstractContextManager[ProgressCallback]]


@dataclass
class DemoResult:
    """What the demo did, for the shell that ran it and for tests."""

    home: Path
    skill: str
    base_version: int
    trajectory_ids: list[str]
    redactions: dict[str, int]
    redacted_ids: list[str]
    model: str
    simulated: bool
    estimate: Estimate
    report: EvolutionReport
    published: Path
    next_commands: list[str] = field(default_factory=list)


def choose_model(model: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(model, where it came from), by the same rule as `trace2skill serve`; None means simulated.

    Order: `model`, then $TRACE2SKILL_MODEL, then the default model of the first provider whose API
    key is set ($ANTHROPIC_API_KEY, $OPENAI_API_KEY).
    """
    from trace2skill.llm.defaults import configured_model

    return configured_model(model, env)


def _fresh_home(home: str | os.PathLike[str] | None, keep: bool) -> Path:
    if home is None:
        return Path(tempfile.mkdtemp(prefix="trace2skill-demo-")).resolve()
    root = Path(home).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is a file; the demo needs a folder for its home")
    if root.is_dir() and any(root.iterdir()) and not keep:
        raise InvalidInput(
            f"{root} is not empty; the demo starts from a fresh home: choose a new folder, "
            "or pass --keep to add the demo to what is there"
        )
    return root


@contextlib.contextmanager
def _no_display() -> Iterator[ProgressCallback]:
    yield ignore_progress


def _q(path: Path) -> str:
    """A path as the shell and rich markup both read it."""
    return escape(shlex.quote(str(path)))


def _cmd(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _executable() -> str:
    """The absolute path of the installed command (what an MCP client must be given)."""
    beside = Path(sys.executable).parent / "trace2skill"
    return str(beside) if beside.exists() else "trace2skill"


def _command_name() -> str:
    """How to type the command here: `trace2skill` when it is on PATH, else its path (e.g. `.venv/bin/trace2skill`)."""
    installed = _executable()
    found = shutil.which("trace2skill")
    if installed == "trace2skill" or (found and Path(found).resolve() == Path(installed).resolve()):
        return "trace2skill"
    try:
        return str(Path(installed).relative_to(Path.cwd()))
    except ValueError:
        return installed


def run_demo(
    *,
    home: str | os.PathLike[str] | None = None,
    model: str | None = None,
    keep: bool = False,
    console: Console | None = None,
    progress: ProgressDisplay | None = None,
    env: Mapping[str, str] | None = None,
) -> DemoResult:
    """Run the demo; narration goes to `console`, the evolve's live progress to `progress()`.

    `home` must be new or empty unless `keep`; None makes a new temporary folder, which is kept so
    that it can be explored afterwards. Raises Trace2SkillError when the evolution fails (after
    showing its report).
    """
    from trace2skill.evolve import estimate, evolve
    from trace2skill.workspace import Workspace

    out = console or Console(quiet=True)
    root = _fresh_home(home, keep)
    chosen = choose_model(model, env)
    out.print("[bold]trace2skill demo[/]: Trace2Skill end to end on embedded data, in a fresh home folder")
    out.print(f"  home: [cyan]{_q(root)}[/]")
    out.print(f"  explore it afterwards with [bold]{escape(_command_name())} --home {_q(root)} ...[/]")
    ws = Workspace.open(Home(root))
    try:
        base = _import_skill(ws, out)
        trajectories = load_trajectories()
        ids, redactions, redacted_ids = _record(ws, trajectories, out)
        with _model(chosen, trajectories, out) as (model_string, simulated):
            config = EvolutionConfig(
                skill=SKILL_NAME, model=model_string, budget_usd=None if simulated else REAL_MODEL_BUDGET_USD
            )
            est = estimate(config, workspace=ws)
            _show_estimate(est, chosen[0] if chosen else f"{SIMULATED_AS} (simulated)", out)
            out.print("\n[bold]5. Evolve[/]: analyse every run in parallel, propose patches, merge, apply, publish")
            with (progress or _no_display)() as bars:
                report = evolve(config, workspace=ws, progress=bars)
        published = ws.skills.published_path(SKILL_NAME)
        result = DemoResult(
            home=root,
            skill=SKILL_NAME,
            base_version=base,
            trajectory_ids=ids,
            redactions=redactions,
            redacted_ids=redacted_ids,
            model=chosen[0] if chosen else SIMULATED_AS,
            simulated=chosen is None,
            estimate=est,
            report=report,
            published=published,
            next_commands=_next_commands(root, base, report),
        )
        _show(result, out)
        if report.status == "failed":
            raise Trace2SkillError(report.error or "the evolution failed")
        return result
    finally:
        ws.close()


def _show_estimate(est: Estimate, model: str, out: Console) -> None:
    out.print(f"\n[bold]4. Dry run first[/] ([dim]trace2skill evolve {SKILL_NAME} --dry-run[/]): nothing spent yet")
    out.print(_indent(est.model_copy(update={"model": model}).render()), markup=False, highlight=False)


def _import_skill(ws: Workspace, out: Console) -> int:
    with skill_folder() as folder:
        version, _ = ws.skills.import_dir(folder, changelog=["starter skill shipped with trace2skill demo"])
    out.print(
        f"\n[bold]1. Import a starter skill[/]: [cyan]{SKILL_NAME}[/] (SKILL.md, references/, scripts/) "
        f"→ version {version.version}, published to {_q(ws.skills.published_path(SKILL_NAME))}"
    )
    return version.version


def _record(ws: Workspace, trajectories: list[Trajectory], out: Console) -> tuple[list[str], dict[str, int], list[str]]:
    """Store every run through `Workspace.record` (what `trace2skill record` and the MCP tool use)."""
    ids: list[str] = []
    redacted: list[str] = []
    kinds: Counter[str] = Counter()
    for t in trajectories:
        tid, count, stored = ws.record(t)
        ids.append(tid)
        if count:
            redacted.append(tid)
            kinds.update(stored.metadata.get("redactions") or {})
    failures = sum(t.outcome.status == "failure" for t in trajectories)
    checked = sum(t.reference is not None for t in trajectories)
    out.print(
        f"\n[bold]2. Record {len(ids)} runs[/] of agents using it: {failures} failures, "
        f"{len(ids) - failures} successes, {checked} checked against a reference answer"
    )
    if kinds:
        shown = ", ".join(f"{k} × {v}" for k, v in sorted(kinds.items()))
        out.print(
            f"   redacted before storing: [bold]{sum(kinds.values())} secret[/] ({shown}); the original never "
            f"reached the database (see [bold]{escape(_command_name())} --home {_q(ws.home.root)} "
            f"traces show {redacted[0]}[/])"
        )
    else:
        out.print("   redacted before storing: nothing found")
    return ids, dict(kinds), redacted


@contextlib.contextmanager
def _model(chosen: tuple[str, str] | None, trajectories: list[Trajectory], out: Console) -> Iterator[tuple[str, bool]]:
    """The model string to evolve with; for the simulated fleet, a local protocol server for the run."""
    if chosen is not None:
        model, source = chosen
        out.print(f"\n[bold]3. Model[/]: [cyan]{model}[/] ({source}); spending at most ${REAL_MODEL_BUDGET_USD:.2f}")
        yield model, False
        return
    from trace2skill.demo.llmserver import MessagesServer

    out.print(
        "\n[bold]3. Model[/]: [bold yellow]simulated[/] - no model is configured, so the analysts' answers are "
        "[bold]simulated[/].\n"
        "   The pipeline is the real one: the real anthropic SDK client calls a local server over loopback that "
        "speaks the\n   Messages API, and a scripted analyst fleet writes the answers (it knows the lesson "
        "behind each embedded run).\n"
        "   Tokens are counted by that server (about 4 characters a token) and priced as claude-sonnet-4-5.\n"
        "   For real analysis: [bold]export ANTHROPIC_API_KEY=...[/] (or OPENAI_API_KEY), or "
        "[bold]trace2skill demo --model anthropic:claude-sonnet-4-5[/]"
    )
    provider, _, name = SIMULATED_AS.partition(":")
    with MessagesServer(DemoFleet(trajectories)) as server:
        yield f"{provider}:{name}@{server.url}", True


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())


def _next_commands(root: Path, base: int, report: EvolutionReport) -> list[str]:
    home = [_command_name(), "--home", str(root)]
    new = str(report.new_version or base)
    return [
        _cmd(*home, "skills", "show", SKILL_NAME, "--provenance"),
        _cmd(*home, "skills", "diff", SKILL_NAME, str(base), new),
        _cmd(*home, "serve"),
        _cmd(
            "claude",
            "mcp",
            "add",
            "--scope",
            "user",
            "--env",
            f"TRACE2SKILL_HOME={root}",
            "--transport",
            "stdio",
            "trace2skill",
            "--",
            _executable(),
            "serve",
        ),
    ]


def _show(result: DemoResult, out: Console) -> None:
    report = result.report
    out.print("\n[bold]6. Report[/] ([dim]trace2skill runs show " + report.run_id + "[/])\n")
    from trace2skill.evolve.report import render_markdown

    text = render_markdown(report.model_copy(update={"diff": ""}))
    if out.is_terminal:
        out.print(Markdown(text), soft_wrap=False)
    else:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
    if report.diff:
        label = f"version {result.base_version} → {report.new_version}"
        out.print(
            f"\n[bold]7. Diff[/], {label} ([dim]trace2skill skills diff {SKILL_NAME} "
            f"{result.base_version} {report.new_version}[/])\n"
        )
        if out.is_terminal:
            out.print(Syntax(report.diff, "diff", theme="ansi_dark", word_wrap=True), soft_wrap=False)
        else:
            out.print(report.diff, markup=False, highlight=False, soft_wrap=True)
    if report.new_version:
        out.print(
            f"\n[bold]8. Published[/]: version {report.new_version} of {SKILL_NAME} now lives in "
            f"[cyan]{_q(result.published)}[/]"
        )
    else:
        out.print(
            f"\nNo new version ({report.status}); version {result.base_version} stays published in "
            f"{_q(result.published)}"
        )
    out.print("\n[bold]Next[/]: try")
    notes = [
        "each edit with the runs that support it",
        "the change as a unified diff",
        "the MCP server over this home (stdio; Ctrl-C to stop)",
        "register it in Claude Code",
    ]
    for command, note in zip(result.next_commands, notes, strict=True):
        out.print(f"  [dim]# {note}[/]\n  {escape(command)}", highlight=False)
