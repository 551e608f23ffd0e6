"""The resource URIs the server hands out, built in one place so tools and resources agree.

Skills follow SEP-2640: `skill://<name>/<path>` with `SKILL.md` always explicit. Paths are
percent-encoded the way an RFC 6570 `{+path}` expansion does (slashes kept), ids the way a plain
`{id}` expansion does, so the SDK's template matcher decodes exactly what we encoded.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = [
    "RUN_REPORT_TEMPLATE",
    "SKILL_FILE_TEMPLATE",
    "SKILL_MD_TEMPLATE",
    "TRAJECTORY_TEMPLATE",
    "run_report_uri",
    "skill_file_uri",
    "trajectory_uri",
]

SKILL_MD_TEMPLATE = "skill://{name}/SKILL.md"
SKILL_FILE_TEMPLATE = "skill://{name}/{+path}"
TRAJECTORY_TEMPLATE = "trajectory://{id}"
RUN_REPORT_TEMPLATE = "run://{run_id}/report"

_PATH_SAFE = "/:@!$&'()*+,;="
"""Kept as is in a path; `?`, `#`, spaces and non-ASCII are percent-encoded."""


def skill_file_uri(name: str, path: str) -> str:
    return f"skill://{name}/{quote(path, safe=_PATH_SAFE)}"


def trajectory_uri(trajectory_id: str) -> str:
    return f"trajectory://{quote(trajectory_id, safe='')}"


def run_report_uri(run_id: str) -> str:
    return f"run://{quote(run_id, safe='')}/report"
