"""What the MCP tools return: small pydantic models that become each tool's output schema.

Library objects are converted here, not in the tools, so every tool answers in the same shapes
(`uri` fields always point at a resource the client can read back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from trace2skill.evolve import Estimate
from trace2skill.models import EvolutionReport
from trace2skill.server.uris import run_report_uri, skill_file_uri, trajectory_uri
from trace2skill.skills_store import SkillFileInfo, SkillReview, SkillSummary, SkillVersion
from trace2skill.store import TraceSummary

__all__ = [
    "DiffView",
    "EvolutionStatus",
    "EvolveResult",
    "ImportedSkill",
    "LabelledTrajectory",
    "RecordedTrajectory",
    "RollbackResult",
    "RunList",
    "RunSummary",
    "RunView",
    "SkillFileEntry",
    "SkillHistory",
    "SkillList",
    "SkillListEntry",
    "SkillView",
    "StageCount",
    "TrajectoryList",
    "TrajectoryListEntry",
    "VersionEntry",
]


class RecordedTrajectory(BaseModel):
    id: str
    uri: str = Field(description="trajectory://<id>, readable as a resource")
    skill: str | None
    skill_version: int | None
    outcome: str
    messages: int
    tool_calls: int
    redactions: int = Field(description="Secrets and personal data replaced by [REDACTED:<kind>] before storing")
    redacted_kinds: dict[str, int] = Field(default_factory=dict)
    stored_trajectories_for_skill: int | None = Field(
        default=None, description="How many trajectories the store now holds for this skill"
    )
    skill_reads: int = Field(
        default=0, description="Reads of skill files made earlier in this session, now tied to this run"
    )


class SkillFileEntry(BaseModel):
    """One file of a skill version, as SEP-2640 lists it (digest `sha256:<hex>`)."""

    path: str
    size: int
    sha256: str
    digest: str
    executable: bool
    uri: str

    @classmethod
    def of(cls, name: str, info: SkillFileInfo) -> SkillFileEntry:
        return cls(
            path=info.path,
            size=info.size,
            sha256=info.sha256,
            digest=f"sha256:{info.sha256}",
            executable=info.executable,
            uri=skill_file_uri(name, info.path),
        )


class SkillView(BaseModel):
    name: str
    version: int
    head_version: int
    published_version: int | None
    digest: str
    description: str | None
    frontmatter: dict[str, Any]
    skill_md: str | None = Field(
        default=None,
        description="Null: SKILL.md is the result's first text block, verbatim (sent once). The full text here "
        "only when it is longer than a text block may be (60,000 characters)",
    )
    files: list[SkillFileEntry]
    uri: str
    author: str
    created_at: datetime
    changelog: list[str]


class SkillListEntry(BaseModel):
    name: str
    description: str | None
    head_version: int
    published_version: int | None
    versions: int
    digest: str
    updated_at: datetime
    uri: str

    @classmethod
    def of(cls, s: SkillSummary) -> SkillListEntry:
        return cls(
            name=s.name,
            description=s.description,
            head_version=s.head,
            published_version=s.published_version,
            versions=s.versions,
            digest=s.digest,
            updated_at=s.updated_at,
            uri=skill_file_uri(s.name, "SKILL.md"),
        )


class SkillList(BaseModel):
    skills: list[SkillListEntry]


class VersionEntry(BaseModel):
    version: int
    digest: str
    parent: int | None
    author: str
    run_id: str | None
    changelog: list[str]
    file_count: int
    total_bytes: int
    created_at: datetime
    review: str | None = Field(
        default=None,
        description="'staged: held for review (N reasons)', or how a person released it; None if never held",
    )

    @classmethod
    def of(cls, v: SkillVersion, review: SkillReview | None = None) -> VersionEntry:
        entry = cls.model_validate(v, from_attributes=True)
        return entry if review is None else entry.model_copy(update={"review": review.summary()})


class SkillHistory(BaseModel):
    name: str
    published_version: int | None
    versions: list[VersionEntry] = Field(description="Oldest first")


class DiffView(BaseModel):
    name: str
    v1: int
    v2: int
    changed: bool
    diff: str = Field(description="Unified diff from v1 to v2")
    truncated: bool = Field(default=False, description="True when `diff` was cut to fit a tool result")
    full_diff_chars: int


class RollbackResult(BaseModel):
    name: str
    rolled_back_to: int
    new_version: int
    digest: str
    uri: str
    changed: bool = Field(description="False when the current version already had that content")


class ImportedSkill(BaseModel):
    name: str
    version: int
    created: bool = Field(description="False when the folder equals the current version")
    digest: str
    uri: str


class TrajectoryListEntry(BaseModel):
    id: str
    uri: str
    created_at: datetime
    skill: str | None
    skill_version: int | None
    outcome: str
    score: float | None
    tags: list[str]
    task: str = Field(description="The task, cut to its first 160 characters")

    @classmethod
    def of(cls, s: TraceSummary) -> TrajectoryListEntry:
        return cls(uri=trajectory_uri(s.id), **s.model_dump())


class TrajectoryList(BaseModel):
    total: int = Field(description="How many trajectories match, beyond the ones returned")
    trajectories: list[TrajectoryListEntry]


class LabelledTrajectory(BaseModel):
    id: str
    uri: str
    outcome: dict[str, Any]


class RunSummary(BaseModel):
    run_id: str
    skill: str | None
    status: str
    stage: str | None = None
    base_version: int | None = None
    new_version: int | None = None
    created_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    report_uri: str

    @classmethod
    def of(cls, run: dict[str, Any]) -> RunSummary:
        return cls(
            run_id=run["run_id"],
            skill=run.get("skill"),
            status=run.get("status") or "unknown",
            stage=run.get("stage"),
            base_version=run.get("base_version"),
            new_version=run.get("new_version"),
            created_at=run.get("created_at"),
            finished_at=run.get("finished_at"),
            error=run.get("error"),
            report_uri=run_report_uri(run["run_id"]),
        )


class RunList(BaseModel):
    runs: list[RunSummary]


class RunView(BaseModel):
    run: RunSummary
    config: dict[str, Any] = Field(description="The evolution settings the run was started with")
    report: EvolutionReport | None = Field(description="None while the run has not finished")


class EvolveResult(BaseModel):
    """The answer of evolve_skill: a finished run's report, a dry run's estimate, or a background run's id."""

    status: Literal["succeeded", "failed", "interrupted", "no_change", "dry_run", "rejected", "staged", "running"]
    skill: str
    model: str | None = Field(description="provider:model that did (or would do) the work")
    llm_source: str = Field(description="Where the model came from: argument, server, environment, sampling")
    run_id: str | None = None
    base_version: int | None = None
    new_version: int | None = None
    published: bool | None = Field(default=None, description="Whether the new version is live (served) now")
    held_for_review: list[str] = Field(
        default_factory=list, description="Why the new version waits for a person (status 'staged'), one line each"
    )
    skill_uri: str
    report_uri: str | None = None
    error: str | None = None
    cost_usd: float | None = None
    report: EvolutionReport | None = None
    estimate: Estimate | None = None


