"""Filters over trajectories, as one SQL WHERE clause built from indexed columns.

Every filter of `TraceStore.filter`, `count`, `summaries` and `sample` goes through `Filters`, so
they all agree on what a filter means: skill is exact, outcome is one status or any of several,
skill version is one number or any of several (None among them: runs with no recorded version),
`since` is inclusive and `until` exclusive, every tag must be present (exact match, never a
substring), and text is a full-text search over the task, the final answer, the feedback, the
message text and tool output, and the names of the tools called (`search.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal, get_args

from trace2skill.errors import InvalidInput
from trace2skill.models import OutcomeStatus
from trace2skill.store.codec import iso, parse_time
from trace2skill.store.schema import FTS_TABLE, TAGS_TABLE

__all__ = ["STATUSES", "Filters", "SetMode", "VersionFilter", "fts_query"]

STATUSES: tuple[str, ...] = get_args(OutcomeStatus)
SetMode = Literal["drive", "probe", "point", "walk"]
VersionFilter = int | Iterable[int | None] | None
"""One skill version, or any of several (None among them: runs with no recorded version); None: any."""

_WORD = re.compile(r"[^\s\"]+\*?")


def fts_query(text: str) -> str:
    """A safe FTS5 query: every word must appear (prefix match with a trailing `*`).

    User text goes in as quoted terms, so punctuation, `AND`/`OR`/`NEAR` and column names are
    searched for rather than parsed as query syntax.
    """
    terms = []
    for word in _WORD.findall(text.replace("\x00", " ")):  # SQLite ends a query string at a NUL
        prefix = word.endswith("*") and len(word) > 1
        core = word[:-1] if prefix else word
        core = core.strip("*")
        if not core:
            continue
        quoted = core.replace('"', '""')  # FTS5 escapes a quote inside a string by doubling it
        terms.append(f'"{quoted}"' + ("*" if prefix else ""))
    if not terms:
        raise InvalidInput("the search text has no words to look for")
    return " ".join(terms)


def _statuses(outcome: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if outcome is None:
        return None
    values = (outcome,) if isinstance(outcome, str) else tuple(outcome)
    for value in values:
        if value not in STATUSES:
            raise InvalidInput(f"unknown outcome {value!r}: use one of {', '.join(STATUSES)}")
    return tuple(dict.fromkeys(values))


def _versions(skill_version: VersionFilter) -> tuple[int | None, ...] | None:
    if skill_version is None:
        return None
    values = (skill_version,) if isinstance(skill_version, int) else tuple(skill_version)
    for value in values:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInput(
                f"skill_version must be a version number (1 or more), or None for runs with no recorded version; "
                f"got {value!r}"
            )
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class Filters:
    """The filters every listing accepts; `where()` renders them against table alias `t`."""

    skill: str | None = None
    outcome: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    tags: tuple[str, ...] = ()
    text: str | None = None
    versions: tuple[int | None, ...] | None = None

    @classmethod
    def of(
        cls,
        skill: str | None = None,
        outcome: str | Iterable[str] | None = None,
        since: datetime | date | str | None = None,
        until: datetime | date | str | None = None,
        tags: str | Iterable[str] | None = None,
        text: str | None = None,
        skill_version: VersionFilter = None,
    ) -> Filters:
        tag_tuple = (tags,) if isinstance(tags, str) else tuple(tags or ())
        return cls(
            skill=skill,
            outcome=_statuses(outcome),
            since=parse_time(since),
            until=parse_time(until),
            tags=tuple(dict.fromkeys(tag_tuple)),
            text=text if text is None else fts_query(text),
            versions=_versions(skill_version),
        )

    def with_outcome(self, statuses: Iterable[str]) -> Filters:
        """The same filters restricted to `statuses` (intersected with any outcome filter already set)."""
        wanted = tuple(s for s in statuses if self.outcome is None or s in self.outcome)
        return replace(self, outcome=wanted)

    @property
    def has_sets(self) -> bool:
        """Whether tags or text filter through another table (a set of keys) rather than a column."""
        return bool(self.tags) or self.text is not None

    @property
    def only_sets(self) -> bool:
        """Whether tags and text are the only filters, so the key sets alone answer the question."""
        columns = (self.skill, self.outcome, self.since, self.until, self.versions)
        return self.has_sets and all(value is None for value in columns)

    def set_kinds(self) -> list[str]:
        """ "tag" or "text" for each entry of `set_queries`."""
        return ["tag"] * len(self.tags) + (["text"] if self.text is not None else [])

    def set_queries(self) -> list[tuple[str, list[Any]]]:
        """One `SELECT <key>` per tag and text filter: the keys of the rows each one lets through."""
        queries: list[tuple[str, list[Any]]] = [
            (f"SELECT seq FROM {TAGS_TABLE} WHERE tag = ?", [tag]) for tag in self.tags
        ]
        if self.text is not None:
            queries.append((f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?", [self.text]))
        return queries

    def where(self, plan: SetMode | Sequence[SetMode] = "drive", lead: bool = True) -> tuple[str, list[Any]]:
        """The WHERE clause and its parameters, with each tag and text filter (in `set_queries` order)
        written the way `plan` says (one mode for all, or one per filter):

        - "drive": `t.seq IN (keys)`, so a small key set may lead the query plan;
        - "probe": `+t.seq IN (keys)`: the set is built once and only checked, so SQLite walks an
          index in the wanted order and stops at the LIMIT (right for a large text match);
        - "point": a correlated look-up per row; for tags that is one primary-key probe, right for a
          large tag or for testing a few known rows (sampling); text stays "drive" there;
        - "walk" (text only): a full-text look-up of each row as SQLite walks the index in the wanted
          order, for a few of the newest rows of a text that most rows contain (no set is built).

        With `lead=False` no column filter may lead either (`+t.skill`...): for checking a given
        list of keys, where walking the skill or outcome index instead would read half the table.
        """
        col = "t." if lead else "+t."
        modes = list(plan) if not isinstance(plan, str) else [plan] * (len(self.tags) + (self.text is not None))
        clauses: list[str] = []
        params: list[Any] = []
        if self.skill is not None:
            clauses.append(f"{col}skill = ?")
            params.append(self.skill)
        if self.outcome is not None:
            if not self.outcome:
                clauses.append("0")
            else:
                clauses.append(f"{col}outcome IN ({', '.join('?' * len(self.outcome))})")
                params.extend(self.outcome)
        if self.versions is not None:
            numbers = [v for v in self.versions if v is not None]
            either = [f"{col}skill_version IN ({', '.join('?' * len(numbers))})"] if numbers else []
            if None in self.versions:
                either.append(f"{col}skill_version IS NULL")
            clauses.append(f"({' OR '.join(either)})" if either else "0")
            params.extend(numbers)
        if self.since is not None:
            clauses.append(f"{col}created_at >= ?")
            params.append(iso(self.since))
        if self.until is not None:
            clauses.append(f"{col}created_at < ?")
            params.append(iso(self.until))
        for tag, mode in zip(self.tags, modes, strict=False):
            if mode == "point":
                clauses.append(f"EXISTS (SELECT 1 FROM {TAGS_TABLE} g WHERE g.tag = ? AND g.seq = t.seq)")
            else:
                key = "+t.seq" if mode == "probe" else "t.seq"
                clauses.append(f"{key} IN (SELECT seq FROM {TAGS_TABLE} WHERE tag = ?)")
            params.append(tag)
        if self.text is not None:
            if modes[-1] == "walk":
                clauses.append(f"EXISTS (SELECT 1 FROM {FTS_TABLE} f WHERE {FTS_TABLE} MATCH ? AND f.rowid = t.seq)")
            else:
                key = "+t.seq" if modes[-1] == "probe" else "t.seq"
                clauses.append(f"{key} IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)")
            params.append(self.text)
        return (" AND ".join(clauses) or "1"), params
