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
from pydantic_core import PydanticSerializationError, SchemaValidator, to_json

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
    "ReasoningPart",
    "Skill",
    "SkillFile",
    "TextPart",
    "ToolCallPart",
    "ToolResultPart",
    "Trajectory",
    "describe_validation_error",
    "load_trusted_trajectory",
    "parse_trajectory",
    "utcnow",
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


def _bounded_json(value: Any, limit: int, what: str) -> Any:
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


def describe_validation_error(error: ValidationError, limit: int = 5) -> str:
    """One readable line per problem, `location: message`, at most `limit` of them."""
    lines = []
    for item in error.errors()[:limit]:
        loc = ".".join(str(p) for p in item["loc"]) or "(root)"
        lines.append(f"{loc}: {item['msg']}")
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
        size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
        if size > LIMITS.trajectory_bytes:
            raise InvalidTrajectory(
                f"trajectory is {size:,} bytes; the limit is {LIMITS.trajectory_bytes:,} "
                "(trim tool outputs or attach large files as artifacts elsewhere)"
            )
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InvalidTrajectory(f"not valid JSON: {e}") from None
    else:
        data = raw
        size = _json_size(raw)
        if size > LIMITS.trajectory_bytes:
            raise InvalidTrajectory(f"trajectory is {size:,} bytes; the limit is {LIMITS.trajectory_bytes:,}")
    if not isinstance(data, dict):
        raise InvalidTrajectory(f"a trajectory is a JSON object, got {type(data).__name__}")
    try:
        return _TRAJECTORY.validate_python(data)
    except ValidationError as e:
        raise InvalidTrajectory(describe_validation_error(e)) from None


# --- the trusted load path ----------------------------------------------------------------------
#
# Rows the trace store wrote were serialised from a Trajectory that had passed every check above.
# Reading them back need not repeat the Python-level field validators: the size checks, the
# shorthand forms (string `content`, string `outcome`) and tag de-duplication. Those validators cost
# more than their own work: a `mode="before"` validator on `content` makes pydantic-core turn each
# message's parts into Python objects before validating them, which alone is about 30% of a load.
#
# So the trusted validator is compiled from Trajectory's own core schema with the before/after
# function validators unwrapped; pydantic-core's own checks (types, lengths, patterns, literals)
# stay, and it builds the same classes. pydantic-core reuses a complete model's compiled validator
# for every schema node that names the class, which would put the functions back, so the classes
# are marked incomplete while the copy compiles (at import, before any other code can see them),
# as `model_rebuild` does. A probe must come out equal through both validators, or the ordinary
# one is used.

_UNWRAPPED = ("function-before", "function-after")


def _unwrap_functions(node: Any, classes: list[type[BaseModel]]) -> Any:
    if isinstance(node, dict):
        while node.get("type") in _UNWRAPPED and isinstance(node.get("schema"), dict):
            node = node["schema"]
        if node.get("type") == "model" and isinstance(node.get("cls"), type):
            classes.append(node["cls"])
        return {key: value if key == "cls" else _unwrap_functions(value, classes) for key, value in node.items()}
    if isinstance(node, list):
        return [_unwrap_functions(value, classes) for value in node]
    return node


_TRUSTED_PROBE = {
    "id": "t_probe",
    "task": "probe \u00e9",
    "skill": "probe-skill",
    "skill_version": 2,
    "messages": [
        {"role": "system", "content": [{"type": "text", "text": "hi"}], "timestamp": "2026-01-02T03:04:05Z"},
        {
            "role": "assistant",
            "content": [
                {"type": "reasoning", "text": "think"},
                {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"cmd": ["ls", 1, None]}},
                {"type": "tool_call", "id": None, "name": "raw", "arguments": "{not json"},
            ],
        },
        {"role": "tool", "content": [{"type": "tool_result", "tool_call_id": "c1", "output": {"x": 1.5}}]},
    ],
    "outcome": {"status": "partial", "score": 0.5, "feedback": "close", "judged_by": "human"},
    "final_answer": "42",
    "reference": [42],
    "artifacts": [{"name": "a.txt", "content": "aGk=", "encoding": "base64", "media_type": "text/plain"}],
    "tags": ["a", "b"],
    "metadata": {"nested": {"x": None}},
    "created_at": "2026-01-02T03:04:05.123456+00:00",
}


def _compile_trusted() -> SchemaValidator | None:
    classes: list[type[BaseModel]] = []
    schema = _unwrap_functions(Trajectory.__pydantic_core_schema__, classes)
    complete = [(cls, cls.__dict__.get("__pydantic_complete__")) for cls in classes]
    try:
        for cls, _ in complete:
            cls.__pydantic_complete__ = False
        validator = SchemaValidator(schema)  # type: ignore[arg-type]
    except Exception:  # pragma: no cover - a pydantic change; ordinary validation still works
        return None
    finally:
        for cls, state in complete:
            cls.__pydantic_complete__ = bool(state)
    try:
        probe = json.dumps(_TRUSTED_PROBE)
        fast, full = validator.validate_json(probe), Trajectory.model_validate_json(probe)
    except ValidationError:  # pragma: no cover
        return None
    same = type(fast) is Trajectory and fast == full and fast.model_fields_set == full.model_fields_set
    return validator if same else None


_TRUSTED = _compile_trusted()


def load_trusted_trajectory(data: str | bytes) -> Trajectory:
    """A Trajectory from JSON that trace2skill itself serialised from a validated Trajectory (the store's rows).

    It skips the Python-level validators (size limits, shorthand forms, tag de-duplication), so it
    is about 35% cheaper than `Trajectory.model_validate_json`, and for JSON in the stored form gives
    an equal Trajectory. JSON it cannot read that way (a shorthand form, a row edited by hand) falls
    back to full validation; its ValidationError propagates. Never use it for input from outside:
    that goes through `parse_trajectory`, which checks everything.
    """
    if _TRUSTED is not None:
        try:
            return _TRUSTED.validate_json(data)
        except ValidationError:
            pass
    return Trajectory.model_validate_json(data)


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
    budget_usd: float | None = Field(default=None, ge=0)
    budget_tokens: int | None = Field(default=None, ge=0)
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
    publish: bool = Field(default=True, description="Publish the new version; False keeps it in the history only.")
    base_version: int | None = Field(
        default=None,
        ge=1,
        description="Deepen this version (e.g. an unpublished draft) instead of the published one.",
    )
    any_version: bool = Field(
        default=False, description="Learn from runs of any version of the skill, not only the base version's."
    )
    analyst: Literal["agentic", "single"] = Field(
        default="agentic",
        description="Failures: an agent that checks its fix with the scorer (or the LLM judge), or one call.",
    )
    analyst_model: str | None = Field(default=None, description="Model of the analysts (default: `model`).")
    merge_model: str | None = Field(default=None, description="Model of proposals and merges (default: `model`).")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Where the provider takes one.")


class EvolutionReport(BaseModel):
    """The end of a run, for people (Markdown) and programs (JSON)."""

    run_id: str
    skill: str
    status: Literal["succeeded", "failed", "no_change", "dry_run", "rejected"]
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
    seconds: float = 0.0
    error: str | None = None
    lessons: int = 0
    resumed: bool = False
    stages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Per stage: seconds, calls, tokens, cost, sequential call rounds."
    )
    notes: list[str] = Field(default_factory=list)
    published: bool | None = Field(default=None, description="Whether the new version was published.")
    gate: dict[str, Any] | None = Field(default=None, description="The held-out gate's scores and verdict.")