class StageCount(BaseModel):
    done: int | None = Field(description="Units of the stage finished (trajectories analysed, merge groups, ...)")
    total: int | None = Field(description="Units the stage has; None while not known yet")


class EvolutionStatus(BaseModel):
    """The answer of evolution_status and cancel_evolution: where a run is, or how it ended."""

    run_id: str
    skill: str | None
    status: str = Field(description="running, succeeded, staged, no_change, failed, interrupted (resumable)")
    stage: str | None = Field(description="The stage it is in (select, draft, analyse, propose, merge, apply, ...)")
    done: int | None = Field(default=None, description="Units of the current stage finished (live runs only)")
    total: int | None = Field(default=None, description="Units of the current stage (live runs only)")
    stages: dict[str, StageCount] = Field(default_factory=dict, description="Each stage's count so far (live runs)")
    in_this_server: bool = Field(description="Whether this server process runs it (so cancel_evolution can stop it)")
    background: bool | None = Field(default=None, description="Started with background=true (live runs only)")
    cancel_requested: bool = False
    calls: int = Field(description="LLM calls so far")
    cost_usd: float = Field(description="Spent so far, in USD")
    base_version: int | None = None
    new_version: int | None = None
    published: bool | None = None
    summary: str | None = Field(default=None, description="One line from the report, once the run has finished")
    error: str | None = None
    report_uri: str
