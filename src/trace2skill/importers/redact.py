"""Secret and PII redaction at ingest, before anything is stored or shown to a model.

The rules and the scanner live in `trace2skill.secrets` (shared with the skill store): trace2skill's
provider and assignment rules, its context rules for names, headers and command-line flags, and
gitleaks' rule set. Each finding is replaced by `[REDACTED:<kind>]`, keeping what makes the text
readable around it (`Bearer `, `password=`, the scheme and user of a URL). This module walks a run:

`redact_trajectory` is a pure function (no store, no I/O): the importers call it and so does
`Workspace.record`. It reaches every text field, and artifacts sent as base64 whose bytes are UTF-8
text (an attached `.env`) are decoded, redacted and encoded again. The counts go to
`metadata["redactions"]` as a dict `kind -> count`, added to any counts already there, so redacting
twice is harmless (the second pass finds nothing).

Users extend it with a `redaction.yaml` in the home folder (see `RedactionConfig.load`):
extra patterns by kind, an allow-list of regexes for values that must survive, and kinds to turn off.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trace2skill.errors import InvalidInput
from trace2skill.models import Trajectory
from trace2skill.secrets import DEFAULT_ALLOW, RULES, Rule, SecretScanner

__all__ = [
    "DEFAULT_ALLOW",
    "RULES",
    "RedactionConfig",
    "Redactor",
    "Rule",
    "redact_text",
    "redact_trajectory",
    "redact_value",
]


@dataclass
class RedactionConfig:
    """Extra patterns (kind -> regex), allow-list regexes (a match fully inside one is kept), kinds to skip."""

    patterns: dict[str, str] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    default_allow: bool = True

    @classmethod
    def load(cls, path: Path) -> RedactionConfig:
        """Read a `redaction.yaml` ({patterns: {kind: regex}, allow: [regex], disable: [kind]}); absent: defaults.

        Every mistake is an InvalidInput naming the file and the entry (a wrong type, a regex that
        does not compile, an unknown key), so a bad file stops an import before anything is stored."""
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise InvalidInput(f"{path}: not valid YAML{where} ({e.__class__.__name__}); fix it or remove it") from None
        except (OSError, UnicodeDecodeError, RecursionError) as e:
            raise InvalidInput(f"{path}: cannot read it ({type(e).__name__}: {e}); fix it or remove it") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path}: expected a mapping with patterns/allow/disable")
        unknown = {str(k) for k in data} - {"patterns", "allow", "disable", "default_allow"}
        if unknown:
            raise InvalidInput(f"{path}: unknown keys {sorted(unknown)} (expected patterns, allow, disable)")
        patterns = data.get("patterns") or {}
        if not isinstance(patterns, dict) or not all(isinstance(v, str) for v in patterns.values()):
            raise InvalidInput(f"{path}: patterns is a mapping of kind: regex, e.g. patterns: {{ticket: 'TKT-[0-9]+'}}")
        for key in ("allow", "disable"):
            value = data.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
                raise InvalidInput(f"{path}: {key} is a list of {'regexes' if key == 'allow' else 'kinds'}")
        if not isinstance(data.get("default_allow", True), bool):
            raise InvalidInput(f"{path}: default_allow is true or false")
        config = cls(
            patterns={str(k): v for k, v in patterns.items()},
            allow=[str(v) for v in data.get("allow") or []],
            disable=[str(v) for v in data.get("disable") or []],
            default_allow=data.get("default_allow", True),
        )
        for kind in config.patterns:
            if not re.fullmatch(r"[a-z0-9_]{1,40}", kind):
                raise InvalidInput(f"{path}: pattern kind {kind[:60]!r} must be 1-40 characters of a-z, 0-9 and '_'")
        for where, regex in [
            *((f"patterns.{k}", v) for k, v in config.patterns.items()),
            *(("allow", a) for a in config.allow),
        ]:
            try:
                re.compile(regex)
            except (re.error, RecursionError, OverflowError) as e:
                raise InvalidInput(f"{path}: {where} is not a valid regex ({e}); fix it or remove it") from None
        return config


class Redactor(SecretScanner):
    """The scanner for one `RedactionConfig`; `text()` redacts a string and counts by kind."""

    def __init__(self, config: RedactionConfig | None = None) -> None:
        config = config or RedactionConfig()
        super().__init__(config.patterns, config.allow, config.disable, default_allow=config.default_allow)
        self.source = _fingerprint(config)

    def text(self, value: str, counts: Counter[str]) -> str:
        return self.redact(value, counts)


_DEFAULT: Redactor | None = None


def _redactor(config: RedactionConfig | Redactor | None) -> Redactor:
    """The compiled redactor for a config, compiled once per config object (and once for the defaults)."""
    global _DEFAULT
    if isinstance(config, Redactor):
        return config
    if config is None:
        if _DEFAULT is None:
            _DEFAULT = Redactor()
        return _DEFAULT
    compiled = config.__dict__.get("_compiled")
    if not isinstance(compiled, Redactor) or compiled.source != _fingerprint(config):
        compiled = Redactor(config)
        config.__dict__["_compiled"] = compiled
    return compiled


def _fingerprint(config: RedactionConfig) -> tuple[Any, ...]:
    return (tuple(sorted(config.patterns.items())), tuple(config.allow), tuple(config.disable), config.default_allow)


def redact_text(text: str, config: RedactionConfig | Redactor | None = None) -> tuple[str, Counter[str]]:
    """Redact one string; returns the new text and the counts by kind."""
    counts: Counter[str] = Counter()
    return _redactor(config).text(text, counts), counts


# Keys whose string values are identifiers or structure, never free text: left untouched.
_STRUCTURAL_KEYS = frozenset(
    {
        "id",
        "tool_call_id",
        "name",
        "role",
        "type",
        "skill",
        "encoding",
        "media_type",
        "timestamp",
        "created_at",
        "status",
        "judged_by",
    }
)


def redact_value(value: Any, config: RedactionConfig | Redactor | None = None) -> tuple[Any, Counter[str]]:
    """Redact every string inside a JSON-like value (dict keys and structural fields are kept)."""
    redactor = _redactor(config)
    counts: Counter[str] = Counter()
    return _walk(value, redactor, counts, None), counts


def _walk(value: Any, redactor: Redactor, counts: Counter[str], key: str | None) -> Any:
    if isinstance(value, str):
        return value if key in _STRUCTURAL_KEYS else redactor.text(value, counts)
    if isinstance(value, dict):
        if value.get("encoding") == "base64":  # artifact bytes: redacted only when they are text
            return {
                k: (_walk_base64(v, redactor, counts) if k == "content" else _walk(v, redactor, counts, k))
                for k, v in value.items()
            }
        return {k: _walk(v, redactor, counts, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, redactor, counts, None) for v in value]
    return value


def _walk_base64(value: Any, redactor: Redactor, counts: Counter[str]) -> Any:
    """Base64 content: decoded, and when it is UTF-8 text, redacted and encoded again; other bytes kept."""
    if not isinstance(value, str) or not value:
        return value
    try:
        text = base64.b64decode(value, validate=False).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64, or not UTF-8 text (an image, an archive)
        return value
    if "\x00" in text:
        return value
    redacted = redactor.text(text, counts)
    return value if redacted == text else base64.b64encode(redacted.encode("utf-8")).decode("ascii")


def merge_counts(metadata: dict[str, Any], counts: Counter[str]) -> None:
    """Add `counts` to `metadata["redactions"]` (kind -> count), keeping earlier counts."""
    if not counts:
        return
    existing = metadata.get("redactions")
    merged: Counter[str] = Counter(existing) if isinstance(existing, dict) else Counter()
    merged.update(counts)
    metadata["redactions"] = dict(sorted(merged.items()))


def redact_dict(data: dict[str, Any], config: RedactionConfig | Redactor | None = None) -> tuple[dict[str, Any], int]:
    """Redact a trajectory in its JSON form; the counts are merged into its metadata."""
    redacted, counts = redact_value(data, config)
    metadata = redacted.setdefault("metadata", {})
    if isinstance(metadata, dict):
        merge_counts(metadata, counts)
    return redacted, sum(counts.values())


def redact_trajectory(t: Trajectory, config: RedactionConfig | Redactor | None = None) -> tuple[Trajectory, int]:
    """A copy of `t` with secrets replaced, and the number replaced (also added to metadata["redactions"]).

    Walks every text field: task, message parts (text, reasoning, tool-call argument values, tool
    outputs), final answer, feedback, reference, artifacts (base64 ones when their bytes are UTF-8
    text), tags and metadata string values.
    """
    data = t.model_dump(mode="python", exclude_none=False)
    redacted, total = redact_dict(data, config)
    if total == 0:
        return t, 0
    try:
        return Trajectory.model_validate(redacted), total
    except ValidationError:
        # A short secret replaced by a longer marker pushed a field over its limit: cut it, visibly.
        from trace2skill.importers.limits import fit_to_limits

        return Trajectory.model_validate(fit_to_limits(redacted)), total
