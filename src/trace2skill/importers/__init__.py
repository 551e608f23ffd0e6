"""Turning foreign traces into Trajectory: Claude Code, OpenAI Chat/Responses, Anthropic Messages,
OpenTelemetry GenAI / OpenInference spans and Harbor ATIF; with secret and PII redaction at ingest.

Importers return models; they never write to the store. Typical use:

    from trace2skill.importers import import_paths
    items = import_paths(["~/.claude/projects/my-project"], "auto")
    workspace.traces.add_many(item.trajectory for item in items if item.trajectory)
"""

from trace2skill.importers.detect import FORMATS, UnsupportedFormat, detect_format
from trace2skill.importers.pipeline import (
    ImportItem,
    ImportSummary,
    expand_paths,
    import_file,
    import_paths,
    normalize_format,
)
from trace2skill.importers.redact import RedactionConfig, Redactor, redact_text, redact_trajectory

__all__ = [
    "FORMATS",
    "ImportItem",
    "ImportSummary",
    "RedactionConfig",
    "Redactor",
    "UnsupportedFormat",
    "detect_format",
    "expand_paths",
    "import_file",
    "import_paths",
    "normalize_format",
    "redact_text",
    "redact_trajectory",
]
