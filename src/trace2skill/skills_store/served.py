"""What a server hands a client on every request, in as few queries as possible.

`served_version` answers "which version of NAME does a client get" (the published one, else the
newest not held for review, or the one asked for) together with the head and published numbers,
in one query. `version_manifest` gives that version's file list and SKILL.md text; a version's
content never changes, so both are cached by its digest (the digest covers every path, content
hash and executable bit) and a cache hit costs no query at all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from trace2skill.errors import NotFound
from trace2skill.skills_store.paths import check_skill_name
from trace2skill.skills_store.store import SkillFileInfo, SkillStore, SkillVersion
from trace2skill.store import connection_lock

__all__ = ["MANIFEST_CACHE_SIZE", "ServedVersion", "VersionManifest", "served_version", "version_manifest"]

MANIFEST_CACHE_SIZE = 256
CACHED_SKILL_MD_BYTES = 256 * 1024
"""A longer SKILL.md (far past the Agent Skills guidance of 500 lines) is read each time rather than held."""
_MAX_SQLITE_INT = 2**63 - 1

_SERVED_SQL = """
SELECT h.head, p.version AS published, v.*
FROM (SELECT MAX(version) AS head FROM skill_versions WHERE skill = :name) h
LEFT JOIN skill_published p ON p.skill = :name
LEFT JOIN skill_versions v ON v.skill = :name AND v.version = COALESCE(:version, p.version, (
    SELECT MAX(x.version) FROM skill_versions x WHERE x.skill = :name AND NOT EXISTS (
        SELECT 1 FROM skill_reviews r WHERE r.skill = :name AND r.version = x.version AND r.state = 'staged')))
"""


@dataclass(frozen=True)
class ServedVersion:
    version: SkillVersion
    head: int
    published: int | None


@dataclass(frozen=True)
class VersionManifest:
    files: tuple[SkillFileInfo, ...]
    skill_md: str
    """SKILL.md as text (undecodable bytes replaced); '' for a version without one."""


def served_version(skills: SkillStore, name: str, version: int | None = None) -> ServedVersion:
    """The version a client is served (or `version`), with the skill's head and published version: one query.

    Without `version`: the published version, else the newest one not held for review (a held
    version is what no person has read yet, so no agent loads it). NotFound, in one line, when the
    skill, the version, or anything servable is missing."""
    check_skill_name(name)
    if version is not None and not 1 <= version <= _MAX_SQLITE_INT:
        head = skills.head(name)
        raise NotFound(f"skill {name!r} has no version {version} (versions are 1 to {head.version})")
    with connection_lock(skills.db):
        cursor = skills.db.conn.execute(_SERVED_SQL, {"name": name, "version": version})
        columns = [c[0] for c in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    if row["head"] is None:
        raise NotFound(f"no skill named {name!r} (see `trace2skill skills list`)")
    if row["skill"] is None:
        if version is not None:
            raise NotFound(f"skill {name!r} has no version {version} (versions are 1 to {row['head']})")
        raise NotFound(
            f"skill {name!r} has nothing to serve yet: every version is held for review "
            f"(`trace2skill skills review {name}`)"
        )
    return ServedVersion(version=SkillStore._version(row), head=row["head"], published=row["published"])


_cache: OrderedDict[str, VersionManifest] = OrderedDict()
_cache_lock = threading.Lock()


def version_manifest(skills: SkillStore, version: SkillVersion) -> VersionManifest:
    """A version's files (by path) and SKILL.md text; one query the first time a digest is seen, none after."""
    with _cache_lock:
        cached = _cache.get(version.digest)
        if cached is not None:
            _cache.move_to_end(version.digest)
            return cached
    with connection_lock(skills.db):
        rows = skills.db.conn.execute(
            """SELECT f.path, f.sha256, f.size, f.executable,
                   CASE WHEN f.path = 'SKILL.md' THEN (SELECT b.data FROM skill_blobs b WHERE b.sha256 = f.sha256) END
            FROM skill_files f WHERE f.skill = ? AND f.version = ? ORDER BY f.path""",
            [version.name, version.version],
        ).fetchall()
    files = tuple(SkillFileInfo(path=r[0], sha256=r[1], size=r[2], executable=bool(r[3])) for r in rows)
    skill_md = next((bytes(r[4]).decode("utf-8", errors="replace") for r in rows if r[0] == "SKILL.md"), "")
    manifest = VersionManifest(files=files, skill_md=skill_md)
    if len(skill_md) > CACHED_SKILL_MD_BYTES:
        return manifest
    with _cache_lock:
        _cache[version.digest] = manifest
        _cache.move_to_end(version.digest)
        while len(_cache) > MANIFEST_CACHE_SIZE:
            _cache.popitem(last=False)
    return manifest
