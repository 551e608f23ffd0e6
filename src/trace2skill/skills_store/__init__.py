"""Skill directories: parsing, Agent Skills validation, immutable versions, diff, rollback, publishing.

`from trace2skill.skills_store import SkillStore` is the entry point; the helpers below are public
because the evolve engine's guardrails and the MCP server use them too.
"""

from trace2skill.skills_store.diff import diff_skills
from trace2skill.skills_store.frontmatter import Frontmatter, parse_frontmatter, read_frontmatter, split_frontmatter
from trace2skill.skills_store.paths import check_skill_files, check_skill_name, safe_relpath
from trace2skill.skills_store.reader import read_skill_dir
from trace2skill.skills_store.review import review_changes, review_text
from trace2skill.skills_store.store import (
    ProvenanceEntry,
    SkillFileInfo,
    SkillReview,
    SkillScore,
    SkillStore,
    SkillSummary,
    SkillVersion,
)
from trace2skill.skills_store.validation import ValidationReport, format_report, validate_skill

__all__ = [
    "Frontmatter",
    "ProvenanceEntry",
    "SkillFileInfo",
    "SkillReview",
    "SkillScore",
    "SkillStore",
    "SkillSummary",
    "SkillVersion",
    "ValidationReport",
    "check_skill_files",
    "check_skill_name",
    "diff_skills",
    "format_report",
    "parse_frontmatter",
    "read_frontmatter",
    "read_skill_dir",
    "review_changes",
    "review_text",
    "safe_relpath",
    "split_frontmatter",
    "validate_skill",
]
