"""The MCP tools: thin shells over the workspace and the evolve engine.

Each tool validates its input, calls the library (blocking work on a worker thread), and answers
with a readable text for the model plus the same facts as structured content. Expected failures
come back as tool errors carrying the library's one-line message; nothing is stored on bad input.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, PlainValidator, ValidationError

from trace2skill.errors import InvalidInput
from trace2skill.evolve import estimate, render_markdown
from trace2skill.llm import parse_model
from trace2skill.models import (
    LIMITS,
    EvolutionConfig,
    EvolutionReport,
    InvalidTrajectory,
    Trajectory,
    describe_validation_error,
    parse_trajectory,
)
from trace2skill.server.background import Evolution, summary_line
from trace2skill.server.errors import one_line_errors, tool_errors
from trace2skill.server.llm_access import choose_llm
from trace2skill.server.progress import bridge_progress
from trace2skill.server.resources import announce, current_version, record_skill_read, session_of
from trace2skill.server.state import AppState, state_of
from trace2skill.server.uris import run_report_uri, skill_file_uri, trajectory_uri
from trace2skill.server.views import (
    DiffView,
    EvolutionStatus,
    EvolveResult,
    ImportedSkill,
    LabelledTrajectory,
    RecordedTrajectory,
    RollbackResult,
    RunList,
    RunSummary,
    RunView,
    SkillFileEntry,
    SkillHistory,
    SkillList,
    SkillListEntry,
    SkillView,
    StageCount,
    TrajectoryList,
    TrajectoryListEntry,
    VersionEntry,
)
from trace2skill.skills_store import read_frontmatter
from trace2skill.skills_store.served import served_version, version_manifest
from trace2skill.store.usage import UsageSummary
from trace2skill.workspace import Workspace

__all__ = ["MAX_DIFF_CHARS", "MAX_TEXT_CHARS", "TOOLS", "register_tools"]

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_DIFF_CHARS = 60_000
MAX_TEXT_CHARS = 60_000
"""Text answers stay well under Claude Code's 25k-token tool-output cap; structured content is complete."""

TrajectoryJSON = Annotated[
    dict[str, Any] | str,
    PlainValidator(lambda value: value, json_schema_input_type=Trajectory),
    Field(description="The run, in trace2skill's trajectory JSON (see the record_this_run prompt)."),
]
"""Checked by the tool itself (`parse_trajectory`): errors read `messages.2.role: ...` and the size limit applies."""

SkillName = Annotated[str, Field(description="Skill name, e.g. 'xlsx' (see list_skills)", max_length=64)]
Outcome = Literal["success", "failure", "partial", "unknown"]
Outcomes = Annotated[list[Outcome], Field(max_length=4)]
Tags = Annotated[list[Annotated[str, Field(max_length=LIMITS.tag_chars)]], Field(max_length=LIMITS.tags)]
"""A run carries at most LIMITS.tags tags, so a filter needing more matches nothing: refused in one line."""


