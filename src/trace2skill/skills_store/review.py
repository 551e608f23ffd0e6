"""Whether a new skill version may go live without a person: what it adds that an agent could run.

A skill is instructions an agent follows and files it may execute, and an evolved version is written
by a model that read recorded runs, which anyone can shape (a web page, a tool's output, a file).
So a version goes live on its own only when it changes nothing but text in SKILL.md and
`references/`, and that text adds no command that fetches or runs code from outside, sends data
away, reveals secrets or the environment, or turns safety off. Everything else is held for a
person's review, with one line per reason naming the file and line.

Pure: two versions (or one text) in, reasons out. Only added lines count, so a command a person
already put in the skill is not held again. The rules are deliberately broad: a false alarm costs a
review; a miss can cost a machine.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from trace2skill.errors import InvalidInput
from trace2skill.models import Skill, SkillFile
from trace2skill.skills_store.frontmatter import read_frontmatter

__all__ = ["Finding", "find_risks", "known_packages", "review_changes", "review_text"]

_SNIPPET = 100
_SHELL = (
    r"(?:sudo\s+)?(?:(?:ba|z|k|da|fi|c|tc)?sh|python[0-9.]*|perl|ruby|node|php|iex|invoke-expression|pwsh|powershell)"
)
_FETCHERS = r"curl|wget|iwr|irm|invoke-webrequest|invoke-restmethod"
_FETCH = rf"(?:{_FETCHERS})"
_URL = r"(?:https?|ftp)://"
_BINARY = r"\.(?:exe|msi|bin|dmg|pkg|deb|rpm|appimage|jar|sh|bat|cmd|ps1|so|dll|elf|run|scr)\b"


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    what: str


def _rule(pattern: str, what: str, flags: int = re.IGNORECASE) -> _Rule:
    return _Rule(re.compile(pattern, flags), what)


_RULES: tuple[_Rule, ...] = (
    _rule(rf"\b{_FETCH}\b[^\n]*\|\s*{_SHELL}\b", "pipes a download into a shell"),
    _rule(rf"\|\s*{_SHELL}(?:\s+-)?\s*(?:$|[;&|)`'\"])", "pipes text into a shell or interpreter"),
    _rule(r"\b(?:(?:ba|z|k)?sh|source|\.)\s+<\(", "runs a script from process substitution"),
    _rule(r"\beval\s*[(\"'$`]|\bexec\s*\(", "evaluates generated code (eval/exec)"),
    _rule(r"\bbase64\b[^\n]*(?:\s-d\b|--decode|\s-D\b)|\bfrombase64string\b", "decodes hidden (base64) content"),
    _rule(
        r"\bnpm\s+(?:i|install|add|exec|x)\b|\bnpx\b|\b(?:pnpm|yarn)\s+(?:dlx|add)\b|\bbunx\b|\bbun\s+(?:add|x)\b",
        "installs or runs a package from the npm registry",
    ),
    _rule(r"\bchmod\b[^\n]*(?:\+[rw]*x|\s0?[0-7]{3}\b)", "makes a file executable"),
    _rule(
        r"\b(?:powershell|pwsh)(?:\.exe)?\b[^\n]*\s-(?:e|ec|enc|encodedcommand)\b", "runs an encoded PowerShell command"
    ),
    _rule(rf"\b(?:{_FETCHERS}|certutil|bitsadmin)\b[^\n]*{_URL}[^\s'\"`)]*{_BINARY}", "downloads an executable"),
    _rule(
        rf"\bwget\b[^\n]*{_URL}|\bcurl\b[^\n]*\s(?:-[a-z]*o\b|--output\b|--remote-name\b)|-outfile\b|"
        r"\bcertutil\b[^\n]*-urlcache",
        "downloads a file from outside",
    ),
    _rule(r"\bgit\s+clone\b", "fetches code from outside (git clone)"),
    _rule(r"\b(?:ba|z|k|da)?sh\s+(?:/|~)|(?:&&|;|\|\|)\s*(?:/|~/|\./)[\w./-]+", "runs a file from outside the skill"),
    _rule(
        r"\bcurl\b[^\n]*\s(?:-d|--data(?:-\w+)?|-F|--form|-T|--upload-file)\s|\b(?:requests|httpx)\.(?:post|put)\(",
        "sends data to another machine",
        0,  # curl's -d/-F/-T send data; -D/-f/-t do not
    ),
    _rule(r"/dev/tcp/|\bnc\b[^\n]*\s-e\s|\bncat\b[^\n]*--exec", "opens a raw connection to another machine"),
    _rule(
        r"\b(?:send|upload|post|transmit|exfiltrate|forward|e-?mail|leak|copy|report)\b[^\n]{0,80}?\b(?:to|into)\s+"
        r"(?:https?://|[\w.+-]+@[\w-]+\.\w+|(?:an?\s+|the\s+|this\s+|our\s+|my\s+)?(?:remote|external|webhook|"
        r"server|endpoint|url|address|paste\w*|discord|telegram|slack|gist)\b)",
        "tells the agent to send data somewhere",
    ),
    _rule(
        r"\bprintenv\b|^\s*(?:\$\s*)?(?:env|set|export\s+-p)\s*$|\bos\.environ\b|\bprocess\.env\b|\$env:|"
        r"\b(?:get-childitem|gci|dir|ls)\s+env:",
        "reads the environment variables",
    ),
    _rule(
        r"\b(?:print|show|reveal|output|display|echo|dump|list|share|include|leak|tell|send|paste|post|expose|"
        r"disclose|write\s+out)\b[^\n.]{0,60}\b(?:environment(?:\s+variables?)?|env(?:ironment)?\s+var(?:iable)?s?|"
        r"api[\s_-]?keys?|secrets?|(?:access|auth|api|bearer)\s+tokens?|passwords?|credentials?|"
        r"(?:private|ssh)\s+keys?|system\s+prompt)\b",
        "tells the agent to reveal secrets or its environment",
    ),
    _rule(
        r"~/\.ssh\b|\bid_(?:rsa|ed25519|ecdsa)\b|\.aws/credentials|\.netrc\b|/etc/shadow\b|"
        r"\bcat\s+[^\n]*\.env\b",
        "reads credential files",
    ),
    _rule(
        r"\bignore\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|above|earlier|your|system)\s+"
        r"(?:instructions|rules|guidelines|prompts?)",
        "tries to override the agent's instructions",
    ),
    _rule(
        r"\b(?:disable|turn\s+off|switch\s+off|bypass|circumvent|deactivate|override|skip)\b[^\n.]{0,40}"
        r"\b(?:safety|sandbox(?:ing)?|security|guardrails?|permission\s+(?:checks?|prompts?)|confirmations?|"
        r"approvals?|antivirus|firewall|content\s+filters?)\b|--dangerously\S*|--no-sandbox\b|--yolo\b",
        "tells the agent to disable safety checks",
    ),
    _rule(
        r"\bwithout\s+(?:asking|telling|informing|notifying)\s+(?:the\s+)?user\b|"
        r"\bdo\s*n[o']t\s+(?:tell|inform|mention\s+(?:this\s+)?to)\s+the\s+user\b",
        "tells the agent to hide what it does from the user",
    ),
)

_PIP = re.compile(
    r"\b(?:pip[0-9.]*|uv\s+pip|python[0-9.]*\s+-m\s+pip|pipx|uv\s+tool|poetry|conda|mamba)\s+(?:install|add)\b"
    r"([^\n;&|`]*)",
    re.IGNORECASE,
)
_PIP_FROM_OUTSIDE = re.compile(
    r"://|\bgit\+|\.whl\b|\.tar\.gz\b|\.zip\b|--(?:extra-)?index-url\b|\s-i\s|--find-links\b"
)
_PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Finding:
    """One risky line: its number in the text (1-based), what it does, and the line itself (shortened)."""

    line: int
    what: str
    text: str

    def reason(self, where: str, *, numbered: bool = True) -> str:
        at = f"{where}:{self.line}" if numbered else where
        return f'{at}: {self.what}: "{self.text}"'


def _packages(args: str) -> list[str]:
    names = []
    for word in args.split():
        if word.startswith("-"):
            continue
        m = _PACKAGE.match(word.strip("'\""))
        if m:
            names.append(m.group().lower().replace("_", "-"))
    return names


def known_packages(skill: Skill | None) -> frozenset[str]:
    """Packages a version already installs (`pip install NAME` in any text file): installing them again is no news."""
    found: set[str] = set()
    for f in skill.files if skill is not None else ():
        if f.is_text:
            for m in _PIP.finditer(f.text):
                found.update(_packages(m.group(1)))
    return frozenset(found)


def _pip_findings(line: str, known: frozenset[str]) -> list[str]:
    out = []
    for m in _PIP.finditer(line):
        args = m.group(1)
        if _PIP_FROM_OUTSIDE.search(args):
            out.append("installs a package from a URL, a file or another index")
            continue
        unknown = [p for p in _packages(args) if p not in known]
        if unknown:
            out.append(f"installs a package the skill did not use before ({', '.join(unknown[:4])})")
    return out


def _snippet(line: str) -> str:
    flat = " ".join(line.split())
    return flat if len(flat) <= _SNIPPET else flat[: _SNIPPET - 1] + "…"


def find_risks(text: str, *, lines: Iterable[int] | None = None, known: frozenset[str] = frozenset()) -> list[Finding]:
    """The risky lines of `text` (all of them, or only the 1-based numbers in `lines`), one Finding per line."""
    all_lines = text.splitlines()
    wanted = range(1, len(all_lines) + 1) if lines is None else sorted(set(lines))
    findings = []
    for n in wanted:
        line = all_lines[n - 1]
        whats = [r.what for r in _RULES if r.pattern.search(line)] + _pip_findings(line, known)
        if whats:
            findings.append(Finding(n, "; ".join(dict.fromkeys(whats)), _snippet(line)))
    return findings


def review_text(text: str, where: str, *, known: frozenset[str] = frozenset()) -> list[str]:
    """Reasons to hold a piece of text (a lesson, an edit's content) for review; `where` names it."""
    return [f.reason(where, numbered=False) for f in find_risks(text, known=known)]


def _added_lines(old: SkillFile | None, new: SkillFile) -> list[int]:
    """1-based numbers of the lines of `new` that `old` does not have at that place."""
    after = new.text.splitlines()
    if old is None or not old.is_text:
        return list(range(1, len(after) + 1))
    matcher = difflib.SequenceMatcher(None, old.text.splitlines(), after, autojunk=False)
    return [j + 1 for tag, _, _, j1, j2 in matcher.get_opcodes() if tag in ("replace", "insert") for j in range(j1, j2)]


def _allowed_tools(skill: Skill | None) -> object:
    f = skill.file("SKILL.md") if skill is not None else None
    if f is None or not f.is_text:
        return None
    try:
        return read_frontmatter(f.text).data.get("allowed-tools")
    except InvalidInput:
        return None


def _place(path: str) -> str | None:
    """Why a changed file at `path` needs a person whatever it holds; None for SKILL.md and references/."""
    if path == "SKILL.md" or path.startswith("references/"):
        return None
    if path.startswith("scripts/"):
        return "under scripts/ (code the agent may run)"
    if path.startswith("assets/"):
        return "under assets/ (files the agent may load or run)"
    return "outside SKILL.md and references/"


def _file_reasons(path: str, old: SkillFile | None, new: SkillFile | None) -> list[str]:
    verb = "new file" if old is None else "removed file" if new is None else "changed file"
    reasons = []
    place = _place(path)
    if place is not None:
        reasons.append(f"{path}: {verb} {place}")
    if new is not None and not new.is_text:
        reasons.append(f"{path}: {verb} is binary (not text a person can read in the diff)")
    if new is not None and new.executable and (old is None or not old.executable or old.data != new.data):
        what = "new executable file" if old is None else "made executable" if not old.executable else "executable"
        reasons.append(f"{path}: {what} (content the agent may run directly)")
    return reasons


def _pointers(path: str, text: str, added: list[int], held_files: list[str]) -> list[str]:
    """Added lines that send the agent to a file this version adds or changes outside SKILL.md and references/."""
    lines = text.splitlines()
    out = []
    for n in added:
        named = [p for p in held_files if p != path and p in lines[n - 1]]
        if named:
            out.append(f'{path}:{n}: points the agent at {", ".join(named)}, held above: "{_snippet(lines[n - 1])}"')
    return out


def review_changes(old: Skill | None, new: Skill) -> list[str]:
    """Why `new` should not go live without a person, compared with `old`; empty when it may.

    A version may go live on its own only when every changed file is text in SKILL.md or
    `references/` and no added line matches a risky rule. An added line that names a file held for
    its place (a new script) is a reason of its own, and so is a change of the frontmatter's
    `allowed-tools` (what the agent may run without asking).
    """
    before = {f.path: f for f in old.files} if old is not None else {}
    after = {f.path: f for f in new.files}
    known = known_packages(old)
    changed = [
        p
        for p in sorted(before.keys() | after.keys())
        if not (p in before and p in after and before[p].data == after[p].data)
        or before[p].executable != after[p].executable
    ]
    held_files = [p for p in changed if p in after and _place(p) is not None]
    reasons: list[str] = []
    for path in changed:
        a, b = before.get(path), after.get(path)
        reasons += _file_reasons(path, a, b)
        if b is not None and b.is_text:
            added = _added_lines(a, b)
            reasons += [f.reason(path) for f in find_risks(b.text, lines=added, known=known)]
            reasons += _pointers(path, b.text, added, held_files)
    if _allowed_tools(old) != _allowed_tools(new):
        reasons.append("SKILL.md: changes allowed-tools in the frontmatter (what the agent may run without asking)")
    return list(dict.fromkeys(reasons))
