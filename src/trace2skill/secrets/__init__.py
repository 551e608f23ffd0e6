"""Finding secrets in text and in skill files: the rules, the scanner, the skill-file policy.

A low-level module shared by the importers (which redact runs before they are stored) and the skill
store (which refuses skill files that carry secrets). It imports nothing of the project but `errors`.

    from trace2skill.secrets import scan_text
    scan_text("export DB_PASSWORD=S3cret-2024")   # Counter({'secret_assignment': 1})
"""

from trace2skill.secrets.files import SecretFile, describe_secret_files, find_secret_files
from trace2skill.secrets.rules import DEFAULT_ALLOW, PII_RULES, RULES, Rule
from trace2skill.secrets.scanner import PII_KINDS, REDACTED, SecretScanner, default_scanner, scan_text

__all__ = [
    "DEFAULT_ALLOW",
    "PII_KINDS",
    "PII_RULES",
    "REDACTED",
    "RULES",
    "Rule",
    "SecretFile",
    "SecretScanner",
    "default_scanner",
    "describe_secret_files",
    "find_secret_files",
    "scan_text",
]
