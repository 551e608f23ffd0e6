"""From files to validated, redacted trajectories: detect, read, redact, fit to limits, validate.

Importers never write to the store; the caller (the CLI, a hook, a script) hands the trajectories of
`import_paths` to `TraceStore.add_many`. Everything is a generator, one file at a time, so memory
stays bounded by the largest single trajectory.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from trace2skill.errors import InvalidInput
from trace2skill.importers import anthropic_messages, atif, claude_code, native, openai_chat, openai_responses, otel
from trace2skill.importers.common import (
    RECORD_DEPTH,
    SHAPE_ERRORS,
    Draft,
    ImportOptions,
    RecordError,
    first_text,
    shape_error,
    stable_id,
)
from trace2skill.importers.detect import FORMATS, UnsupportedFormat, detect_format
from trace2skill.importers.limits import fit_to_limits
from trace2skill.importers.redact import RedactionConfig, Redactor, redact_dict, redact_trajectory
from trace2skill.models import SKILL_NAME_RE, Trajectory, describe_validation_error, json_too_deep

__all__ = [
    "ALIASES",
    "READERS",
    "ImportItem",
    "ImportSummary",
    "expand_paths",
    "import_file",
    "import_paths",
    "normalize_format",
]

Reader = Callable[[Path, ImportOptions | None], Iterator[Draft | RecordError]]

READERS: dict[str, Reader] = {
    "claude-code": claude_code.read,
    "openai-chat": openai_chat.read,
    "openai-responses": openai_responses.read,
    "anthropic-messages": anthropic_messages.read,
    "otel": otel.read,
    "atif": atif.read,
}
ALIASES = {
    "claude": "claude-code",
    "claude_code": "claude-code",
    "claudecode": "claude-code",
    "openai": "openai-chat",
    "chat": "openai-chat",
    "openai_chat": "openai-chat",
    "chat-completions": "openai-chat",
    "tau-bench": "openai-chat",
    "mini-swe-agent": "openai-chat",
    "responses": "openai-responses",
    "openai_responses": "openai-responses",
    "codex": "openai-responses",
    "anthropic": "anthropic-messages",
    "anthropic_messages": "anthropic-messages",
    "messages": "anthropic-messages",
    "otel-genai": "otel",
    "opentelemetry": "otel",
    "openinference": "otel",
    "harbor": "atif",
    "jsonl": native.FORMAT,
    "trace2skill-jsonl": native.FORMAT,
    "native": native.FORMAT,
    "export": native.FORMAT,
}
_SUFFIXES = (".jsonl", ".json", ".traj")
MAX_KEPT_ERRORS = 1000
_VOLATILE_METADATA = frozenset({"file", "redactions", "truncated", "skill_text_sha256", "skill_files_used"})
"""Left out of a content id: where the file lies, what import did to it, and facts added after ids were first given."""


def normalize_format(name: str) -> str:
    """The canonical format name, or 'auto'; InvalidInput naming the choices otherwise."""
    key = name.strip().lower()
    if key == "auto" or key in READERS or key == native.FORMAT:
        return key
    if key in ALIASES:
        return ALIASES[key]
    raise InvalidInput(f"unknown format {name!r}; choose auto or one of: {', '.join(FORMATS)}")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given, folders walked recursively for .jsonl/.json/.traj files (sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES))
        elif path.is_file():
            out.append(path)
        else:
            raise InvalidInput(f"{path}: no such file or folder")
    return out


@dataclass
class ImportItem:
    """One outcome of importing: a trajectory, or an error for one record (or a whole file)."""

    source: str
    format: str | None
    trajectory: Trajectory | None = None
    error: str | None = None
    redactions: int = 0
    truncations: int = 0
    unsupported: bool = False


@dataclass
class ImportSummary:
    """Counts for the end-of-import report."""

    files: int = 0
    imported: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    errors_total: int = 0
    unsupported: list[tuple[str, str]] = field(default_factory=list)
    redactions: Counter[str] = field(default_factory=Counter)
    truncations: int = 0
    formats: Counter[str] = field(default_factory=Counter)

    def add(self, item: ImportItem) -> None:
        if item.unsupported:
            self.unsupported.append((item.source, item.error or "unsupported"))
        elif item.error:
            self.errors_total += 1
            if len(self.errors) < MAX_KEPT_ERRORS:  # a file of a million bad lines must not fill memory
                self.errors.append((item.source, item.error))
        elif item.trajectory is not None:
            self.imported += 1
            self.truncations += item.truncations
            if item.format:
                self.formats[item.format] += 1
            counts = item.trajectory.metadata.get("redactions")
            if isinstance(counts, dict) and item.redactions:  # a re-imported export carries its old counts
                self.redactions.update({k: v for k, v in counts.items() if isinstance(v, int)})

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "imported": self.imported,
            "formats": dict(self.formats),
            "errors": [{"source": s, "error": e} for s, e in self.errors],
            "errors_total": self.errors_total,
            "unsupported": [{"source": s, "error": e} for s, e in self.unsupported],
            "redactions": dict(sorted(self.redactions.items())),
            "truncated_fields": self.truncations,
        }


def import_paths(
    paths: Iterable[str | Path],
    format: str = "auto",
    *,
    skill: str | None = None,
    outcome: str | None = None,
    tags: Iterable[str] = (),
    redact: bool = True,
    redaction: RedactionConfig | Redactor | None = None,
    on_file: Callable[[Path], None] | None = None,
) -> Iterator[ImportItem]:
    """Import every file under `paths`; one ImportItem per trajectory or per bad record/file."""
    fmt = normalize_format(format)
    if skill is not None and not SKILL_NAME_RE.match(skill):
        raise InvalidInput(f"skill name {skill!r} is not a valid Agent Skills name")
    redactor = (redaction if isinstance(redaction, Redactor) else Redactor(redaction)) if redact else None
    tag_list = list(tags)
    for path in expand_paths(paths):
        if on_file:
            on_file(path)
        yield from import_file(path, fmt, skill=skill, outcome=outcome, tags=tag_list, redactor=redactor)


def import_file(
    path: Path,
    format: str = "auto",
    *,
    skill: str | None = None,
    outcome: str | None = None,
    tags: Iterable[str] = (),
    redactor: Redactor | None = None,
) -> Iterator[ImportItem]:
    """Import one file; an unsupported file is one ImportItem with `unsupported=True`."""
    fmt = normalize_format(format)
    if fmt == "auto":
        try:
            fmt = detect_format(path)
        except UnsupportedFormat as e:
            message = str(e).removeprefix(f"{path}: ")
            yield ImportItem(source=str(path), format=None, error=message, unsupported=True)
            return
        except RecursionError:
            yield ImportItem(source=str(path), format=None, error=f"nested deeper than {RECORD_DEPTH} levels")
            return
    if fmt == native.FORMAT:
        yield from _native_items(path, skill=skill, outcome=outcome, tags=list(tags), redactor=redactor)
        return
    options = ImportOptions(skill=skill, redactor=redactor)
    tag_list = list(tags)
    try:
        for result in READERS[fmt](path, options):
            if isinstance(result, RecordError):
                yield ImportItem(source=result.source, format=fmt, error=result.message)
                continue
            yield finish(result, skill=skill, outcome=outcome, tags=tag_list, redactor=redactor)
    except RecursionError:  # a JSON document nested too deep for Python's parser: the rest of it is lost
        yield ImportItem(
            source=str(path), format=fmt, error=f"nested deeper than {RECORD_DEPTH} levels; nothing more read"
        )
    except SHAPE_ERRORS as e:  # a shape no per-record guard caught: the file stops here, what came before stays
        yield ImportItem(source=str(path), format=fmt, error=shape_error(str(path), e).message + "; nothing more read")


def _native_items(
    path: Path, *, skill: str | None, outcome: str | None, tags: list[str], redactor: Redactor | None
) -> Iterator[ImportItem]:
    """Our own trajectories: validated as they are (id and time kept), then the options and redaction applied."""
    for result in native.read(path):
        if isinstance(result, RecordError):
            yield ImportItem(source=result.source, format=native.FORMAT, error=result.message)
            continue
        source, trajectory = result
        update: dict[str, Any] = {}
        if trajectory.id is None:  # as for other formats: the same record, the same id, so a re-import updates
            content = json.dumps([trajectory.task, trajectory.model_dump(mode="json")["messages"]], sort_keys=True)
            update["id"] = stable_id(native.FORMAT, hashlib.sha256(content.encode("utf-8")).hexdigest()[:32])
        if skill and skill != trajectory.skill:
            update.update(skill=skill, skill_version=None)
        if outcome:
            update["outcome"] = {"status": outcome, "judged_by": "human"}
        if tags:
            update["tags"] = list(dict.fromkeys([*trajectory.tags, *tags]))
        if update:
            try:
                trajectory = Trajectory.model_validate({**trajectory.model_dump(), **update})
            except ValidationError as e:
                yield ImportItem(source=source, format=native.FORMAT, error=describe_validation_error(e))
                continue
        redactions = 0
        if redactor is not None:
            trajectory, redactions = redact_trajectory(trajectory, redactor)
        yield ImportItem(source=source, format=native.FORMAT, trajectory=trajectory, redactions=redactions)


def finish(
    draft: Draft,
    *,
    skill: str | None = None,
    outcome: str | None = None,
    tags: Iterable[str] = (),
    redactor: Redactor | None = None,
) -> ImportItem:
    """Options applied, task filled in, secrets redacted, limits fitted, model validated."""
    if skill:
        draft.skill = skill
    if outcome:
        draft.outcome = {"status": outcome, "judged_by": "human"}
    draft.tags = list(dict.fromkeys([*draft.tags, *tags]))
    if not (draft.task or "").strip():
        draft.task = first_text(draft.messages, "user")
    if not (draft.task or "").strip():
        reply = first_text(draft.messages, "assistant")
        draft.metadata["task_missing"] = True
        draft.task = f"[no user request recorded in this {draft.format} log]" + (
            f" The agent's first reply: {reply[:2000]}" if reply else ""
        )
    data = draft.as_dict()
    if json_too_deep(data, RECORD_DEPTH):  # before redaction and hashing, which recurse
        return ImportItem(source=draft.source, format=draft.format, error=f"nested deeper than {RECORD_DEPTH} levels")
    if redactor is not None:
        data, _ = redact_dict(data, redactor)
    fit_to_limits(data)
    if not data.get("id"):
        # Same source record, same id: re-importing it updates instead of duplicating. Options given
        # at import time (outcome, tags, skill) and where the file lies are left out of the hash.
        facts = {k: v for k, v in data["metadata"].items() if k not in _VOLATILE_METADATA}
        digest = hashlib.sha256(
            json.dumps([data["task"], data["messages"], facts], sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()
        data["id"] = stable_id(draft.format, digest[:32])
    truncated = data["metadata"].get("truncated", {})
    try:
        trajectory = Trajectory.model_validate(data)
    except ValidationError as e:
        return ImportItem(source=draft.source, format=draft.format, error=describe_validation_error(e))
    counts = trajectory.metadata.get("redactions") or {}
    return ImportItem(
        source=draft.source,
        format=draft.format,
        trajectory=trajectory,
        redactions=sum(v for v in counts.values() if isinstance(v, int)),
        truncations=int(truncated.get("count", 0)) if isinstance(truncated, dict) else 0,
    )
