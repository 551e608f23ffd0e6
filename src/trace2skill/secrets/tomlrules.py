"""Rules in gitleaks' TOML format, matched as gitleaks matches them, with RE2.

Two files use the format: `gitleaks.toml`, gitleaks' default rule set vendored unmodified
(config/gitleaks.toml of github.com/gitleaks/gitleaks at b58d3f10, v8.30.0+27; MIT licence in
`gitleaks.LICENSE`), and `context.toml`, trace2skill's own rules for the shapes that set leaves out
(unquoted assignments, headers, command-line flags). Gitleaks writes its regexes for Go's RE2 syntax,
so they run on google-re2 as written, in linear time whatever the input.

Matching follows gitleaks' detector: a rule runs only on text holding one of its keywords (one RE2
set pass over the text finds them all); the secret is the rule's `secretGroup`, else its first
non-empty group, else the whole match; it must be more random than the rule's `entropy`; and neither
the global allowlist nor the rule's own allowlists (regexes on the secret, the match or the line;
stopwords) may cover it. Rules limited to file paths run only when a path is given.
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import re2

__all__ = ["GENERIC", "TomlRule", "TomlRules", "default_stages", "entropy", "load_rules"]

GENERIC = frozenset({"generic-api-key", "curl-auth-header", "curl-auth-user"})
"""Gitleaks rules that know a secret by the name or flag before it, not by its shape: they run after
trace2skill's own context rules, which name what they find more precisely."""

MARKER = b"[REDACTED:"


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per byte, as gitleaks computes it."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


@dataclass(frozen=True)
class Allowlist:
    """One gitleaks allowlist: regexes (on the secret, the match or the line) and stopwords."""

    regexes: tuple[Any, ...]
    stopwords: Any
    target: str
    all_of: bool
    has_paths: bool

    def allows(self, secret: bytes, match: bytes, line: bytes) -> bool:
        subject = {"match": match, "line": line}.get(self.target, secret)
        by_regex = any(r.search(subject) for r in self.regexes) if self.regexes else None
        by_word = bool(self.stopwords.Match(secret)) if self.stopwords is not None else None
        if self.all_of:  # a path condition cannot hold on text without a path
            checks = [c for c in (by_regex, by_word) if c is not None]
            return bool(checks) and all(checks) and not self.has_paths
        return bool(by_regex or by_word)


@dataclass(frozen=True)
class TomlRule:
    """One rule: its kind (the gitleaks id with '_' for '-'), regex, keywords and checks."""

    id: str
    kind: str
    regex: Any
    keywords: tuple[str, ...]
    entropy: float
    secret_group: int
    allowlists: tuple[Allowlist, ...]
    path: Any = None


