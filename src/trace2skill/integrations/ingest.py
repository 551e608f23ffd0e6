"""Write imported trajectories to the trace store, idempotently.

Importers give every trajectory a deterministic id (a session id, or a content hash), so importing
the same thing twice must not fail or duplicate. For each id already in the store:
- same task, messages and final answer: left alone (counted as unchanged), unless the new copy names
  the skill version the stored one lacks (`with_skill_versions`), which replaces it;
- different (a Claude Code session that went on since the last import): replaced, keeping a label a
  person or model already gave it (a non-`unknown` outcome) and its tags.
Two importers racing on the same id (two hooks of one session) end the same way: the loser of the
insert sees the winner's row and compares against it.

`store_imported` is what `import` and the capture hook call: the versions, the store, and the skill
files each run used (`metadata.skill_files_used`) recorded as its reads (`store.usage`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from trace2skill.errors import Conflict, InvalidInput, NotFound
from trace2skill.models import ReasoningPart, TextPart, ToolCallPart, ToolResultPart, Trajectory

if TYPE_CHECKING:
    from trace2skill.skills_store import SkillStore
    from trace2skill.store import TraceStore
    from trace2skill.store.usage import UsageLog
    from trace2skill.workspace import Workspace

__all__ = [
    "BATCH_BYTES",
    "SkillFilesUsed",
    "StoreCounts",
    "approx_size",
    "record_skill_files",
    "store_imported",
    "store_trajectories",
    "with_skill_versions",
]


@dataclass
class StoreCounts:
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    ids: list[str] = field(default_factory=list)
    skill_reads: Counter[str] = field(default_factory=Counter)
    """Skill files the runs used, recorded as reads (`store_imported`), by skill."""

    @property
    def total(self) -> int:
        return self.added + self.replaced + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "replaced": self.replaced, "unchanged": self.unchanged}


BATCH_BYTES = 4 * 1024 * 1024
"""A batch is written once it holds this much text, so memory stays bounded however many runs come."""


def approx_size(t: Trajectory) -> int:
    """Characters of text a trajectory carries (a cheap stand-in for its JSON size)."""
    total = len(t.task) + len(t.final_answer or "")
    for msg in t.messages:
        for part in msg.content:
            if isinstance(part, TextPart | ReasoningPart):
                total += len(part.text)
            elif isinstance(part, ToolResultPart):
                total += len(part.output) if isinstance(part.output, str) else len(part.output_text)
            elif isinstance(part, ToolCallPart):
                total += len(part.arguments) if isinstance(part.arguments, str) else 64 * len(part.arguments)
    return total


def _batches(items: Iterable[Trajectory], size: int, max_bytes: int = BATCH_BYTES) -> Iterator[list[Trajectory]]:
    batch: list[Trajectory] = []
    held = 0
    for item in items:
        batch.append(item)
        held += approx_size(item)
        if len(batch) >= size or held >= max_bytes:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def same_content(old: Trajectory, new: Trajectory) -> bool:
    return old.task == new.task and old.final_answer == new.final_answer and old.messages == new.messages


def carry_over(old: Trajectory, new: Trajectory) -> Trajectory:
    """The new import, keeping the old label (when the new has none), tags and skill."""
    update: dict[str, Any] = {"tags": list(dict.fromkeys([*old.tags, *new.tags]))[:32]}
    if new.outcome.status == "unknown" and old.outcome.status != "unknown":
        update["outcome"] = old.outcome
    if new.skill is None and old.skill is not None:
        update["skill"] = old.skill
        update["skill_version"] = old.skill_version
    return new.model_copy(update=update)


def _gains_version(old: Trajectory, new: Trajectory) -> bool:
    """The new copy names the skill version the stored one lacks (`with_skill_versions`): worth replacing."""
    return old.skill_version is None and new.skill_version is not None and old.skill == new.skill


def store_trajectories(store: TraceStore, trajectories: Iterable[Trajectory], batch_size: int = 200) -> StoreCounts:
    """Add, replace or skip each trajectory (see the module docstring).

    Written in batches of `batch_size` runs or `BATCH_BYTES` of text, whichever comes first.
    """
    counts = StoreCounts()
    for batch in _batches(trajectories, batch_size):
        latest: dict[str, Trajectory] = {}
        fresh: list[Trajectory] = []
        for t in batch:  # within a batch the last copy of an id wins
            if t.id is None:
                fresh.append(t)
            else:
                latest[t.id] = t
        replaced: set[str] = set()
        for tid, t in latest.items():
            verdict = _against_stored(store, t)
            if verdict is None:
                fresh.append(t)
            elif verdict == "unchanged":
                counts.unchanged += 1
                counts.ids.append(tid)
            else:
                fresh.append(verdict)
                replaced.add(tid)
        if not fresh:
            continue
        try:
            counts.ids.extend(store.add_many(fresh, batch_size=len(fresh)))
        except Conflict:
            for t in fresh:  # someone else inserted one of these meanwhile: settle them one by one
                counts.ids.append(_add_one(store, t, replaced, counts))
            continue
        counts.replaced += len(replaced)
        counts.added += len(fresh) - len(replaced)
    return counts


def _against_stored(store: TraceStore, new: Trajectory) -> Trajectory | Literal["unchanged"] | None:
    """None when the id is free; 'unchanged'; or the trajectory to store in place of the old (deleted) one."""
    if new.id is None:  # the store gives it a fresh id
        return None
    try:
        old = store.get(new.id)
    except NotFound:
        return None
    if same_content(old, new) and not _gains_version(old, new):
        return "unchanged"
    merged = carry_over(old, new)
    store.delete(new.id)
    return merged


def _add_one(store: TraceStore, t: Trajectory, replaced: set[str], counts: StoreCounts) -> str:
    was_replaced = t.id in replaced
    for _ in range(3):
        try:
            ident = store.add(t)
        except Conflict:
            if t.id is None:  # only a run with its own id can collide with a stored one
                raise
            verdict = _against_stored(store, t)
            if verdict == "unchanged":
                counts.unchanged += 1
                return t.id
            if verdict is not None:
                t, was_replaced = verdict, True
            continue
        if was_replaced:
            counts.replaced += 1
        else:
            counts.added += 1
        return ident
    raise Conflict(f"trajectory {t.id!r} kept changing while it was being imported")


def store_imported(
    workspace: Workspace, runs: Iterable[Trajectory], versioned: Counter[str] | None = None
) -> StoreCounts:
    """Imported runs into the store: each with the skill version its SKILL.md text names (`with_skill_versions`,
    counted in `versioned`), stored idempotently (`store_trajectories`), then the skill files each used recorded
    as its reads (`record_skill_files`, counted in the result's `skill_reads`)."""
    used: list[SkillFilesUsed] = []

    def noting(items: Iterable[Trajectory]) -> Iterator[Trajectory]:
        for t in items:
            note = SkillFilesUsed.of(t)
            if note is not None:
                used.append(note)
            yield t

    counts = store_trajectories(workspace.traces, noting(with_skill_versions(workspace.skills, runs, versioned)))
    counts.skill_reads = record_skill_files(workspace.usage, used)
    return counts


@dataclass(frozen=True)
class SkillFilesUsed:
    """The files of skill folders one run used (`metadata.skill_files_used`): enough to record its reads."""

    trajectory_id: str
    skill: str | None
    skill_version: int | None
    session: str | None
    at: datetime | None
    files: dict[str, list[str]]

    @classmethod
    def of(cls, t: Trajectory) -> SkillFilesUsed | None:
        files = t.metadata.get("skill_files_used")
        if t.id is None or not isinstance(files, dict):
            return None
        named = {
            skill: [p for p in paths if isinstance(p, str) and p]
            for skill, paths in files.items()
            if isinstance(skill, str) and isinstance(paths, list)
        }
        session = t.metadata.get("session_id")
        return cls(t.id, t.skill, t.skill_version, session if isinstance(session, str) else None, t.created_at, named)


def record_skill_files(usage: UsageLog, used: Iterable[SkillFilesUsed]) -> Counter[str]:
    """Record each run's skill files as reads tied to the run, at the run's version of its own skill (other
    skills it loaded: version unknown); returns how many, by skill. Idempotent per run (`record_run_reads`)."""
    recorded: Counter[str] = Counter()
    for note in used:
        for skill, paths in note.files.items():
            version = note.skill_version if skill == note.skill else None
            recorded[skill] += usage.record_run_reads(
                note.trajectory_id, skill, version, paths, session=note.session, at=note.at
            )
    return recorded


def with_skill_versions(
    skills: SkillStore, trajectories: Iterable[Trajectory], found: Counter[str] | None = None
) -> Iterator[Trajectory]:
    """Each run, with `skill_version` set when the SKILL.md text it loaded is a stored version's.

    A client that loads skills from its own folder (Claude Code) logs the body it showed the model,
    not a version; the importer keeps that body's digest (`metadata.skill_text_sha256`). When it loaded
    one body of its skill and that body is a stored version's, the run was made with that version, so
    evolution can tell it from runs of others (`evolve --any-version`). Versions whose SKILL.md
    bodies are the same differ elsewhere (references, scripts): the newest made before the run is
    named, and `metadata.skill_version_from` says what the version rests on. `found` counts the runs
    given a version, by skill.
    """
    known: dict[str, dict[str, list[SkillVersionRef]]] = {}
    for t in trajectories:
        versioned = _versioned(skills, t, known)
        if found is not None and versioned is not t and versioned.skill:
            found[versioned.skill] += 1
        yield versioned


@dataclass(frozen=True)
class SkillVersionRef:
    version: int
    created_at: datetime


def _versioned(skills: SkillStore, t: Trajectory, known: dict[str, dict[str, list[SkillVersionRef]]]) -> Trajectory:
    digests = t.metadata.get("skill_text_sha256")
    if t.skill is None or t.skill_version is not None or not isinstance(digests, dict):
        return t
    loaded = digests.get(t.skill)
    if not isinstance(loaded, list) or len(loaded) != 1 or not isinstance(loaded[0], str):
        return t  # not loaded, or edited while the run went on: more than one version
    if t.skill not in known:
        known[t.skill] = _bodies(skills, t.skill)
    matches = known[t.skill].get(loaded[0], [])
    if t.created_at is not None:
        started = _aware(t.created_at)
        before = [m for m in matches if _aware(m.created_at) <= started]
        matches = before or matches
    if not matches:
        return t
    chosen = max(matches, key=lambda m: m.version)
    how = "its SKILL.md text" if len(matches) == 1 else f"its SKILL.md text, shared by {len(matches)} versions"
    metadata = {**t.metadata, "skill_version_from": f"v{chosen.version}: {how}"}
    return t.model_copy(update={"skill_version": chosen.version, "metadata": metadata})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bodies(skills: SkillStore, name: str) -> dict[str, list[SkillVersionRef]]:
    """The versions of `name` by the digest of their SKILL.md body; {} for a skill the store does not hold."""
    from trace2skill.importers.common import skill_text_digest
    from trace2skill.skills_store.frontmatter import split_frontmatter
    from trace2skill.skills_store.served import version_manifest

    try:
        history = skills.history(name)
    except NotFound:
        return {}
    bodies: dict[str, list[SkillVersionRef]] = {}
    for v in history:
        try:
            body = split_frontmatter(version_manifest(skills, v).skill_md)[1]  # cached by digest, as get_skill reads it
        except InvalidInput:
            continue
        bodies.setdefault(skill_text_digest(body), []).append(SkillVersionRef(v.version, v.created_at))
    return bodies
