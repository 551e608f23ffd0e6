"""Which files of a skill must not be stored or published: secrets files by name, text files holding secrets.

A skill is shared: it is published to a folder clients read, exported to `~/.claude/skills`, shown to
the models that evolve it. So an environment file, a private key or a key store is refused whatever
it holds, and any other text file is refused when the scanner finds a credential in it (personal
data such as an e-mail address is not a reason). Templates (`.env.example`, `.env.sample` ...) pass
by name and are scanned like any text file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from trace2skill.secrets.scanner import PII_KINDS, SecretScanner, default_scanner

__all__ = ["SecretFile", "describe_secret_files", "find_secret_files"]

_TEMPLATE = r"example|sample|template|dist|defaults?|schema"
_NAMED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\.env(?:\.(?!(?:{_TEMPLATE})$)[\w.-]+)?", re.IGNORECASE), "an environment file"),
    (re.compile(r"id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?"), "an SSH private key"),
    (re.compile(r".+\.(?:p12|pfx|jks|keystore|ppk|kdbx)", re.IGNORECASE), "a key store"),
    (re.compile(r".+\.key", re.IGNORECASE), "a private key file"),
    (re.compile(r"\.netrc|_netrc|\.pgpass|\.git-credentials|\.htpasswd"), "a credentials file"),
)


@dataclass(frozen=True)
class SecretFile:
    """A file that carries a secret, and why we think so."""

    path: str
    reason: str


def find_secret_files(files: Iterable[tuple[str, bytes]], scanner: SecretScanner | None = None) -> list[SecretFile]:
    """The files (relative path, content) that are secrets files or hold a credential, in the order given."""
    scanner = scanner or default_scanner()
    found = []
    for path, data in files:
        name = path.rsplit("/", 1)[-1]
        reason = next((why for pattern, why in _NAMED if pattern.fullmatch(name)), None)
        if reason is None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue  # binary: images, archives; no text rule applies
            kinds = sorted(k for k in scanner.scan(text, path=path) if k not in PII_KINDS)
            if kinds:
                reason = "holds " + ", ".join(kinds)
        if reason is not None:
            found.append(SecretFile(path, reason))
    return found


def describe_secret_files(found: list[SecretFile], limit: int = 5) -> str:
    """`a/.env (an environment file), b.md (holds openai_key)`: the first `limit`, then how many more."""
    shown = ", ".join(f"{f.path} ({f.reason})" for f in found[:limit])
    more = len(found) - limit
    return shown + (f" and {more} more" if more > 0 else "")