def _options(*, case_sensitive: bool = True) -> Any:
    """RE2 options; RE2 falls back from its DFA to its NFA on a huge input, and need not log it on stderr."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = case_sensitive
    return options


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, _options())


def _words(words: Iterable[str]) -> Any:
    options = _options(case_sensitive=False)
    found = re2.Set.SearchSet(options)
    for word in words:
        found.Add(re2.escape(word.lower()))
    found.Compile()
    return found


def _allowlist(data: dict[str, Any]) -> Allowlist:
    stopwords = data.get("stopwords") or []
    return Allowlist(
        regexes=tuple(_compile(r) for r in data.get("regexes") or []),
        stopwords=_words(stopwords) if stopwords else None,
        target=data.get("regexTarget", "secret"),
        all_of=str(data.get("condition", "OR")).upper() == "AND",
        has_paths=bool(data.get("paths") or data.get("commits")),
    )


def _allowlists(data: Any) -> list[Allowlist]:
    if isinstance(data, dict):
        data = [data]
    return [_allowlist(a) for a in data or [] if a.get("regexes") or a.get("stopwords")]


def load_rules(text: str) -> tuple[list[TomlRule], list[Allowlist]]:
    """The content rules and global allowlists of one gitleaks-format TOML document."""
    data = tomllib.loads(text)
    rules = []
    for raw in data.get("rules", []):
        if "regex" not in raw:  # a rule on file names only: `secrets.files` owns that policy
            continue
        rules.append(
            TomlRule(
                id=raw["id"],
                kind=raw["id"].replace("-", "_"),
                regex=_compile(raw["regex"]),
                keywords=tuple(k.lower() for k in raw.get("keywords", [])),
                entropy=float(raw.get("entropy", 0.0)),
                secret_group=int(raw.get("secretGroup", 0)),
                allowlists=tuple(_allowlists(raw.get("allowlists"))),
                path=_compile(raw["path"]) if raw.get("path") else None,
            )
        )
    return rules, _allowlists(data.get("allowlist")) + _allowlists(data.get("allowlists"))


def read_rule_file(name: str) -> tuple[list[TomlRule], list[Allowlist]]:
    """One of the rule files shipped in this package."""
    return load_rules(resources.files("trace2skill.secrets").joinpath(name).read_text(encoding="utf-8"))


class TomlRules:
    """Rules (each with its file's global allowlists), and one keyword set that picks those worth running."""

    def __init__(self, rules: Iterable[tuple[TomlRule, list[Allowlist]]]) -> None:
        self.rules: list[TomlRule] = []
        self.allowlists: list[list[Allowlist]] = []
        for rule, allowlists in rules:
            self.rules.append(rule)
            self.allowlists.append(allowlists)
        keywords = sorted({k for r in self.rules for k in r.keywords})
        self.gate = _words(keywords)
        by_keyword: dict[str, list[int]] = {k: [] for k in keywords}
        for i, rule in enumerate(self.rules):
            for k in rule.keywords:
                by_keyword[k].append(i)
        self._by_keyword = [by_keyword[k] for k in keywords]
        self._always = [i for i, r in enumerate(self.rules) if not r.keywords]

    def redact(
        self,
        data: bytes,
        counts: Counter[str],
        keep: Callable[[bytes, bytes], bool],
        disabled: frozenset[str] = frozenset(),
        path: str | None = None,
    ) -> bytes:
        """`data` (UTF-8) with every secret the rules find replaced by `[REDACTED:<kind>]`.

        `keep(match, secret)` is the caller's allow-list: True keeps a finding as it is.
        """
        hits = self.gate.Match(data)
        if not hits and not self._always:
            return data
        found: list[tuple[int, int, int]] = []  # secret start, end, rule index
        for i in sorted({i for h in hits or () for i in self._by_keyword[h]}.union(self._always)):
            rule = self.rules[i]
            if rule.kind in disabled:
                continue
            if rule.path is not None and (path is None or not rule.path.search(path.encode())):
                continue
            found += ((s, e, i) for s, e in self._secrets(rule, data, keep, self.allowlists[i]))
        return self._replace(data, found, counts) if found else data

    def _secrets(
        self, rule: TomlRule, data: bytes, keep: Callable[[bytes, bytes], bool], global_allow: list[Allowlist]
    ) -> Iterator[tuple[int, int]]:
        """The spans of the secrets one rule finds in `data`, after its entropy and allowlist checks."""
        for m in rule.regex.finditer(data):
            start, end = m.span()
            whole = data[start:end]
            if MARKER in whole:
                continue
            s_start, s_end = _secret_span(m, rule.secret_group)
            secret = data[s_start:s_end]
            s_start += len(secret) - len(secret.lstrip(b"\n"))
            secret = secret.strip(b"\n")
            s_end = s_start + len(secret)
            if not secret or (rule.entropy and entropy(secret) <= rule.entropy):
                continue
            line = data[data.rfind(b"\n", 0, start) + 1 : _line_end(data, end)]
            if any(a.allows(secret, whole, line) for a in (*global_allow, *rule.allowlists)):
                continue
            if not keep(whole, secret):
                yield s_start, s_end

    def _replace(self, data: bytes, found: list[tuple[int, int, int]], counts: Counter[str]) -> bytes:
        """Overlapping findings become one marker, named by the longest of them (the first rule on a tie),
        so nothing survives of a secret that one rule saw only in part."""
        merged: list[list[int]] = []  # start, end, length of the longest finding, its rule
        for start, end, i in sorted(found):
            if merged and start < merged[-1][1]:
                last = merged[-1]
                if end - start > last[2]:
                    last[2], last[3] = end - start, i
                last[1] = max(last[1], end)
            else:
                merged.append([start, end, end - start, i])
        parts: list[bytes] = []
        kept = 0
        for start, end, _, i in merged:
            kind = self.rules[i].kind
            parts += [data[kept:start], f"[REDACTED:{kind}]".encode()]
            counts[kind] += 1
            kept = end
        parts.append(data[kept:])
        return b"".join(parts)


def _secret_span(m: Any, group: int) -> tuple[int, int]:
    if group:
        return m.span(group)
    for g in range(1, m.re.groups + 1):
        start, end = m.span(g)
        if start >= 0 and end > start:
            return start, end
    return m.span()


def _line_end(data: bytes, end: int) -> int:
    stop = data.find(b"\n", end)
    return len(data) if stop < 0 else stop


_STAGES: tuple[TomlRules, TomlRules] | None = None


def default_stages() -> tuple[TomlRules, TomlRules]:
    """Gitleaks' provider rules, then trace2skill's context rules with gitleaks' generic ones after them.

    Compiled once per process, on first use (a fifth of a second).
    """
    global _STAGES
    if _STAGES is None:
        gitleaks, gitleaks_allow = read_rule_file("gitleaks.toml")
        context, context_allow = read_rule_file("context.toml")
        _STAGES = (
            TomlRules((r, gitleaks_allow) for r in gitleaks if r.id not in GENERIC),
            TomlRules(
                [*((r, context_allow) for r in context), *((r, gitleaks_allow) for r in gitleaks if r.id in GENERIC)]
            ),
        )
    return _STAGES
