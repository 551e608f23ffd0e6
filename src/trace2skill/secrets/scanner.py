"""One scanner over every rule: find secrets in a text and replace each by `[REDACTED:<kind>]`.

Specific before generic, in five stages: trace2skill's provider key shapes (`rules.py`); gitleaks'
provider rules (`tomlrules.py`, on RE2); trace2skill's context rules in Python (bearer and basic
`Authorization`, passwords in URLs, quoted and `NAME_PASSWORD=` assignments); its context rules in
gitleaks' format (unquoted assignments, headers, command-line flags; `context.toml`), then gitleaks'
generic rules; and last personal data (e-mail addresses). Each stage sees the text the one before
left, so a secret is named by the most specific rule that finds it and never counted twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from trace2skill.errors import InvalidInput
from trace2skill.secrets.rules import CONTEXT_RULES, DEFAULT_ALLOW, PII_RULES, SHAPE_RULES, Rule
from trace2skill.secrets.tomlrules import TomlRules, default_stages

__all__ = ["PII_KINDS", "REDACTED", "SecretScanner", "default_scanner", "scan_text"]

REDACTED = "[REDACTED:{kind}]"
PII_KINDS = frozenset(r.kind for r in PII_RULES)
"""Kinds that are personal data rather than credentials."""


class SecretScanner:
    """Compiled rules for one configuration: extra patterns (kind -> regex), allow-list regexes, kinds to skip.

    A finding is kept when its match or its secret fully matches an allow-list regex. Bad extra
    patterns or allow entries raise InvalidInput.
    """

    def __init__(
        self,
        patterns: Mapping[str, str] | None = None,
        allow: Sequence[str] = (),
        disable: Collection[str] = (),
        *,
        default_allow: bool = True,
    ) -> None:
        disabled = frozenset(disable)
        self.disabled = disabled
        rules = [r for r in SHAPE_RULES if r.kind not in disabled]
        for kind, pattern in (patterns or {}).items():
            if not re.fullmatch(r"[a-z0-9_]{1,40}", kind):
                raise InvalidInput(f"redaction pattern kind {kind!r} must be 1-40 chars of a-z, 0-9 and '_'")
            try:
                rules.insert(0, Rule(kind, re.compile(pattern)))
            except re.error as e:
                raise InvalidInput(f"redaction pattern {kind!r} is not a valid regex: {e}") from None
        self.rules = _Stage(rules)
        self.context_rules = _Stage(r for r in CONTEXT_RULES if r.kind not in disabled)
        self.pii_rules = _Stage(r for r in PII_RULES if r.kind not in disabled)
        allow = list(DEFAULT_ALLOW if default_allow else ()) + list(allow)
        try:
            self.allow = tuple(re.compile(a) for a in allow)
        except re.error as e:
            raise InvalidInput(f"redaction allow-list entry is not a valid regex: {e}") from None

    def redact(self, value: str, counts: Counter[str], *, path: str | None = None) -> str:
        """`value` with each secret replaced by `[REDACTED:<kind>]`; adds what it replaced to `counts`.

        `path` (a file's name) lets the rules that apply to some files only run.
        """
        if len(value) < 8:
            return value
        providers, generic = default_stages()
        text = _Text(value)
        self._python(self.rules, text, counts)
        self._toml(providers, text, counts, path)
        self._python(self.context_rules, text, counts)
        self._toml(generic, text, counts, path)
        self._python(self.pii_rules, text, counts)
        return text.value

    def scan(self, value: str, *, path: str | None = None) -> Counter[str]:
        """How many secrets of each kind `value` holds."""
        counts: Counter[str] = Counter()
        self.redact(value, counts, path=path)
        return counts

    def _toml(self, rules: TomlRules, text: _Text, counts: Counter[str], path: str | None) -> None:
        data = text.value.encode("utf-8", "surrogatepass")
        redacted = rules.redact(data, counts, self._keep, self.disabled, path)
        if redacted is not data:
            text.change(_decode(redacted))

    def _keep(self, whole: bytes, secret: bytes) -> bool:
        texts = (_decode(whole), _decode(secret))
        return any(a.fullmatch(t) for a in self.allow for t in texts)

    def _python(self, stage: _Stage, text: _Text, counts: Counter[str]) -> None:
        checked: str | None = None
        some_trigger = True
        for rule in stage.rules:
            if rule.triggers:
                if checked is not text.value:  # the stage's triggers looked for at once, again after each change
                    checked, some_trigger = text.value, stage.any_trigger(text)
                if not some_trigger:
                    continue
                within = text.lowered if rule.lower_triggers else text.value
                if not any(t in within for t in rule.triggers):
                    continue
            text.change(rule.pattern.sub(self._replacer(rule, counts), text.value))

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


class _Stage:
    """Rules that run in order, with one regex per case that finds any of their triggers.

    Most texts hold no trigger at all: one search then rules out every rule that has triggers, where
    checking each rule's own would cost a substring test per trigger per rule. When the search finds
    one, each rule still checks its own triggers, so what runs is exactly what per-rule checks run."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._exact = _any_of(t for r in self.rules if not r.lower_triggers for t in r.triggers)
        self._lower = _any_of(t for r in self.rules if r.lower_triggers for t in r.triggers)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def any_trigger(self, text: _Text) -> bool:
        return bool(
            (self._exact is not None and self._exact.search(text.value))
            or (self._lower is not None and self._lower.search(text.lowered))
        )


def _any_of(triggers: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted(set(triggers))
    return re.compile("|".join(map(re.escape, unique))) if unique else None


class _Text:
    """The string being redacted, with its lower-case form computed once per change (stages share it)."""

    __slots__ = ("_lowered", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        self._lowered: str | None = None

    @property
    def lowered(self) -> str:
        if self._lowered is None:
            self._lowered = self.value.lower()
        return self._lowered

    def change(self, value: str) -> None:
        if value is not self.value and value != self.value:
            self.value = value
            self._lowered = None


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:  # only if a rule cut inside a character, which RE2 on UTF-8 does not do
        return data.decode("utf-8", "replace")


_DEFAULT: SecretScanner | None = None


def default_scanner() -> SecretScanner:
    """The scanner with the built-in rules and allow-list, compiled once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SecretScanner()
    return _DEFAULT


def scan_text(text: str, *, path: str | None = None, scanner: SecretScanner | None = None) -> Counter[str]:
    """How many secrets of each kind `text` holds (personal data included: see `PII_KINDS`)."""
    return (scanner or default_scanner()).scan(text, path=path)
