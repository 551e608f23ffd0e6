"""The types every other module speaks.

The trajectory JSON is a public contract (agents write it by hand through `record_trajectory` and
`trace2skill record`), so its models accept exactly the documented form: `content` is a string or
a list of typed parts, only `task` and `messages` are required, and every unbounded field has a
limit that is enforced with a clear message rather than by silent truncation.

This module imports nothing else from the project but `errors`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticSerializationError, to_json

from trace2skill.errors import InvalidInput

__all__ = [
    "CALL_LOG_FIELDS",
    "EDIT_OPS",
    "LIMITS",
    "SKILL_NAME_RE",
    "Artifact",
    "Edit",
    "EvolutionConfig",
    "EvolutionReport",
    "InvalidTrajectory",
    "Limits",
    "Message",
    "Outcome",
    "Part",
    "Patch",
    "PriceNumber",
    "PublishMode",
    "ReasoningPart",
    "Skill",
    "SkillFile",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
    "Trajectory",
    "describe_validation_error",
    "json_too_deep",
    "parse_trajectory",
    "utcnow",
    "without_lone_surrogates",
]


class Limits(BaseModel):
    """Bounds on every unbounded field of the public contracts."""

    model_config = ConfigDict(frozen=True)

    trajectory_bytes: int = 8 * 1024 * 1024
    task_chars: int = 20_000
    messages: int = 2_000
    parts_per_message: int = 500
    text_chars: int = 200_000
    tool_name_chars: int = 200
    tool_id_chars: int = 200
    json_value_bytes: int = 1024 * 1024
    json_depth: int = 64
    """Nesting of one free-form JSON value (tool arguments and outputs, reference, metadata)."""
    final_answer_chars: int = 100_000
    feedback_chars: int = 20_000
    tags: int = 32
    tag_chars: int = 64
    metadata_bytes: int = 64 * 1024
    artifacts: int = 50
    artifact_bytes: int = 1024 * 1024
    skill_file_bytes: int = 2 * 1024 * 1024
    skill_files: int = 512
    skill_bytes: int = 16 * 1024 * 1024
    edit_content_chars: int = 100_000
    edits_per_patch: int = 200


LIMITS = Limits()

SKILL_NAME_RE = re.compile(r"^(?!-)(?!.*--)[a-z0-9-]{1,64}(?<!-)$")
"""Agent Skills name rule: 1-64 chars of [a-z0-9-], no leading, trailing or doubled hyphen."""

CALL_LOG_FIELDS = (
    "run_id",
    "purpose",
    "provider",
    "model",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost_usd",
    "latency_s",
    "outcome",
    "error",
    "request_hash",
    "created_at",
)
"""The keys of one LLM call record: what the `llm` layer logs and the trace store keeps."""

EDIT_OPS = (
    "insert_after",
    "insert_before",
    "append_to_section",
    "replace_in_section",
    "add_section",
    "delete_section",
    "create",
    "delete_file",
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON. pydantic-core's encoder: several times faster than `json`,
    which matters because every stored trajectory is re-validated when it is read back."""
    try:
        return len(to_json(value, fallback=str))
    except (PydanticSerializationError, ValueError, TypeError):
        return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))


