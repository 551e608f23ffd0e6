"""Strict Agent Skills validation (agentskills.io specification), as errors and warnings.

Parsing is lenient so that real-world skills can be imported and improved; validation is strict so
that what we publish loads in every client. Errors break the specification (a client may refuse
the skill); warnings break its size guidance (progressive disclosure) or point at likely mistakes
such as a link to a file the skill does not hold. The evolve engine feeds `report.as_text()` to an
LLM fix round, so messages say what to change, not only what is wrong.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from trace2skill.errors import InvalidInput
from trace2skill.models import SKILL_NAME_RE, Skill
from trace2skill.skills_store.frontmatter import read_frontmatter
from trace2skill.skills_store.paths import safe_relpath

__all__ = [
    "ALLOWED_FRONTMATTER_KEYS",
    "CLIENT_EXTENSION_KEYS",
    "ValidationReport",
    "format_report",
    "validate_skill",
]

ALLOWED_FRONTMATTER_KEYS = ("name", "description", "license", "allowed-tools", "metadata", "compatibility")
CLIENT_EXTENSION_KEYS = frozenset(
    {"disable-model-invocation", "user-invocable", "argument-hint", "model", "effort", "context", "agent", "hooks"}
)
"""Claude Code extensions: real, but client-specific, so outside the portable format."""

MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
MAX_SKILL_MD_LINES = 500
MAX_SKILL_MD_TOKENS = 5000
MAX_REFERENCE_LINES = 300
RESERVED_METADATA_PREFIX = "io.modelcontextprotocol/"

_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#|//)")


class ValidationReport(BaseModel):
    """The outcome of validating one skill: errors break the spec, warnings its guidance."""

    skill: str
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_text(self, *, rules: bool = False) -> str:
        """The report as plain text, e.g. for an LLM fix round (`rules` appends the rules themselves)."""
        return format_report(self, rules=rules)


_RULES = f"""Agent Skills rules:
- SKILL.md starts with YAML frontmatter between '---' lines; the Markdown body follows.
- name: 1-64 characters of a-z, 0-9 and '-', no leading, trailing or doubled '-', equal to the skill's folder name.
- description: 1-{MAX_DESCRIPTION} characters, no '<' or '>'; says what the skill does and when to use it.
- Allowed frontmatter keys: {", ".join(ALLOWED_FRONTMATTER_KEYS)}. metadata maps strings to strings; \
compatibility is at most {MAX_COMPATIBILITY} characters.
- Keep SKILL.md under {MAX_SKILL_MD_LINES} lines and about {MAX_SKILL_MD_TOKENS} tokens; move detail into \
references/ files (under {MAX_REFERENCE_LINES} lines each) linked from SKILL.md by relative paths."""


def format_report(report: ValidationReport, *, rules: bool = False) -> str:
    """Plain-text form of a report: a summary line, then one line per problem."""

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    lines = [
        f"Agent Skills validation of {report.skill!r}: "
        f"{plural(len(report.errors), 'error')}, {plural(len(report.warnings), 'warning')}."
    ]
    if report.errors:
        lines.append("Errors (must be fixed):")
        lines.extend(f"- {e}" for e in report.errors)
    if report.warnings:
        lines.append("Warnings (should be fixed):")
        lines.extend(f"- {w}" for w in report.warnings)
    if rules:
        lines.append(_RULES)
    return "\n".join(lines)


def _line_count(text: str) -> int:
    return len(text.splitlines())


def _check_name(value: Any, skill: Skill, errors: list[str]) -> None:
    if value is None:
        errors.append("SKILL.md frontmatter has no 'name'; add `name: <folder name>`")
    elif not isinstance(value, str):
        errors.append(f"'name' must be a string, got {type(value).__name__}")
    elif len(value) > 64:
        errors.append(f"'name' is {len(value)} characters; the limit is 64")
    elif not SKILL_NAME_RE.match(value):
        errors.append(
            f"'name' {value!r} must be 1-64 characters of a-z, 0-9 and '-', with no leading, trailing or doubled '-'"
        )
    elif value != skill.name:
        errors.append(f"'name' {value!r} does not match the skill's folder name {skill.name!r}; they must be equal")


def _check_description(value: Any, errors: list[str]) -> None:
    if value is None:
        errors.append("SKILL.md frontmatter has no 'description'; say what the skill does and when to use it")
    elif not isinstance(value, str):
        errors.append(f"'description' must be a string, got {type(value).__name__} (quote it)")
    elif not value.strip():
        errors.append("'description' is empty; say what the skill does and when to use it")
    else:
        if len(value) > MAX_DESCRIPTION:
            errors.append(f"'description' is {len(value):,} characters; the limit is {MAX_DESCRIPTION:,}")
        if "<" in value or ">" in value:
            errors.append("'description' contains '<' or '>'; clients reject angle brackets (XML tags) there")


def _check_optional(data: dict[str, Any], errors: list[str]) -> None:
    if "license" in data and (not isinstance(data["license"], str) or not data["license"].strip()):
        errors.append("'license' must be a non-empty string (a licence name or a bundled file's name)")
    if "allowed-tools" in data:
        tools = data["allowed-tools"]
        if not (isinstance(tools, str) or (isinstance(tools, list) and all(isinstance(t, str) for t in tools))):
            errors.append("'allowed-tools' must be a space-separated string or a list of strings")
    if "compatibility" in data:
        compat = data["compatibility"]
        if not isinstance(compat, str) or not compat.strip():
            errors.append("'compatibility' must be a non-empty string")
        elif len(compat) > MAX_COMPATIBILITY:
            errors.append(f"'compatibility' is {len(compat):,} characters; the limit is {MAX_COMPATIBILITY}")
    if "metadata" in data:
        meta = data["metadata"]
        if not isinstance(meta, dict):
            errors.append(f"'metadata' must be a map of string keys to string values, got {type(meta).__name__}")
        else:
            for key, value in meta.items():
                if not isinstance(key, str):
                    errors.append(f"metadata key {key!r} must be a string")
                elif key.startswith(RESERVED_METADATA_PREFIX):
                    errors.append(f"metadata key {key!r} uses the reserved prefix {RESERVED_METADATA_PREFIX!r}")
                if not isinstance(value, str):
                    errors.append(f"metadata value of {key!r} must be a string, got {type(value).__name__} (quote it)")
    unknown = [k for k in data if k not in ALLOWED_FRONTMATTER_KEYS]
    if unknown:
        extensions = [k for k in unknown if k in CLIENT_EXTENSION_KEYS]
        note = (
            f" ({', '.join(map(repr, extensions))} {'is a' if len(extensions) == 1 else 'are'} client-specific "
            "Claude Code extension(s); keep them out of portable skills)"
            if extensions
            else ""
        )
        errors.append(
            f"unknown frontmatter key(s) {', '.join(map(repr, unknown))}{note}; "
            f"allowed: {', '.join(ALLOWED_FRONTMATTER_KEYS)} (put anything else under 'metadata')"
        )


def _check_links(body: str, skill: Skill, warnings: list[str]) -> None:
    paths = {f.path for f in skill.files}
    folders = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
    seen: set[str] = set()
    for match in _LINK.finditer(body):
        target = match.group(1)
        if _EXTERNAL.match(target):
            continue
        target = target.split("#", 1)[0].split("?", 1)[0]
        if not target or target in seen:
            continue
        seen.add(target)
        try:
            rel = safe_relpath(target)
        except InvalidInput:
            warnings.append(f"SKILL.md links to {target!r}, which is outside the skill; link files inside it")
            continue
        if rel not in paths and rel.rstrip("/") not in folders:
            warnings.append(f"SKILL.md links to {target!r}, which is not in the skill")


def _check_skill_md(skill: Skill, errors: list[str], warnings: list[str]) -> None:
    f = skill.file("SKILL.md")
    if f is None:
        near = [g.path for g in skill.files if g.path.lower() == "skill.md"]
        hint = f" (found {near[0]!r}; rename it to 'SKILL.md')" if near else ""
        errors.append(f"the skill has no SKILL.md{hint}")
        return
    try:
        text = f.data.decode("utf-8")
    except UnicodeDecodeError:
        errors.append("SKILL.md is not UTF-8 text")
        return
    try:
        fm = read_frontmatter(text)
    except InvalidInput as e:
        errors.append(str(e))
        return
    if fm.raw is None:
        errors.append("SKILL.md must start with YAML frontmatter between '---' lines holding 'name' and 'description'")
        return
    if fm.repaired:
        errors.append(
            "SKILL.md frontmatter is valid YAML only after quoting values that contain ': '; "
            "put such values in double quotes"
        )
    _check_name(fm.data.get("name"), skill, errors)
    _check_description(fm.data.get("description"), errors)
    _check_optional(fm.data, errors)
    lines = _line_count(text)
    if lines > MAX_SKILL_MD_LINES:
        warnings.append(
            f"SKILL.md is {lines} lines; keep it under {MAX_SKILL_MD_LINES} and move detail into references/ files"
        )
    tokens = len(fm.body) // 4
    if tokens > MAX_SKILL_MD_TOKENS:
        warnings.append(f"SKILL.md body is about {tokens:,} tokens; keep it under {MAX_SKILL_MD_TOKENS:,}")
    if not fm.body.strip():
        warnings.append("SKILL.md has no body: add the instructions an agent follows when the skill is active")
    _check_links(fm.body, skill, warnings)


def validate_skill(skill: Skill) -> ValidationReport:
    """Check a skill against the Agent Skills specification; never raises for a bad skill."""
    errors: list[str] = []
    warnings: list[str] = []
    if not SKILL_NAME_RE.match(skill.name or ""):
        errors.append(
            f"skill name {skill.name[:80]!r} must be 1-64 characters of a-z, 0-9 and '-', "
            "with no leading, trailing or doubled '-'"
        )
    for f in skill.files:
        try:
            rel = safe_relpath(f.path)
        except InvalidInput as e:
            errors.append(str(e))
            continue
        if rel != f.path:
            errors.append(f"file path {f.path!r} is not in normal form; use {rel!r}")
    _check_skill_md(skill, errors, warnings)
    for f in skill.files:
        if f.path.startswith("references/") and f.path.endswith((".md", ".markdown", ".txt")) and f.is_text:
            lines = _line_count(f.text)
            if lines > MAX_REFERENCE_LINES:
                warnings.append(
                    f"{f.path} is {lines} lines; keep references under {MAX_REFERENCE_LINES} "
                    "or split them, with a table of contents at the top"
                )
    return ValidationReport(skill=skill.name, errors=errors, warnings=warnings)