async def _off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking library work (SQLite, publishing, redaction) on a worker thread, errors as ToolError."""
    with tool_errors():
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def _answer(model: BaseModel, text: str) -> CallToolResult:
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + f"\n\n… cut at {MAX_TEXT_CHARS:,} characters; the structured result is complete."
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json", by_alias=True),
    )


def _ws(ctx: Context[AppState, Any]) -> Workspace:
    return state_of(ctx).workspace


# --- recording -----------------------------------------------------------------------------------


def _store_run(
    ws: Workspace, trajectory: dict[str, Any] | str, session: str | None
) -> tuple[str, int, Trajectory, int | None, int]:
    """Parse, redact and store one run, and tie to it the skill reads its session made (`store.usage`).

    Returns (id, redactions, the stored run, runs stored for its skill, reads tied); tying is never a
    reason to lose the run: a failure there is logged and the run stays recorded."""
    try:
        parsed = parse_trajectory(trajectory)
    except InvalidTrajectory as e:
        raise ToolError(f"invalid trajectory: {e}") from None
    parsed = ws.with_version_read(parsed, session)
    ident, redactions, stored = ws.record(parsed)
    tied = 0
    try:
        tied = ws.usage.tie(session, ident)
    except Exception as e:
        log.warning("could not tie the skill reads of session %s to %s: %s", session, ident, e)
    count = ws.traces.count(skill=stored.skill) if stored.skill else None
    return ident, redactions, stored, count, tied


async def record_trajectory(
    trajectory: TrajectoryJSON, ctx: Context[AppState]
) -> Annotated[CallToolResult, RecordedTrajectory]:
    """Record one agent run so skills can learn from it. Call it once at the end of a task.

    `trajectory` is a JSON object; only `task` and `messages` are required:
    {"task": "...", "skill": "xlsx", "messages": [{"role": "user", "content": "..."},
    {"role": "assistant", "content": [{"type": "text", "text": "..."},
    {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "..."}}]},
    {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": "c1", "output": "...", "is_error": true}]}],
    "outcome": {"status": "success|failure|partial|unknown", "score": 1.0, "feedback": "..."},
    "final_answer": "...", "tags": ["..."], "metadata": {"agent": "...", "model": "..."}}

    Set `skill` to the skill the run used and report the outcome honestly: failures teach the most.
    Secrets and personal data are redacted before storing. Invalid input is refused with the exact
    field and reason, and nothing is stored.
    """
    state = state_of(ctx)
    with tool_errors():  # parsing (up to 8 MiB), redaction and SQLite: one trip off the event loop
        ident, redactions, stored, count, tied = await anyio.to_thread.run_sync(
            _store_run, state.workspace, trajectory, session_of(ctx), limiter=state.recording
        )
    kinds = stored.metadata.get("redactions")
    result = RecordedTrajectory(
        id=ident,
        uri=trajectory_uri(ident),
        skill=stored.skill,
        skill_version=stored.skill_version,
        outcome=stored.outcome.status,
        messages=len(stored.messages),
        tool_calls=len(stored.tool_calls),
        redactions=redactions,
        redacted_kinds=kinds if isinstance(kinds, dict) else {},
        stored_trajectories_for_skill=count,
        skill_reads=tied,
    )
    await announce(ctx)
    text = f"Recorded trajectory {ident} ({result.outcome}, {result.messages} messages"
    text += f", skill {stored.skill})" if stored.skill else ")"
    if redactions:
        text += f"; redacted {redactions} secret(s): " + ", ".join(f"{k} {v}" for k, v in result.redacted_kinds.items())
    if count is not None:
        text += f". {count} trajectories recorded for {stored.skill}."
    if tied:
        text += f" Tied to the {tied} skill file read(s) this session made before it."
    return _answer(result, text)


async def label_trajectory(
    id: Annotated[str, Field(description="Trajectory id, as returned by record_trajectory or search_trajectories")],
    status: Outcome,
    ctx: Context[AppState],
    score: Annotated[float | None, Field(description="Optional score, e.g. 0.0-1.0")] = None,
    feedback: Annotated[str | None, Field(description="What went right or wrong, in a sentence or two")] = None,
    judged_by: Annotated[str | None, Field(description="Who judged: 'human', 'agent', 'evaluator:<name>'")] = None,
) -> Annotated[CallToolResult, LabelledTrajectory]:
    """Set the outcome of a recorded trajectory after the fact (e.g. the user later said it was wrong).

    Replaces the previous outcome. Evolution learns from failures and successes, so labelling runs
    whose outcome was 'unknown' makes the next evolve_skill better.
    """
    outcome = {"status": status, "score": score, "feedback": feedback, "judged_by": judged_by}
    updated = await _off_loop(_ws(ctx).traces.label, id, outcome)
    await announce(ctx, trajectory_uri(id))
    result = LabelledTrajectory(id=id, uri=trajectory_uri(id), outcome=updated.outcome.model_dump(mode="json"))
    scored = f" (score {score})" if score is not None else ""
    return _answer(result, f"Trajectory {id} is now labelled {status}{scored}")


async def search_trajectories(
    ctx: Context[AppState],
    query: Annotated[str | None, Field(description="Full-text search: task, answer, feedback, messages, tools")] = None,
    skill: Annotated[str | None, Field(description="Only runs that used this skill")] = None,
    outcome: Annotated[Outcomes | None, Field(description="Only these outcomes")] = None,
    tags: Annotated[Tags | None, Field(description="Only runs carrying every one of these tags")] = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 20,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> Annotated[CallToolResult, TrajectoryList]:
    """Find recorded trajectories, newest first, by text, skill, outcome and tags.

    Returns one line per run (id, outcome, skill, task preview) and how many match in total; read a
    whole run as the resource trajectory://<id>.
    """
    traces = _ws(ctx).traces
    filters = {"skill": skill, "outcome": outcome, "tags": tags, "text": query}
    rows = await _off_loop(traces.summaries, **filters, limit=limit, offset=offset)
    total = await _off_loop(traces.count, **filters)
    result = TrajectoryList(total=total, trajectories=[TrajectoryListEntry.of(s) for s in rows])
    lines = [f"{total} matching trajectories" + (f", showing {len(rows)} from {offset}" if total else "")]
    lines += [f"- {s.id} [{s.outcome}] {s.skill or '-'}: {s.task}" for s in rows]
    return _answer(result, "\n".join(lines))


# --- skills --------------------------------------------------------------------------------------


def _skill_view(ws: Workspace, name: str, version: int | None, session: str | None) -> SkillView:
    """One query for the version (and head, published), the manifest and SKILL.md cached by digest, one INSERT
    for the usage record."""
    served = served_version(ws.skills, name, version)
    v = served.version
    manifest = version_manifest(ws.skills, v)
    try:
        frontmatter = read_frontmatter(manifest.skill_md).data  # parsed once per text (frontmatter cache)
    except InvalidInput:  # a hand-made SKILL.md with broken YAML is still served
        frontmatter = {}
    record_skill_read(ws, v, "SKILL.md", session=session, via="get_skill")
    return SkillView(
        name=name,
        version=v.version,
        head_version=served.head,
        published_version=served.published,
        digest=v.digest,
        description=v.description,
        frontmatter=frontmatter,
        skill_md=manifest.skill_md,
        files=[SkillFileEntry.of(name, f) for f in manifest.files],
        uri=skill_file_uri(name, "SKILL.md"),
        author=v.author,
        created_at=v.created_at,
        changelog=v.changelog,
    )


async def get_skill(
    name: SkillName,
    ctx: Context[AppState],
    version: Annotated[int | None, Field(ge=1, description="Version number; default: the current one")] = None,
) -> Annotated[CallToolResult, SkillView]:
    """Get a skill: its SKILL.md text, frontmatter, version, digest and file manifest.

    Each file has its size, sha256 and a skill:// URI to read it (references/, scripts/, assets/).
    Without `version`, returns the current (published) version.
    """
    view = await _off_loop(_skill_view, _ws(ctx), name, version, session_of(ctx))
    manifest = "\n".join(f"- {f.path} ({f.size:,} bytes) {f.uri}" for f in view.files)
    about = f"{view.name} version {view.version} (digest {view.digest[:12]}). Files:\n{manifest}"
    skill_md = view.skill_md or ""
    if len(skill_md) <= MAX_TEXT_CHARS:  # SKILL.md travels once: as the first text block, verbatim
        view.skill_md = None
    else:  # too long for a text block: cut there, complete in the structured content
        cut = f"\n\n… cut at {MAX_TEXT_CHARS:,} characters; structured content `skill_md` is complete."
        skill_md = skill_md[:MAX_TEXT_CHARS] + cut
    return CallToolResult(
        content=[TextContent(type="text", text=skill_md), TextContent(type="text", text=about[:MAX_TEXT_CHARS])],
        structured_content=view.model_dump(mode="json", by_alias=True),
    )


async def list_skills(ctx: Context[AppState]) -> Annotated[CallToolResult, SkillList]:
    """List every skill in the store with its description, newest version and published version."""
    summaries = await _off_loop(_ws(ctx).skills.list)
    result = SkillList(skills=[SkillListEntry.of(s) for s in summaries])
    if not summaries:
        return _answer(result, "No skills yet. Import one with import_skill, or evolve_skill(mode='create').")
    lines = [f"- {s.name} v{s.head_version} ({s.versions} versions): {s.description or ''}" for s in result.skills]
    return _answer(result, "\n".join(lines))


async def skill_usage(
    name: SkillName,
    ctx: Context[AppState],
    version: Annotated[int | None, Field(ge=1, description="Version number; default: the current one")] = None,
) -> Annotated[CallToolResult, UsageSummary]:
    """Which files of a skill agents read, how often and in how many sessions, and which they never read.

    Reads come from this server (skill:// resources, get_skill) and from imported Claude Code sessions.
    A reference nobody reads is a candidate to link from SKILL.md or to drop. Without `version`, the
    current (published) version.
    """
    summary = await _off_loop(_ws(ctx).skill_usage, name, version)
    head = f"{summary.skill} version {summary.version}: {summary.reads} read(s) in {summary.sessions} session(s)"
    if not summary.reads:
        return _answer(summary, head + ". No reads recorded yet.")
    lines = [head, *(f"- {f.path}: {f.reads} read(s), {f.sessions} session(s)" for f in summary.files)]
    lines.append("Never read: " + ", ".join(summary.never_read) if summary.never_read else "Every file was read.")
    lines.append(f"Recorded trajectories that read this version: {summary.trajectories}.")
    return _answer(summary, "\n".join(lines))


async def skill_history(name: SkillName, ctx: Context[AppState]) -> Annotated[CallToolResult, SkillHistory]:
    """List every version of a skill, oldest first: author (human, evolve run, rollback, hand edit) and changelog."""
    skills = _ws(ctx).skills
    versions = await _off_loop(skills.history, name)
    published = await _off_loop(skills.published_version, name)
    reviews = await _off_loop(skills.reviews, name)
    entries = [VersionEntry.of(v, reviews.get(v.version)) for v in versions]
    result = SkillHistory(name=name, published_version=published, versions=entries)
    lines = []
    for v in result.versions:
        mark = " (published)" if v.version == published else f" ({v.review})" if v.review else ""
        lines.append(f"v{v.version}{mark} by {v.author} at {v.created_at:%Y-%m-%d %H:%M}: " + "; ".join(v.changelog))
    return _answer(result, "\n".join(lines))


async def diff_skill(
    name: SkillName,
    v1: Annotated[int, Field(ge=1, description="Older version")],
    ctx: Context[AppState],
    v2: Annotated[int | None, Field(ge=1, description="Newer version; default: the newest")] = None,
) -> Annotated[CallToolResult, DiffView]:
    """Show what changed in a skill between two versions, as a unified diff of every file."""
    skills = _ws(ctx).skills
    to = v2 if v2 is not None else (await _off_loop(skills.head, name)).version
    diff = await _off_loop(skills.diff, name, v1, to)
    shown = diff[:MAX_DIFF_CHARS]
    cut = len(diff) > len(shown)
    result = DiffView(name=name, v1=v1, v2=to, changed=bool(diff), diff=shown, truncated=cut, full_diff_chars=len(diff))
    if not diff:
        return _answer(result, f"Versions {v1} and {to} of {name} have the same content.")
    note = f"\n… cut at {MAX_DIFF_CHARS:,} of {len(diff):,} characters" if result.truncated else ""
    return _answer(result, f"```diff\n{shown}\n```{note}")


async def rollback_skill(
    name: SkillName,
    version: Annotated[int, Field(ge=1, description="The version whose content becomes current again")],
    ctx: Context[AppState],
) -> Annotated[CallToolResult, RollbackResult]:
    """Make an older version's content current again, recorded as a NEW version (nothing is lost).

    The new version is published and served at skill://<name>/SKILL.md. A version held for review is
    refused: only a person releases it.
    """
    skills = _ws(ctx).skills
    before = await _off_loop(skills.head, name)
    new = await _off_loop(skills.rollback, name, version)
    uri = skill_file_uri(name, "SKILL.md")
    result = RollbackResult(
        name=name, rolled_back_to=version, new_version=new.version, digest=new.digest, uri=uri, changed=new != before
    )
    if result.changed:
        await announce(ctx, uri)
        return _answer(result, f"{name}: version {new.version} now has the content of version {version}; published.")
    return _answer(result, f"{name}: version {new.version} already has the content of version {version}.")


def _server_path(text: str, field: str) -> Path:
    """A path on the server's machine, which must be absolute (or start with `~`): a relative one would be
    read against the server's working directory, which the client neither sees nor chose."""
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise InvalidInput(f"{field} must be an absolute path on the server's machine (or start with ~), got {text!r}")
    return path


async def import_skill(
    path: Annotated[str, Field(description="A skill folder on the server's machine (holds SKILL.md)")],
    ctx: Context[AppState],
    name: Annotated[str | None, Field(description="Skill name; default: SKILL.md's name")] = None,
) -> Annotated[CallToolResult, ImportedSkill]:
    """Import a skill folder (e.g. ~/.claude/skills/xlsx) into the store as a new version, and publish it.

    Re-importing unchanged content creates no version. Needed before evolve_skill can deepen a skill.
    """
    version, created = await _off_loop(_ws(ctx).skills.import_dir, _server_path(path, "path"), name=name)
    uri = skill_file_uri(version.name, "SKILL.md")
    result = ImportedSkill(name=version.name, version=version.version, created=created, digest=version.digest, uri=uri)
    if created:
        await announce(ctx, uri)
    verb = "Imported" if created else "Unchanged:"
    return _answer(result, f"{verb} {version.name} version {version.version} ({uri})")


async def export_skill(
    name: SkillName,
    dest: Annotated[str, Field(description="Folder to write NAME/ into, e.g. ~/.claude/skills or .agents/skills")],
    ctx: Context[AppState],
    version: Annotated[int | None, Field(ge=1, description="Default: the current version")] = None,
) -> Annotated[CallToolResult, ImportedSkill]:
    """Write a skill version as a plain folder DEST/NAME, where clients such as Claude Code load skills.

    Replaces only an earlier export of the same skill; a folder edited by hand is never overwritten.
    """
    ws = _ws(ctx)
    chosen = version if version is not None else (await _off_loop(current_version, ws.skills, name)).version
    target = await _off_loop(ws.skills.export, name, _server_path(dest, "dest"), chosen)
    info = await _off_loop(ws.skills.get_version, name, chosen)
    result = ImportedSkill(
        name=name, version=chosen, created=True, digest=info.digest, uri=skill_file_uri(name, "SKILL.md")
    )
    return _answer(result, f"Exported {name} version {chosen} to {target}")


# --- evolution -----------------------------------------------------------------------------------


def _config(**fields: Any) -> EvolutionConfig:
    try:
        return EvolutionConfig(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        raise ToolError(describe_validation_error(e)) from None


FREE_PROVIDERS = ("local", "sampling")
"""Providers whose calls cost this server nothing (`Provider.free`): a local model, and the client's own model
through MCP sampling (the client approves each request)."""


def _require_budget(model: str, budget_usd: float | None) -> None:
    """A real run with a paid model needs `budget_usd`: an agent must not start an open-ended spend by default."""
    if budget_usd is None and parse_model(model).provider not in FREE_PROVIDERS:
        raise ToolError(
            f"a run with {model} costs money: pass budget_usd, the most it may spend in USD "
            "(dry_run=true estimates the cost first, and spends nothing)"
        )


async def evolve_skill(
    name: SkillName,
    ctx: Context[AppState],
    mode: Annotated[
        Literal["deepen", "create"], Field(description="deepen: improve an existing skill; create: draft a new one")
    ] = "deepen",
    analysts: Annotated[
        Literal["error", "success", "combined"], Field(description="Learn from failures, successes, or both")
    ] = "combined",
    limit: Annotated[int | None, Field(ge=1, description="At most this many trajectories (sampled)")] = None,
    outcome: Annotated[Outcomes | None, Field(description="Only trajectories with these outcomes")] = None,
    tags: Annotated[Tags | None, Field(description="Only trajectories with all these tags")] = None,
    fan_in: Annotated[int, Field(ge=2, le=64, description="Patches merged per merge call")] = 5,
    workers: Annotated[int, Field(ge=1, le=256, description="Parallel LLM sub-agents")] = 16,
    model: Annotated[
        str | None, Field(description="provider:model, e.g. anthropic:claude-sonnet-4-5; default: the server's")
    ] = None,
    budget_usd: Annotated[
        float | None,
        Field(ge=0, description="Stop (resumably) once this much is spent; required for a paid model (not a dry run)"),
    ] = None,
    dry_run: Annotated[bool, Field(description="Only estimate calls, tokens and cost; change nothing")] = False,
    task_description: Annotated[str | None, Field(description="What the skill is for (create mode)")] = None,
    seed: int = 0,
    fresh: Annotated[bool, Field(description="Start over instead of resuming an unfinished identical run")] = False,
    publish: Annotated[
        Literal["auto", "review", "never"],
        Field(description="auto: publish safe text changes, hold the rest for a person; review: hold; never: record"),
    ] = "auto",
    background: Annotated[
        bool, Field(description="Answer at once with the run id; the run goes on (evolution_status, cancel_evolution)")
    ] = False,
    analyst: Annotated[
        Literal["agentic", "single"],
        Field(description="Failures: an agent that proves its fix with the scorer (default), or one unchecked call"),
    ] = "agentic",
    any_version: Annotated[
        bool, Field(description="Learn from runs of every version of the skill, not only the version being evolved")
    ] = False,
) -> Annotated[CallToolResult, EvolveResult]:
    """Improve a skill from its recorded trajectories (Trace2Skill): parallel analysts each propose a
    patch from one run, patches are merged hierarchically, and the result becomes a new version
    served at skill://<name>/SKILL.md. Reports progress while it runs.

    Only text changes to SKILL.md and references/ with nothing risky in them go live. A version that
    touches scripts/ or assets/, or adds a command that downloads, runs, sends or reveals something, is
    held for a person (status 'staged'): no tool here publishes it; `trace2skill skills review NAME`.

    Start with dry_run=true: it returns the calls, tokens and cost estimate without spending
    anything. A real run with a paid model needs budget_usd, the most it may spend (a local model or
    the client's own model through sampling needs none). A run stopped by budget_usd or an error
    keeps its work; calling again with the same settings resumes it. Uses the server's model (--model,
    $TRACE2SKILL_MODEL, or the ANTHROPIC_API_KEY/OPENAI_API_KEY defaults), else the client's model
    through MCP sampling.

    Runs take minutes and clients give up on long calls: with background=true it answers at once with
    the run_id and the run goes on, even after this client disconnects; poll evolution_status(run_id)
    (or read run://<run_id>/report) and stop it with cancel_evolution.
    """
    state = state_of(ctx)
    ws = state.workspace
    config = _config(
        skill=name,
        mode=mode,
        analysts=analysts,
        limit=limit,
        outcome=outcome,
        tags=tags,
        fan_in=fan_in,
        workers=workers,
        budget_usd=budget_usd,
        task_description=task_description,
        seed=seed,
        publish=publish,
        analyst=analyst,
        any_version=any_version,
    )
    uri = skill_file_uri(name, "SKILL.md")
    if dry_run:
        try:
            choice = choose_llm(ctx, state.config, model)
            config, source = config.model_copy(update={"model": choice.model}), choice.source
        except ToolError:
            if model:
                raise
            source = "none configured"
        est = await _off_loop(estimate, config, workspace=ws)
        result = EvolveResult(
            status="dry_run", skill=name, model=config.model, llm_source=source, skill_uri=uri,
            cost_usd=est.cost_usd, estimate=est,
        )  # fmt: skip
        return _answer(result, est.render() + "\n\nNothing was spent. Call again without dry_run to run it.")
    choice = choose_llm(ctx, state.config, model)
    _require_budget(choice.model, budget_usd)
    config = config.model_copy(update={"model": choice.model})
    if background:
        if choice.sampling is not None:
            raise ToolError(
                "a background run cannot use the client's model through sampling (it outlives this call and the "
                "client); start the server with a model of its own, or call without background"
            )
        with tool_errors():
            run_id = await state.evolutions.start(state, config, fresh=fresh, background=True).recorded()
        await announce(ctx)  # a new run:// resource is listed
        report_uri = run_report_uri(run_id)
        started = EvolveResult(
            status="running", skill=name, model=choice.model, llm_source=choice.source, run_id=run_id,
            skill_uri=uri, report_uri=report_uri,
        )  # fmt: skip
        return _answer(
            started,
            f"Evolving {name} in the background as run {run_id}: evolution_status(run_id='{run_id}') for progress, "
            f"cancel_evolution to stop it; the report will be at {report_uri}.",
        )
    async with bridge_progress(ctx.report_progress, config.mode) as progress:
        with tool_errors():
            evolution = state.evolutions.start(
                state, config, fresh=fresh, sampling=choice.sampling, listeners=[progress]
            )  # on a loop of its own: the store and file work never stalls this server's other requests
            report = await evolution.result()
    if report.published:  # a version held for review is not served, so nothing changed for readers
        await announce(ctx, uri, run_report_uri(report.run_id))
    else:
        await announce(ctx, run_report_uri(report.run_id))
    result = EvolveResult(
        status=report.status,
        skill=name,
        model=choice.model,
        llm_source=choice.source,
        run_id=report.run_id,
        base_version=report.base_version,
        new_version=report.new_version,
        published=report.published,
        held_for_review=report.review,
        skill_uri=uri,
        report_uri=run_report_uri(report.run_id),
        error=report.error,
        cost_usd=report.cost_usd,
        report=report,
    )
    answer = _answer(result, render_markdown(report))
    answer.is_error = report.status == "failed"  # the report still comes back, so the agent can say why
    return answer


async def list_runs(
    ctx: Context[AppState],
    skill: Annotated[str | None, Field(description="Only runs of this skill")] = None,
    limit: Annotated[int, Field(ge=1, le=200)] = 20,
) -> Annotated[CallToolResult, RunList]:
    """List evolution runs, newest first: status, stage, versions, and the report's run:// URI."""
    runs = await _off_loop(_ws(ctx).traces.list_runs, skill=skill, limit=limit)
    result = RunList(runs=[RunSummary.of(r) for r in runs])
    lines = [
        f"- {r.run_id} {r.skill}: {r.status}"
        + (f" v{r.base_version}→v{r.new_version}" if r.new_version else "")
        + (f" ({r.error})" if r.error else "")
        for r in result.runs
    ]
    return _answer(result, "\n".join(lines) or "No evolution runs yet.")


async def get_run(
    run_id: Annotated[str, Field(description="Run id, e.g. from evolve_skill or list_runs")],
    ctx: Context[AppState],
) -> Annotated[CallToolResult, RunView]:
    """Get one evolution run: its settings, status and, once finished, the full report."""
    run = await _off_loop(_ws(ctx).traces.get_run, run_id)
    with tool_errors():
        report = EvolutionReport.model_validate(run["report"]) if run.get("report") else None
    summary = RunSummary.of(run)
    result = RunView(run=summary, config=run.get("config") or {}, report=report)
    text = render_markdown(report) if report else f"Run {run_id} of {summary.skill}: {summary.status} ({summary.stage})"
    return _answer(result, text)


def _status_view(ws: Workspace, evolution: Evolution | None, run_id: str) -> EvolutionStatus:
    """A run as the store has it, with the live progress of this server's evolution when it still runs."""
    run = ws.traces.get_run(run_id)
    spent = ws.traces.call_totals(run_id)
    report = EvolutionReport.model_validate(run["report"]) if run.get("report") else None
    # live counts only while the store says it runs: the run records its end a moment before its thread ends
    live = evolution is not None and evolution.active and run.get("status") == "running"
    view = EvolutionStatus(
        run_id=run_id,
        skill=run.get("skill"),
        status=run.get("status") or "unknown",
        stage=run.get("stage"),
        in_this_server=live,
        calls=int(spent.get("calls") or 0),
        cost_usd=round(float(spent.get("cost_usd") or 0.0), 6),
        base_version=run.get("base_version"),
        new_version=run.get("new_version"),
        published=report.published if report else None,
        summary=summary_line(report) if report else None,
        error=run.get("error"),
        report_uri=run_report_uri(run_id),
    )
    if live and evolution is not None:
        p = evolution.progress
        view.stage, view.done, view.total = p.stage, p.done, p.total
        view.stages = {stage: StageCount(done=c["done"], total=c["total"]) for stage, c in p.stages.items()}
        view.background, view.cancel_requested = evolution.background, evolution.cancel_requested
    return view


def _status_text(view: EvolutionStatus) -> str:
    if view.summary:
        return f"Run {view.run_id} of {view.skill}: {view.summary}"
    where = f"{view.stage} {view.done}/{view.total}" if view.total is not None else view.stage or "starting"
    spent = f"{view.calls} calls, ${view.cost_usd:,.4f} so far"
    text = f"Run {view.run_id} of {view.skill}: {view.status}, {where}; {spent}"
    if view.status == "running" and not view.in_this_server:
        text += " (not running in this server: started elsewhere, or before a restart)"
    return text + (f"; {view.error}" if view.error else "")


async def evolution_status(
    run_id: Annotated[str, Field(description="Run id, from evolve_skill (background=true) or list_runs")],
    ctx: Context[AppState],
) -> Annotated[CallToolResult, EvolutionStatus]:
    """Where an evolution run is: status, stage, done/total of the stage, calls and cost so far; once it
    has finished, one summary line of its report (the full report: get_run or run://<run_id>/report).

    Status 'interrupted' means cancelled or stopped with the server: its finished work is saved, and
    evolve_skill with the same settings resumes it."""
    state = state_of(ctx)
    view = await _off_loop(_status_view, state.workspace, state.evolutions.get(run_id), run_id)
    return _answer(view, _status_text(view))


async def cancel_evolution(
    run_id: Annotated[str, Field(description="Run id of an evolution this server is running")],
    ctx: Context[AppState],
) -> Annotated[CallToolResult, EvolutionStatus]:
    """Stop an evolution this server is running (background or not). What it finished (analyses, patches)
    stays saved and the run is recorded 'interrupted'; the published skill is untouched. evolve_skill with
    the same settings resumes it later."""
    state = state_of(ctx)
    run = await _off_loop(state.workspace.traces.get_run, run_id)
    if run.get("status") != "running":
        raise ToolError(f"run {run_id} has already ended (status {run.get('status')}); nothing to cancel")
    evolution = state.evolutions.get(run_id)
    if evolution is None or not evolution.active:
        raise ToolError(
            f"run {run_id} is not running in this server (started by another process, or before a restart), "
            "so it cannot be stopped from here"
        )
    await state.evolutions.cancel(evolution)
    view = await _off_loop(_status_view, state.workspace, evolution, run_id)
    view.cancel_requested = True
    await announce(ctx, run_report_uri(run_id))
    return _answer(view, f"Cancelled run {run_id} of {view.skill}: {view.status}, its finished work saved")


# --- registration --------------------------------------------------------------------------------


def _hints(*, read_only: bool, destructive: bool = False, idempotent: bool = False, open_world: bool = False) -> Any:
    return ToolAnnotations(
        read_only_hint=read_only, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=open_world
    )


TOOLS: list[tuple[Callable[..., Any], str, ToolAnnotations, bool]] = [
    (record_trajectory, "Record a run", _hints(read_only=False), False),
    (evolve_skill, "Evolve a skill", _hints(read_only=False, open_world=True), False),
    (get_skill, "Get a skill", _hints(read_only=True), False),
    (list_skills, "List skills", _hints(read_only=True), False),
    (search_trajectories, "Search trajectories", _hints(read_only=True), False),
    (label_trajectory, "Label a trajectory", _hints(read_only=False, destructive=True, idempotent=True), False),
    (skill_history, "Skill history", _hints(read_only=True), False),
    (skill_usage, "Skill usage", _hints(read_only=True), False),
    (diff_skill, "Diff two skill versions", _hints(read_only=True), False),
    (rollback_skill, "Roll back a skill", _hints(read_only=False, idempotent=True), False),
    (list_runs, "List evolution runs", _hints(read_only=True), False),
    (get_run, "Get an evolution run", _hints(read_only=True), False),
    (evolution_status, "Evolution status", _hints(read_only=True), False),
    (cancel_evolution, "Cancel an evolution", _hints(read_only=False, destructive=True, idempotent=True), False),
    (import_skill, "Import a skill folder", _hints(read_only=False, idempotent=True), True),
    (export_skill, "Export a skill to a folder", _hints(read_only=False, idempotent=True), True),
]
"""(function, title, hints, touches the server's filesystem)."""


def register_tools(mcp: MCPServer[Any], *, allow_paths: bool) -> None:
    for fn, title, hints, uses_paths in TOOLS:
        if uses_paths and not allow_paths:
            continue
        description = inspect.cleandoc(fn.__doc__ or "")
        mcp.add_tool(one_line_errors(fn), title=title, description=description, annotations=hints)