def json_too_deep(value: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit` inside `value` (a scalar is depth 0).

    Iterative, so a value nested ten thousand deep is measured, not a RecursionError: every
    recursive walker downstream (serialisers, redaction, the store's encoder) is safe below it."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))
    return False


_DOCUMENT_DEPTH = LIMITS.json_depth + 8
"""A whole trajectory: its own structure (messages, parts, outcome...) nests a few levels above its values."""
_TOO_DEEP = (
    f"the JSON nests deeper than {LIMITS.json_depth} levels of lists and objects inside a value; flatten "
    "deeply nested tool arguments, outputs or metadata"
)


_SURROGATES = re.compile(rb"\\u[dD][89abcdefABCDEF]|\xed[\xa0-\xbf]")
"""A surrogate in JSON text: as a `\\uD800` escape, or as the bytes `surrogatepass` writes for one."""


def without_lone_surrogates(value: Any) -> Any:
    """`value` with every unpaired UTF-16 surrogate in its strings and keys replaced by U+FFFD.

    JSON may escape one (`"\\ud800"`, e.g. an emoji cut in half by a truncated tool output), but no
    UTF-8 text, and so no store, can hold it. Called only on values already checked for depth. A value
    that serialises to JSON holds none (the serialiser refuses one), and is returned as it is."""
    try:
        to_json(value)
    except Exception:  # a surrogate, or anything else the serialiser cannot decide: the walk does
        return _replace_lone_surrogates(value)
    return value


def _replace_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_replace_lone_surrogates(k): _replace_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace_lone_surrogates(v) for v in value]
    return value


def _bounded_json(value: Any, limit: int, what: str) -> Any:
    if json_too_deep(value, LIMITS.json_depth):
        raise ValueError(f"{what} nests deeper than {LIMITS.json_depth} levels of lists and objects; flatten it")
    size = _json_size(value)
    if size > limit:
        raise ValueError(f"{what} is {size:,} bytes as JSON; the limit is {limit:,}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


# --- trajectory -------------------------------------------------------------------------------


class TextPart(_Strict):
    type: Literal["text"] = "text"
    text: str = Field(max_length=LIMITS.text_chars)


class ReasoningPart(_Strict):
    type: Literal["reasoning"] = "reasoning"
    text: str = Field(max_length=LIMITS.text_chars)


class ToolCallPart(_Strict):
    type: Literal["tool_call"] = "tool_call"
    id: str | None = Field(default=None, max_length=LIMITS.tool_id_chars)
    name: str = Field(min_length=1, max_length=LIMITS.tool_name_chars)
    arguments: dict[str, Any] | str = Field(
        default_factory=dict,
        description="Parsed JSON arguments, or the raw string when the agent emitted invalid JSON.",
    )

    @field_validator("arguments")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return _bounded_json(value, LIMITS.json_value_bytes, "tool_call.arguments")


class ToolResultPart(_Strict):
    type: Literal["tool_result"] = "tool_result"
    tool_call_id: str | None = Field(default=None, max_length=LIMITS.tool_id_chars)
    name: str | None = Field(default=None, max_length=LIMITS.tool_name_chars)
    output: Any = ""
    is_error: bool = False

    @field_validator("output")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        return _bounded_json(value, LIMITS.json_value_bytes, "tool_result.output")

    @property
    def output_text(self) -> str:
        if isinstance(self.output, str):
            return self.output
        return json.dumps(self.output, ensure_ascii=False)


Part = Annotated[TextPart | ReasoningPart | ToolCallPart | ToolResultPart, Field(discriminator="type")]


class Message(_Strict):
    role: Literal["system", "user", "assistant", "tool"]
    content: list[Part] = Field(default_factory=list, max_length=LIMITS.parts_per_message)
    timestamp: datetime | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _string_is_one_text_part(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [{"type": "text", "text": value}]
        if value is None:
            return []
        return value

    @property
    def text(self) -> str:
        """The message's visible text, parts joined by newlines."""
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))

    def parts_of(self, kind: type) -> list[Any]:
        return [p for p in self.content if isinstance(p, kind)]


OutcomeStatus = Literal["success", "failure", "partial", "unknown"]
PublishMode = Literal["auto", "review", "never"]


class Outcome(_Strict):
    status: OutcomeStatus = "unknown"
    score: float | None = None
    feedback: str | None = Field(default=None, max_length=LIMITS.feedback_chars)
    judged_by: str | None = Field(
        default=None,
        max_length=200,
        description="Who decided the outcome: 'agent', 'human', 'evaluator:<name>', 'model:<id>'.",
    )

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("score must be a finite number")
        return value


class Artifact(_Strict):
    """A file the run produced or used, kept for the error analyst."""

    name: str = Field(min_length=1, max_length=500)
    content: str = Field(default="", description="Text content, or base64 when encoding is 'base64'.")
    encoding: Literal["text", "base64"] = "text"
    media_type: str | None = Field(default=None, max_length=200)

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: str) -> str:
        size = len(value.encode("utf-8"))
        if size > LIMITS.artifact_bytes:
            raise ValueError(f"artifact is {size:,} bytes; the limit is {LIMITS.artifact_bytes:,}")
        return value


class Trajectory(_Strict):
    """One agent run: what it was asked, what it did, and how it went."""

    id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    task: str = Field(min_length=1, max_length=LIMITS.task_chars)
    messages: list[Message] = Field(max_length=LIMITS.messages)
    outcome: Outcome = Field(default_factory=Outcome)
    final_answer: str | None = Field(default=None, max_length=LIMITS.final_answer_chars)
    reference: Any = Field(
        default=None, description="Ground truth; never shown to analysts except through an evaluator."
    )
    artifacts: list[Artifact] = Field(default_factory=list, max_length=LIMITS.artifacts)
    skill: str | None = None
    skill_version: int | None = Field(default=None, ge=1)
    tags: list[Annotated[str, Field(min_length=1, max_length=LIMITS.tag_chars)]] = Field(
        default_factory=list, max_length=LIMITS.tags
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _status_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"status": value}
        return value

    @field_validator("skill")
    @classmethod
    def _skill_name(cls, value: str | None) -> str | None:
        if value is not None and not SKILL_NAME_RE.match(value):
            raise ValueError(
                f"skill name {value[:80]!r} is not a valid Agent Skills name "
                "(1-64 chars of a-z, 0-9 and '-', no leading, trailing or doubled '-')"
            )
        return value

    @field_validator("reference")
    @classmethod
    def _reference_bounded(cls, value: Any) -> Any:
        return _bounded_json(value, LIMITS.json_value_bytes, "reference")

    @field_validator("metadata")
    @classmethod
    def _metadata_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _bounded_json(value, LIMITS.metadata_bytes, "metadata")

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @property
    def tool_calls(self) -> list[ToolCallPart]:
        return [p for m in self.messages for p in m.content if isinstance(p, ToolCallPart)]

    @property
    def tool_results(self) -> list[ToolResultPart]:
        return [p for m in self.messages for p in m.content if isinstance(p, ToolResultPart)]


class InvalidTrajectory(InvalidInput):
    """A trajectory payload that does not fit the public contract; the message says where and why."""


def _loc_part(part: Any) -> str:
    """A location step as typed: a key with line breaks, control characters or great length is quoted and cut."""
    text = str(part)
    return text if text.isprintable() and len(text) <= 60 else repr(text[:60])


def describe_validation_error(error: ValidationError, limit: int = 5) -> str:
    """One readable line per problem, `location: message`, at most `limit` of them."""
    lines = []
    for item in error.errors()[:limit]:
        loc = ".".join(_loc_part(p) for p in item["loc"]) or "(root)"
        lines.append(f"{loc}: {' '.join(str(item['msg']).split())}")
    more = len(error.errors()) - limit
    if more > 0:
        lines.append(f"... and {more} more")
    return "; ".join(lines)


_TRAJECTORY = TypeAdapter(Trajectory)


def parse_trajectory(raw: str | bytes | dict[str, Any]) -> Trajectory:
    """Parse a trajectory from JSON text or a decoded object, with a size check first.

    Raises InvalidTrajectory with a precise, single-line message.
    """
    if isinstance(raw, str | bytes):
        size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
        if size > LIMITS.trajectory_bytes:
            raise InvalidTrajectory(
                f"trajectory is {size:,} bytes; the limit is {LIMITS.trajectory_bytes:,} "
                "(trim tool outputs or attach large files as artifacts elsewhere)"
            )
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidTrajectory(f"not valid JSON: {e}") from None
        except RecursionError:
            raise InvalidTrajectory(_TOO_DEEP) from None
        if json_too_deep(data, _DOCUMENT_DEPTH):
            raise InvalidTrajectory(_TOO_DEEP)
        if _SURROGATES.search(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")):
            data = without_lone_surrogates(data)
    else:
        data = raw
        if json_too_deep(raw, _DOCUMENT_DEPTH):  # before measuring: the encoders recurse
            raise InvalidTrajectory(_TOO_DEEP)
        try:
            size = len(to_json(data))
        except PydanticSerializationError:  # a lone surrogate, or a value JSON has no form for
            data = without_lone_surrogates(data)
            size = _json_size(data)
        if size > LIMITS.trajectory_bytes:
            raise InvalidTrajectory(f"trajectory is {size:,} bytes; the limit is {LIMITS.trajectory_bytes:,}")
    if not isinstance(data, dict):
        raise InvalidTrajectory(f"a trajectory is a JSON object, got {type(data).__name__}")
    try:
        return _TRAJECTORY.validate_python(data)
    except ValidationError as e:
        raise InvalidTrajectory(describe_validation_error(e)) from None


# --- skills -------------------------------------------------------------------------------------


class SkillFile(BaseModel):
    """One file of a skill directory, by its path relative to the skill root (POSIX separators)."""

    model_config = ConfigDict(frozen=True)

    path: str
    data: bytes
    executable: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")

    @property
    def is_text(self) -> bool:
        try:
            self.data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in self.data


class Skill(BaseModel):
    """A skill's full content: SKILL.md plus references/, scripts/ and assets/ files."""

    model_config = ConfigDict(frozen=True)

    name: str
    files: tuple[SkillFile, ...]

    def file(self, path: str) -> SkillFile | None:
        for f in self.files:
            if f.path == path:
                return f
        return None

    @property
    def skill_md(self) -> str:
        f = self.file("SKILL.md")
        return f.text if f else ""

    @property
    def digest(self) -> str:
        """Content digest over sorted (path, sha256, executable): what clients cache on."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            h.update(f"{f.path}\0{f.sha256}\0{int(f.executable)}\n".encode())
        return h.hexdigest()

    def with_files(self, files: dict[str, bytes | None]) -> Skill:
        """A copy with some files replaced, added, or removed (value None)."""
        current = {f.path: f for f in self.files}
        for path, data in files.items():
            if data is None:
                current.pop(path, None)
            else:
                old = current.get(path)
                current[path] = SkillFile(path=path, data=data, executable=bool(old and old.executable))
        return Skill(name=self.name, files=tuple(sorted(current.values(), key=lambda f: f.path)))


# --- edits and patches --------------------------------------------------------------------------

EditOp = Literal[
    "insert_after",
    "insert_before",
    "append_to_section",
    "replace_in_section",
    "add_section",
    "delete_section",
    "create",
    "delete_file",
]


class Edit(BaseModel):
    """One operation on one file of a skill.

    Anchors by op: `insert_after`/`insert_before` use `target_text` (optionally within
    `target_section`; with only `target_section`, `insert_after` appends to that section and
    `insert_before` goes before its heading); `append_to_section`, `delete_section` use
    `target_section`; `replace_in_section` uses `old_text` (optionally within `target_section`;
    with no section it may also match inside SKILL.md's frontmatter, how validation fixes edit
    `name:`/`description:`); `add_section` uses `after_section` (absent: append at the end);
    `create` and `delete_file` use only `file`. Headings match tolerantly (#'s, case, spacing);
    text anchors must occur exactly once in scope. Exact semantics: `trace2skill.evolve.apply`.
    """

    model_config = ConfigDict(extra="ignore")

    file: str = Field(min_length=1, max_length=300)
    op: EditOp
    target_section: str | None = Field(default=None, max_length=500)
    target_text: str | None = Field(default=None, max_length=LIMITS.edit_content_chars)
    old_text: str | None = Field(default=None, max_length=LIMITS.edit_content_chars)
    after_section: str | None = Field(default=None, max_length=500)
    content: str | None = Field(default=None, max_length=LIMITS.edit_content_chars)
    id: str | None = Field(default=None, description="Assigned by code, e.g. 'p12.e3'.")
    sources: list[str] = Field(default_factory=list, description="Ids of the input edits a merged edit came from.")
    support: list[str] = Field(
        default_factory=list, description="Trajectory ids supporting this edit, computed by code."
    )


class Patch(BaseModel):
    """A list of edits plus why, changelog lines, and the trajectories it came from."""

    model_config = ConfigDict(extra="ignore")

    edits: list[Edit] = Field(default_factory=list, max_length=LIMITS.edits_per_patch)
    reasoning: str = ""
    changelog: list[str] = Field(default_factory=list)
    support: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _accept_changelog_entries(cls, data: Any) -> Any:
        if isinstance(data, dict) and "changelog_entries" in data and "changelog" not in data:
            data = {**data, "changelog": data["changelog_entries"]}
        return data


# --- evolution ----------------------------------------------------------------------------------


PriceNumber = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""USD per million tokens: finite and not negative."""


class EvolutionConfig(BaseModel):
    """What an evolution run does; recorded with the run so it can be resumed and audited."""

    skill: str
    mode: Literal["deepen", "create"] = "deepen"
    analysts: Literal["error", "success", "combined"] = "combined"
    fan_in: int = Field(default=5, ge=2, le=64)
    workers: int = Field(default=16, ge=1, le=1024)
    model: str | None = None
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    outcome: list[OutcomeStatus] | None = None
    tags: list[str] = Field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    balance: bool = True
    budget_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    budget_tokens: int | None = Field(default=None, ge=0)
    price: tuple[PriceNumber, PriceNumber] | None = Field(
        default=None,
        description="USD per million input and output tokens of the run's models, over the price table "
        "(needed for a dollar budget on a model the table does not price).",
    )
    max_analyst_turns: int = Field(default=20, ge=1, le=200)
    require_confirmed_fix: bool = True
    task_description: str | None = None
    evaluator: str | None = Field(
        default=None, description="Evaluator for trajectories with a reference and no `metadata.evaluator`."
    )
    strategy: Literal["parallel", "sequential"] = Field(
        default="parallel", description="'sequential' is the baseline: update the skill after every batch."
    )
    batch_size: int = Field(default=1, ge=1, le=1024, description="Trajectories per update (sequential only).")
    trajectory_ids: list[str] | None = Field(
        default=None,
        max_length=100_000,
        description="Learn from exactly these runs (outcome and limit still apply; skill, tags and dates do not).",
    )
    publish: PublishMode = Field(
        default="auto",
        description="auto: publish only text changes to SKILL.md and references/ with nothing risky in them (else "
        "hold the version for review); review: hold every version for a person; never: record it only. "
        "True and False mean auto and never.",
    )
    base_version: int | None = Field(
        default=None,
        ge=1,
        description="Deepen this version (e.g. an unpublished draft) instead of the published one.",
    )
    any_version: bool = Field(
        default=False, description="Learn from runs of any version of the skill, not only the base version's."
    )
    replace_existing: bool = Field(
        default=False,
        description="Create mode on a skill that already exists: replace it with the new draft (its versions stay "
        "in the history). Without it, such a run is refused.",
    )
    analyst: Literal["agentic", "single"] = Field(
        default="agentic",
        description="Failures: an agent that checks its fix with the scorer (or the LLM judge), or one call.",
    )
    analyst_model: str | None = Field(default=None, description="Model of the analysts (default: `model`).")
    merge_model: str | None = Field(default=None, description="Model of proposals and merges (default: `model`).")
    temperature: float | None = Field(
        default=None, ge=0, le=2, allow_inf_nan=False, description="Where the provider takes one."
    )

    @field_validator("publish", mode="before")
    @classmethod
    def _publish_flag(cls, value: Any) -> Any:
        return {True: "auto", False: "never"}.get(value, value) if isinstance(value, bool) else value

    @property
    def publish_mode(self) -> PublishMode:
        """`publish`, with a bool set by `model_copy` (which skips validation) read as auto/never."""
        value: PublishMode | bool = self.publish
        if isinstance(value, bool):
            return "auto" if value else "never"
        return value


class EvolutionReport(BaseModel):
    """The end of a run, for people (Markdown) and programs (JSON)."""

    run_id: str
    skill: str
    status: Literal["succeeded", "failed", "interrupted", "no_change", "dry_run", "rejected", "staged"]
    base_version: int | None = None
    new_version: int | None = None
    trajectories: int = 0
    analyses: int = 0
    patches: int = 0
    merge_levels: int = 0
    edits_applied: int = 0
    edits_dropped: list[dict[str, Any]] = Field(default_factory=list)
    changelog: list[str] = Field(default_factory=list)
    provenance: list[dict[str, Any]] = Field(default_factory=list)
    diff: str = ""
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    prices: dict[str, str] = Field(
        default_factory=dict, description="Per model: the price its calls were counted at, and where it came from."
    )
    seconds: float = 0.0
    error: str | None = None
    lessons: int = 0
    resumed: bool = False
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per stage: seconds, calls, tokens, cost, sequential call rounds."
    )
    notes: list[str] = Field(default_factory=list)
    published: bool | None = Field(default=None, description="Whether the new version was published.")
    review: list[str] = Field(
        default_factory=list,
        description="Why the new version is held for a person's review (status 'staged'), one line each.",
    )
    gate: dict[str, Any] | None = Field(default=None, description="The held-out gate's scores and verdict.")
