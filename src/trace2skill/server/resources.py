"""Resources: skills (SEP-2640 `skill://` URIs), trajectories and evolution reports.

Skill files are served from the skill store's current version (the published one, else the newest),
never from the published folder on disk, so a client always reads a complete, recorded version.
Every skill's SKILL.md is listed (name and description from its frontmatter), with the latest runs
and trajectories; other files are reached through the `skill://{name}/{+path}` template. Template
values are checked twice: by the SDK (`..`, absolute paths, NUL) and by `safe_relpath`.
"""

from __future__ import annotations

import logging
import mimetypes
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import anyio.to_thread
import mcp_types as types
from mcp.server.mcpserver import Context

from trace2skill.errors import NotFound
from trace2skill.evolve import render_markdown
from trace2skill.models import EvolutionReport
from trace2skill.server.errors import resource_errors
from trace2skill.server.state import AppState, state_of
from trace2skill.server.uris import (
    RUN_REPORT_TEMPLATE,
    SKILL_FILE_TEMPLATE,
    SKILL_MD_TEMPLATE,
    TRAJECTORY_TEMPLATE,
    run_report_uri,
    skill_file_uri,
    trajectory_uri,
)
from trace2skill.skills_store import SkillStore, SkillVersion, check_skill_name, safe_relpath
from trace2skill.skills_store.served import served_version
from trace2skill.store.usage import ReadVia

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from trace2skill.workspace import Workspace

__all__ = [
    "LISTED_RUNS",
    "LISTED_TRAJECTORIES",
    "announce",
    "current_version",
    "listed_resources",
    "mime_type_for",
    "record_skill_read",
    "register_resources",
    "session_of",
    "skill_path_of",
]

log = logging.getLogger(__name__)

LISTED_RUNS = 10
LISTED_TRAJECTORIES = 20
_TEXT_TYPES = {".md": "text/markdown", ".py": "text/x-python", ".sh": "text/x-shellscript", ".txt": "text/plain"}


def current_version(skills: SkillStore, name: str) -> SkillVersion:
    """The version a client is served: the published one, else the newest not held for review (a held
    version is what no person has read yet, so no agent loads it). One query (`served_version`)."""
    return served_version(skills, name).version


def session_of(ctx: Context[AppState, Any]) -> str | None:
    """The MCP session a request belongs to, for usage records.

    Over HTTP it is the transport's session (the `Mcp-Session-Id` header every 2025-era request
    carries after `initialize`; the SDK validates it); a 2026-07-28 HTTP request belongs to no
    session, so None. stdio and in-memory connections (both eras) each enter the server's lifespan
    once and get their own id there (`AppState.session`). `Context.headers` is None off HTTP.
    """
    headers = ctx.headers
    if headers is not None:
        return headers.get("mcp-session-id") or None
    return state_of(ctx).session


def record_skill_read(
    workspace: Workspace, version: SkillVersion, path: str, *, session: str | None, via: ReadVia
) -> None:
    """Record one read of a skill file; never fails the read (a full disk is logged; a read-only home records
    nothing, as it stores nothing else)."""
    if workspace.read_only:
        return
    try:
        workspace.usage.record_read(version.name, version.version, path, session=session, via=via)
    except Exception as e:
        log.warning("could not record a read of %s/%s: %s", version.name, path, e)


def mime_type_for(path: str, content: str | bytes) -> str:
    suffix = path[path.rfind(".") :].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if suffix in _TEXT_TYPES:
        return _TEXT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed:
        return guessed
    return "text/plain" if isinstance(content, str) else "application/octet-stream"


def skill_path_of(uri: str) -> str | None:
    """The file path inside a `skill://name/path` URI (decoded), or None for other URIs."""
    if not uri.startswith("skill://"):
        return None
    _, _, path = uri[len("skill://") :].partition("/")
    return unquote(path) or None


def _read_skill_file(state: AppState, name: str, path: str, session: str | None) -> str | bytes:
    with resource_errors():
        check_skill_name(name)
        rel = safe_relpath(path)
        skills = state.workspace.skills
        version = current_version(skills, name)
        data = skills.read_file(name, rel, version.version)
    record_skill_read(state.workspace, version, rel, session=session, via="resource")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return data if "\x00" in text else text


async def _read_off_loop(ctx: Context[AppState, Any], name: str, path: str) -> str | bytes:
    """SQLite reads and the usage INSERT on a worker thread, so other requests keep flowing."""
    return await anyio.to_thread.run_sync(_read_skill_file, state_of(ctx), name, path, session_of(ctx))


async def skill_md(name: str, ctx: Context[AppState, Any]) -> str | bytes:
    """A skill's SKILL.md (its current version): frontmatter, then the instructions."""
    return await _read_off_loop(ctx, name, "SKILL.md")


