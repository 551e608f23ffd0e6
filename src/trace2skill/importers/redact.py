"""Secret and PII redaction at ingest, before anything is stored or shown to a model.

Each rule has a kind (`openai_key`, `aws_access_key`, `email`, ...) and replaces only the secret
itself with `[REDACTED:<kind>]`, keeping what makes the text readable around it (`Bearer `,
`password=`, the scheme and user of a URL). Rules are anchored on the shapes providers actually
issue (prefixes, lengths, alphabets), so ordinary code, git hashes, sha256 digests, UUIDs, file
paths, base64 image data and package versions are left alone.

`redact_trajectory` is a pure function (no store, no I/O): the importers call it and so does
`Workspace.record`. The counts go to `metadata["redactions"]` as a dict `kind -> count`, added to
any counts already there, so redacting twice is harmless (the second pass finds nothing).

Users extend it with a `redaction.yaml` in the home folder (see `RedactionConfig.load`):
extra patterns by kind, an allow-list of regexes for values that must survive, and kinds to turn off.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trace2skill.errors import InvalidInput
from trace2skill.models import Trajectory

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

REDACTED = "[REDACTED:{kind}]"


@dataclass(frozen=True)
class Rule:
    """One secret shape. `pattern` may have a group named `secret`: only that part is replaced.

    `triggers` are cheap substrings (checked before the regex runs); a rule with no triggers always runs.
    """

    kind: str
    pattern: re.Pattern[str]
    triggers: tuple[str, ...] = ()
    lower_triggers: bool = False
    left: re.Pattern[str] | None = None
    """When set, a match counts only if the 64 characters before it match `left` at their end. A rule
    can then start at its rare part (`= "`, an upper-case keyword) and check the key name second,
    many times faster than a pattern that starts with a word alternation."""


def _rule(
    kind: str, pattern: str, *triggers: str, flags: int = 0, lower: bool = False, left: str | None = None
) -> Rule:
    return Rule(kind, re.compile(pattern, flags), tuple(triggers), lower, re.compile(left) if left else None)


_SECRET_WORDS = (
    r"pass(?:word|wd|phrase)?|pwd|secret|client[_-]?secret|api[_-]?key|apikey|private[_-]?key|"
    r"(?:access|auth|refresh|id|bearer|api|secret|session)[_-]?token|token[_-]?secret|credentials?"
)

# Order matters: specific provider shapes first, generic assignments last.
RULES: tuple[Rule, ...] = (
    _rule(
        "private_key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY"
        r"(?: BLOCK)?-----|\Z)",
        "PRIVATE KEY",
    ),
    _rule("anthropic_key", r"\bsk-ant-(?:[a-z]+\d*-)?(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{20,}", "sk-ant-"),
    _rule("openrouter_key", r"\bsk-or-v1-[A-Za-z0-9]{32,}", "sk-or-"),
    _rule("langfuse_key", r"\b(?:sk|pk)-lf-[A-Za-z0-9\-]{8,}", "-lf-"),
    _rule("openai_key", r"\bsk-(?:proj-|svcacct-|admin-|None-)?(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{20,}", "sk-"),
    _rule("langsmith_key", r"\blsv2_(?:pt|sk)_[A-Za-z0-9]{20,}(?:_[A-Za-z0-9]{6,})?", "lsv2_"),
    _rule(
        "aws_access_key",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b",
        *("AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA"),
    ),
    _rule(
        "aws_secret_key",
        r"(?i)\baws_?(?:secret_?access_?key|secret_?key|secret)\b[\"']?\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})"
        r"(?![A-Za-z0-9/+=])",
        "aws",
        lower=True,
    ),
    _rule("github_token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b", "gh"),
    _rule("github_token", r"\bgithub_pat_[A-Za-z0-9_]{22,}", "github_pat_"),
    _rule("gitlab_token", r"\bglpat-[A-Za-z0-9_\-]{20,}", "glpat-"),
    _rule("slack_token", r"\bxox[abposre]-[A-Za-z0-9\-]{10,}", "xox"),
    _rule("slack_token", r"\bxapp-\d-[A-Za-z0-9\-]{10,}", "xapp-"),
    _rule(
        "slack_webhook",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
        "hooks.slack",
    ),
    _rule("google_api_key", r"\bAIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])", "AIza"),
    _rule("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", "_live_", "_test_"),
    _rule("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}\b", "hf_"),
    _rule("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", "npm_"),
    _rule("pypi_token", r"\bpypi-AgE[A-Za-z0-9_\-]{50,}", "pypi-"),
    _rule("twilio_key", r"\b(?:AC|SK)[0-9a-f]{32}\b", "AC", "SK"),
    _rule("sendgrid_key", r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b", "SG."),
    _rule("groq_key", r"\bgsk_[A-Za-z0-9]{40,}\b", "gsk_"),
    _rule("replicate_token", r"\br8_[A-Za-z0-9]{37}\b", "r8_"),
    _rule("digitalocean_token", r"\bdo[poa]_v1_[a-f0-9]{64}\b", "_v1_"),
    _rule("shopify_token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", "shp"),
    _rule("databricks_token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b", "dapi"),
    _rule("jwt", r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}", "eyJ"),
    _rule(
        "bearer_token",
        r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]{16,}=*)",
        "bearer",
        lower=True,
    ),
    _rule(
        "basic_auth",
        r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?basic\s+(?P<secret>[A-Za-z0-9+/]{8,}={0,2})",
        "basic",
        lower=True,
    ),
    _rule(
        "url_password",
        r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"'<>]*:(?P<secret>[^\s@/\"'<>]+)@(?=[^\s@])",
        "://",
    ),
    _rule(  # key: "value", key = 'value', "key": "value" for secret-looking key names
        "secret_assignment",
        r"[:=][ \t]*(?P<q>[\"'])(?P<secret>(?![$<{%\[])[^\"'\s]{4,}?)(?P=q)",
        "pass",
        "pwd",
        "secret",
        "key",
        "token",
        "credential",
        lower=True,
        left=r"(?i)(?:\b|_)(?:" + _SECRET_WORDS + r")[\"']?[ \t]*\Z",
    ),
    _rule(  # NAME_PASSWORD=value in .env files and shell commands
        "secret_assignment",
        r"(?:PASSWORD|PASSWD|SECRET|API_?KEY|TOKEN|PRIVATE_KEY|CREDENTIALS?)[A-Z0-9_]*[ \t]*=[ \t]*"
        r"(?P<secret>(?![$<{%\[\"'(`])(?=[^\s\"'#]*[A-Za-z])(?!(?i:true|false|null|none)\b)[^\s\"'#]{6,})(?=\s|$)",
        "PASS",
        "SECRET",
        "KEY",
        "TOKEN",
        "CREDENTIAL",
        left=r"(?:^|[\s;&|])(?:export[ \t]+)?[A-Z0-9_]*\Z",
    ),
    _rule(
        "secret_assignment",
        r"(?i)[?&](?:password|passwd|pwd|secret|api_?key|apikey|access_token|token|auth|sig|signature)="
        r"(?P<secret>[^&\s#\"'<>]{4,})",
        "=",
    ),
    _rule("email", r"\b[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}\b", "@"),
)

DEFAULT_ALLOW: tuple[str, ...] = (
    # addresses that are not anyone's: documentation domains, commit trailers, git remotes
    r"(?i)[^@\s]+@(?:[a-z0-9-]+\.)*(?:example\.(?:com|org|net)|test|invalid|localhost)",
    r"(?i)(?:git|noreply|no-reply)@[^\s]+",
    r"(?i)[^@\s]+@users\.noreply\.github\.com",
)


@dataclass
class RedactionConfig:
    """Extra patterns (kind -> regex), allow-list regexes (a match fully inside one is kept), kinds to skip."""

    patterns: dict[str, str] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)
    default_allow: bool = True

    @classmethod
    def load(cls, path: Path) -> RedactionConfig:
        """Read a `redaction.yaml` ({patterns: {kind: regex}, allow: [regex], disable: [kind]}); absent: defaults."""
        if not path.is_file():
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise InvalidInput(f"{path}: not valid YAML ({e.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path}: expected a mapping with patterns/allow/disable")
        unknown = set(data) - {"patterns", "allow", "disable", "default_allow"}
        if unknown:
            raise InvalidInput(f"{path}: unknown keys {sorted(unknown)} (expected patterns, allow, disable)")
        return cls(
            patterns={str(k): str(v) for k, v in (data.get("patterns") or {}).items()},
            allow=[str(v) for v in data.get("allow") or []],
            disable=[str(v) for v in data.get("disable") or []],
            default_allow=bool(data.get("default_allow", True)),
        )


class Redactor:
    """Compiled rules for one configuration; `text()` redacts a string and counts by kind."""

    def __init__(self, config: RedactionConfig | None = None) -> None:
        config = config or RedactionConfig()
        self.source = _fingerprint(config)
        disabled = set(config.disable)
        rules = [r for r in RULES if r.kind not in disabled]
        for kind, pattern in config.patterns.items():
            if not re.fullmatch(r"[a-z0-9_]{1,40}", kind):
                raise InvalidInput(f"redaction pattern kind {kind!r} must be 1-40 chars of a-z, 0-9 and '_'")
            try:
                rules.insert(0, Rule(kind, re.compile(pattern)))
            except re.error as e:
                raise InvalidInput(f"redaction pattern {kind!r} is not a valid regex: {e}") from None
        self.rules = tuple(rules)
        allow = list(DEFAULT_ALLOW if config.default_allow else ()) + list(config.allow)
        try:
            self.allow = tuple(re.compile(a) for a in allow)
        except re.error as e:
            raise InvalidInput(f"redaction allow-list entry is not a valid regex: {e}") from None

    def text(self, value: str, counts: Counter[str]) -> str:
        if len(value) < 8:
            return value
        lowered: str | None = None
        for rule in self.rules:
            if rule.triggers:
                if rule.lower_triggers:
                    if lowered is None:
                        lowered = value.lower()
                    if not any(t in lowered for t in rule.triggers):
                        continue
                elif not any(t in value for t in rule.triggers):
                    continue
            new = rule.pattern.sub(self._replacer(rule, counts), value)
            if new is not value and new != value:
                value = new
                lowered = None
        return value

    def _replacer(self, rule: Rule, counts: Counter[str]) -> Callable[[re.Match[str]], str]:
        kind = rule.kind

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if "[REDACTED:" in whole or any(a.fullmatch(whole) for a in self.allow):
                return whole
            if rule.left is not None and not rule.left.search(match.string, max(0, match.start() - 64), match.start()):
                return whole
            try:
                start, end = match.span("secret")
            except IndexError:
                start, end = match.span()
            if start < 0:
                start, end = match.span()
            secret = match.string[start:end]
            if any(a.fullmatch(secret) for a in self.allow):
                return whole
            counts[kind] += 1
            offset = match.start()
            return whole[: start - offset] + REDACTED.format(kind=kind) + whole[end - offset :]

        return replace


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
        if value.get("encoding") == "base64":  # artifact bytes: not text, leave alone
            return {k: (v if k == "content" else _walk(v, redactor, counts, k)) for k, v in value.items()}
        return {k: _walk(v, redactor, counts, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, redactor, counts, None) for v in value]
    return value


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
    outputs), final answer, feedback, reference, text artifacts, tags and metadata string values.
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
