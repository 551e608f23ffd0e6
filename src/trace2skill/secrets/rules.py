"""trace2skill's own Python rules: provider key shapes and quoted assignments that need look-arounds.

Each rule has a kind (`openai_key`, `aws_access_key`, `email`, ...) and replaces only the secret itself
with `[REDACTED:<kind>]`, keeping what makes the text readable around it (`Bearer `, `password=`, the
scheme and user of a URL). Rules are anchored on the shapes providers actually issue (prefixes,
lengths, alphabets), so ordinary code, git hashes, sha256 digests, UUIDs, file paths, base64 image
data and package versions are left alone. They run before the gitleaks-format rules (`tomlrules`),
so these kinds name what both would find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CONTEXT_RULES", "DEFAULT_ALLOW", "PII_RULES", "RULES", "SHAPE_RULES", "Rule"]


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

# Order matters: specific provider shapes first.
SHAPE_RULES: tuple[Rule, ...] = (
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
)

CONTEXT_RULES: tuple[Rule, ...] = (
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
)

RULES = SHAPE_RULES + CONTEXT_RULES

# Personal data, not credentials: redacted in runs, but no reason to refuse a skill file.
PII_RULES: tuple[Rule, ...] = (
    _rule("email", r"\b[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.)+[A-Za-z]{2,24}\b", "@"),
)

DEFAULT_ALLOW: tuple[str, ...] = (
    # addresses that are not anyone's: documentation domains, commit trailers, git remotes
    r"(?i)[^@\s]+@(?:[a-z0-9-]+\.)*(?:example\.(?:com|org|net)|test|invalid|localhost)",
    r"(?i)(?:git|noreply|no-reply)@[^\s]+",
    r"(?i)[^@\s]+@users\.noreply\.github\.com",
    # placeholders written where a secret goes, in docs and skill files
    r"(?i)x{4,}|\*{4,}|\.{3,}|<[^<>]*>|(?:your|my)[-_][\w-]*|change[-_]?me|placeholder|redacted",
)
