"""Seeded sampling of trajectories without `ORDER BY random()` over the whole table.

Rows are drawn by their integer primary key: candidate keys come from a seeded PRNG over the
key range, one indexed query keeps those that exist and match the filters, and the loop repeats
with a batch sized by the hit rate seen so far. When matches are sparse (a selective filter, or a
small table), it is cheaper to read every matching key through an index and sample that list.
Both paths depend only on the seed and the database's contents, so a seed always gives the same
sample of the same database.
"""

from __future__ import annotations

import json
import random
import sqlite3

from trace2skill.store.query import Filters
from trace2skill.store.schema import TABLE

__all__ = ["sample_seqs"]

_OVERDRAW = 1.25
_MIN_BATCH = 16


def _all_matches(conn: sqlite3.Connection, filters: Filters, n: int, rng: random.Random) -> list[int]:
    if filters.only_sets:
        queries = filters.set_queries()
        sql = " INTERSECT ".join(query for query, _ in queries) + " ORDER BY 1"
        params = [value for _, values in queries for value in values]
    else:
        where, params = filters.where("drive")
        sql = f"SELECT t.seq FROM {TABLE} t WHERE {where} ORDER BY t.seq"
    seqs = [row[0] for row in conn.execute(sql, params)]
    if len(seqs) <= n:
        rng.shuffle(seqs)
        return seqs
    return rng.sample(seqs, n)


def sample_seqs(conn: sqlite3.Connection, filters: Filters, n: int, rng: random.Random) -> list[int]:
    """Up to `n` distinct keys of rows matching `filters`, uniformly at random, in draw order."""
    if n <= 0:
        return []
    # Two subqueries: SQLite answers a lone min() or max() from the end of the key b-tree, but scans for both at once.
    lo, hi = conn.execute(f"SELECT (SELECT min(seq) FROM {TABLE}), (SELECT max(seq) FROM {TABLE})").fetchone()
    if lo is None:
        return []
    span = hi - lo + 1
    if span <= 4 * n + 64:
        return _all_matches(conn, filters, n, rng)
    where, params = filters.where("point", lead=False)
    probe = f"SELECT t.seq FROM {TABLE} t WHERE t.seq IN (SELECT value FROM json_each(?)) AND {where}"
    drawn: set[int] = set()
    hits: list[int] = []
    found = 0
    density = 1.0
    while len(hits) < n:
        need = n - len(hits)
        expected_draws = need / density
        # Reading every match costs about (density * span) index entries: switch when that is cheaper.
        if drawn and expected_draws > density * span / 4:
            return _all_matches(conn, filters, n, rng)
        want = int(expected_draws * _OVERDRAW) + _MIN_BATCH
        if len(drawn) + 2 * want > span:
            return _all_matches(conn, filters, n, rng)
        batch: list[int] = []
        while len(batch) < want:
            candidate = rng.randrange(lo, hi + 1)
            if candidate not in drawn:
                drawn.add(candidate)
                batch.append(candidate)
        matched = {row[0] for row in conn.execute(probe, [json.dumps(batch), *params])}
        found += len(matched)
        hits.extend(seq for seq in batch if seq in matched)
        density = max(found / len(drawn), 1.0 / span)
    return hits[:n]