async def skill_file(name: str, path: str, ctx: Context[AppState, Any]) -> str | bytes:
    """Any file of a skill's current version: references/, scripts/, assets/ (paths as in get_skill)."""
    return await _read_off_loop(ctx, name, path)


async def trajectory(id: str, ctx: Context[AppState, Any]) -> str:
    """A recorded trajectory as JSON: task, messages, outcome, metadata."""
    with resource_errors():
        t = state_of(ctx).workspace.traces.get(id)
    return t.model_dump_json(indent=2, exclude_none=True)


async def run_report(run_id: str, ctx: Context[AppState, Any]) -> str:
    """An evolution run's report in Markdown: what changed, why, backed by which trajectories, the cost;
    while the run is going, its stage and progress (done/total of each stage so far)."""
    state = state_of(ctx)
    with resource_errors():
        run = await anyio.to_thread.run_sync(state.workspace.traces.get_run, run_id)
    if run.get("report"):
        return render_markdown(EvolutionReport.model_validate(run["report"]))
    lines = [f"# Evolution run {run_id}: {run.get('skill')}", "", f"**Status:** {run.get('status')}"]
    evolution = state.evolutions.get(run_id)
    if evolution is not None and evolution.active:  # running in this server: its live progress
        lines += [f"**Stage:** {evolution.progress.line()}", "", "| stage | done | total |", "|---|---|---|"]
        for stage, count in evolution.progress.stages.items():
            total = "?" if count["total"] is None else count["total"]
            lines.append(f"| {stage} | {count['done']} | {total} |")
    elif run.get("stage"):
        lines.append(f"**Stage:** {run.get('stage')}")
    if run.get("error"):
        lines.append(f"**Error:** {run['error']}")
    return "\n".join(lines) + "\n"


def register_resources(mcp: MCPServer[Any]) -> None:
    mcp.resource(SKILL_MD_TEMPLATE, name="skill", title="Skill (SKILL.md)", mime_type="text/markdown")(skill_md)
    mcp.resource(SKILL_FILE_TEMPLATE, name="skill_file", title="Skill file")(skill_file)
    mcp.resource(TRAJECTORY_TEMPLATE, name="trajectory", title="Trajectory", mime_type="application/json")(trajectory)
    mcp.resource(RUN_REPORT_TEMPLATE, name="run_report", title="Evolution report", mime_type="text/markdown")(
        run_report
    )


def _skill_resources(state: AppState) -> list[types.Resource]:
    skills = state.workspace.skills
    out = []
    for summary in skills.list():
        try:
            version = current_version(skills, summary.name)
        except NotFound:
            continue
        out.append(
            types.Resource(
                uri=skill_file_uri(summary.name, "SKILL.md"),
                name=summary.name,
                title=f"{summary.name} skill (v{version.version})",
                description=version.description,
                mime_type="text/markdown",
                annotations=types.Annotations(last_modified=version.created_at.isoformat()),
                _meta={"trace2skill/version": version.version, "trace2skill/digest": version.digest},
            )
        )
    return out


def _run_resources(state: AppState) -> list[types.Resource]:
    return [
        types.Resource(
            uri=run_report_uri(run["run_id"]),
            name=f"run {run['run_id']}",
            title=f"Evolution of {run.get('skill')}: {run.get('status')}",
            description=f"Report of evolution run {run['run_id']} ({run.get('status')}) of {run.get('skill')}",
            mime_type="text/markdown",
        )
        for run in state.workspace.traces.list_runs(limit=LISTED_RUNS)
    ]


def _trajectory_resources(state: AppState) -> list[types.Resource]:
    out = []
    for s in state.workspace.traces.summaries(limit=LISTED_TRAJECTORIES):
        about = " · ".join(x for x in (s.outcome, s.skill) if x)
        out.append(
            types.Resource(
                uri=trajectory_uri(s.id),
                name=s.id,
                title=f"Trajectory {s.id} ({about})",
                description=s.task[:200],
                mime_type="application/json",
                annotations=types.Annotations(last_modified=s.created_at.isoformat()),
            )
        )
    return out


def listed_resources(state: AppState) -> list[types.Resource]:
    """Every skill's SKILL.md, then the latest evolution reports and trajectories."""
    return _skill_resources(state) + _run_resources(state) + _trajectory_resources(state)


async def announce(ctx: Context[AppState, Any], *updated: str) -> None:
    """Tell the clients that asked: the resource list changed, and these resources with it.

    `resources/updated` goes only to subscribers of each URI, list changes to every client at most
    once per interval, a second by default (`trace2skill.server.announcer`). A client that went away
    is not an error of the call that changed things.
    """
    try:
        await state_of(ctx).announcer.changed(*updated)
    except Exception as e:
        log.info("could not announce resource changes: %s", e)
