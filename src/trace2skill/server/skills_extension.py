"""The MCP skills extension (SEP-2640, `io.modelcontextprotocol/skills`): `skills/list` and `skills/get`.

Written against protocol 2026-07-28, so the methods answer only there; older clients see the same
skills as ordinary `skill://` resources. An entry is a complete manifest of the skill's current
version: the verbatim frontmatter and every file with its `sha256:` digest and size. Because each
evolution writes a new version, the digests change with it and a host re-approves the new content.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import anyio.to_thread
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CacheableResult, PaginatedRequestParams, RequestParams
from mcp_types._types import MCPModel
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from trace2skill.errors import Trace2SkillError
from trace2skill.server.resources import current_version
from trace2skill.server.state import AppState
from trace2skill.server.uris import skill_file_uri
from trace2skill.skills_store import SkillStore, read_frontmatter

__all__ = [
    "SKILLS_EXTENSION",
    "GetSkillParams",
    "GetSkillResult",
    "ListSkillsResult",
    "SkillEntry",
    "SkillResourceEntry",
    "SkillsExtension",
    "skill_entry",
]

SKILLS_EXTENSION = "io.modelcontextprotocol/skills"


class SkillResourceEntry(MCPModel):
    uri: str
    digest: str
    size: int


class SkillEntry(MCPModel):
    uri: str
    frontmatter: dict[str, Any]
    resources: list[SkillResourceEntry]


class ListSkillsResult(CacheableResult):
    skills: list[SkillEntry]
    next_cursor: str | None = None
    result_type: Literal["complete"] = "complete"


class GetSkillParams(RequestParams):
    uri: str


class GetSkillResult(CacheableResult):
    skill: SkillEntry
    result_type: Literal["complete"] = "complete"


def skill_entry(skills: SkillStore, name: str) -> SkillEntry:
    """The SEP-2640 entry of a skill's current version."""
    version = current_version(skills, name)
    text = skills.read_file(name, "SKILL.md", version.version).decode("utf-8", errors="replace")
    frontmatter = read_frontmatter(text).data
    files = skills.list_files(name, version.version)
    return SkillEntry(
        uri=skill_file_uri(name, "SKILL.md"),
        frontmatter=frontmatter,
        resources=[
            SkillResourceEntry(uri=skill_file_uri(name, f.path), digest=f"sha256:{f.sha256}", size=f.size)
            for f in files
        ],
    )


def _entries(state: AppState) -> list[SkillEntry]:
    skills = state.workspace.skills
    out = []
    for summary in skills.list():
        try:
            out.append(skill_entry(skills, summary.name))
        except Trace2SkillError:  # a skill whose SKILL.md cannot be read is left out of the listing
            continue
    return out


def _name_of(uri: str) -> str:
    prefix, suffix = "skill://", "/SKILL.md"
    name = uri[len(prefix) : -len(suffix)] if uri.startswith(prefix) and uri.endswith(suffix) else ""
    if not name or "/" in name:
        raise MCPError(code=INVALID_PARAMS, message=f"{uri!r} is not the skill://<name>/SKILL.md URI of a skill here")
    return name


async def _list(ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams) -> ListSkillsResult:
    skills = await anyio.to_thread.run_sync(_entries, ctx.lifespan_context)
    return ListSkillsResult(skills=skills, ttl_ms=0, cache_scope="private")


async def _get(ctx: ServerRequestContext[AppState, Any], params: GetSkillParams) -> GetSkillResult:
    name = _name_of(params.uri)
    try:
        entry = await anyio.to_thread.run_sync(skill_entry, ctx.lifespan_context.workspace.skills, name)
    except Trace2SkillError as e:
        raise MCPError(code=INVALID_PARAMS, message=str(e)) from None
    return GetSkillResult(skill=entry, ttl_ms=0, cache_scope="private")


class SkillsExtension(Extension):
    identifier = SKILLS_EXTENSION

    def methods(self) -> Sequence[MethodBinding]:
        versions = frozenset(MODERN_PROTOCOL_VERSIONS)
        return (
            MethodBinding("skills/list", PaginatedRequestParams, _list, protocol_versions=versions),
            MethodBinding("skills/get", GetSkillParams, _get, protocol_versions=versions),
        )
