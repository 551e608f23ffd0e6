"""Which trajectories feed a run: the skill's labelled runs of the base version, filtered, capped and sampled.

The analysts decide the outcomes that can be used: the error analyst takes failures (and partial
successes), the success analyst takes successes, `combined` takes both. Runs whose outcome is
`unknown` cannot be analysed and are never selected; label them first. With a cap (`limit`) the
sample is drawn with the run's seed, balanced between failures and successes when both are wanted.

Every analysis is made against the frozen base skill S0 as if S0 had made the run, so by default
only runs made with S0 are used (`VersionScope`): lessons from runs of an older version would be
presented as S0's. A run with no recorded version is used only while the skill has one version
(it can have used no other); `any_version` takes every version. Runs named by `trajectory_ids` are
kept whatever their version (the caller chose them), and the report counts them by version.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trace2skill.errors import InvalidInput
from trace2skill.models import EvolutionConfig, Trajectory
from trace2skill.store import TraceStore

__all__ = [
    "FAILURE_STATUSES",
    "Selection",
    "VersionScope",
    "count_matching",
    "outcome_statuses",
    "select_trajectories",
    "version_label",
    "version_scope",
]

FAILURE_STATUSES = ("failure", "partial")
_BY_ANALYSTS = {
    "error": FAILURE_STATUSES,
    "success": ("success",),
    "combined": (*FAILURE_STATUSES, "success"),
}


@dataclass(frozen=True)
class VersionScope:
    """Whose runs a run learns from: runs of `version` (None: any version), and runs with no recorded
    version only when `unversioned` (the base is the skill's only version, so they can have used no other)."""

    version: int | None = None
    unversioned: bool = False

    def admits(self, version: int | None) -> bool:
        if self.version is None:
            return True
        return version == self.version or (version is None and self.unversioned)

    def store_filter(self) -> list[int | None] | None:
        """The trace store's `skill_version` filter for this scope (None: no filter)."""
        if self.version is None:
            return None
        return [self.version, None] if self.unversioned else [self.version]


def version_scope(config: EvolutionConfig, base_version: int | None, *, only_version: bool) -> VersionScope:
    """The scope of a run building on `base_version` (None: not known yet, as in create mode: any version)."""
    if config.any_version or base_version is None:
        return VersionScope()
    return VersionScope(base_version, unversioned=only_version)


def version_label(version: int | None) -> str:
    return "unversioned" if version is None else f"v{version}"


def _describe_versions(counts: dict[int | None, int]) -> str:
    order = sorted(counts, key=lambda v: (v is None, v or 0))
    return ", ".join(f"{'no recorded version' if v is None else f'v{v}'}: {counts[v]}" for v in order)


@dataclass
class Selection:
    trajectories: list[Trajectory]
    counts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    """Chosen runs by the skill version they were made with (`v2`, `unversioned`)."""
    notes: list[str] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.trajectories if t.id]

    def describe(self) -> str:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        return f"{len(self.trajectories)} trajectories ({parts or 'none'})"


def outcome_statuses(config: EvolutionConfig) -> tuple[str, ...]:
    """The outcomes this run analyses: the analysts' own, narrowed by `config.outcome` when given."""
    usable = _BY_ANALYSTS[config.analysts]
    if not config.outcome:
        return usable
    unusable = [s for s in config.outcome if s not in usable]
    if unusable:
        why = "have no label to learn from; label them first" if "unknown" in unusable else "are not analysed"
        raise InvalidInput(
            f"outcome {', '.join(unusable)} cannot be used with --analysts {config.analysts}: such runs {why}"
        )
    return tuple(config.outcome)


def _filters(config: EvolutionConfig, statuses: tuple[str, ...]) -> dict[str, Any]:
    return {
        "skill": config.skill,
        "outcome": list(statuses),
        "since": config.since,
        "until": config.until,
        "tags": list(config.tags) or None,
    }


def count_matching(store: TraceStore, config: EvolutionConfig, scope: VersionScope | None = None) -> int:
    """How many stored trajectories the run's filters match, before the cap."""
    filters = _filters(config, outcome_statuses(config))
    return store.count(**filters, skill_version=(scope or VersionScope()).store_filter())


def _chosen_ids(store: TraceStore, config: EvolutionConfig, statuses: tuple[str, ...]) -> list[Trajectory]:
    """The runs named by `trajectory_ids` with a usable outcome, capped by `limit` in a seeded, balanced draw."""
    found = [t for t in store.get_many(dict.fromkeys(config.trajectory_ids or [])) if t.outcome.status in statuses]
    if config.limit is None or len(found) <= config.limit:
        return found
    rng = random.Random(config.seed)
    failures = [t for t in found if t.outcome.status in FAILURE_STATUSES]
    successes = [t for t in found if t.outcome.status not in FAILURE_STATUSES]
    rng.shuffle(failures)
    rng.shuffle(successes)
    if not config.balance:
        pool = failures + successes
        rng.shuffle(pool)
        return pool[: config.limit]
    half = min(len(successes), config.limit // 2)
    take = failures[: config.limit - half]
    return take + successes[: config.limit - len(take)]


def _selection(chosen: list[Trajectory], notes: list[str]) -> Selection:
    by_version = Counter(t.skill_version for t in chosen)
    versions = {version_label(v): by_version[v] for v in sorted(by_version, key=lambda v: (v is None, v or 0))}
    return Selection(chosen, dict(Counter(t.outcome.status for t in chosen)), versions, notes)


def _create_note(config: EvolutionConfig, chosen: Iterable[Trajectory]) -> str:
    made_with = _describe_versions(dict(Counter(t.skill_version for t in chosen)))
    return (
        f"create mode drafts S0 after these runs were made, so none of them used it: they were made with "
        f"another version of {config.skill!r} or with none recorded ({made_with}), and their lessons are applied "
        "to the draft as if it had made them; `--suite SUITE` rolls the draft out first and learns from its own runs"
    )


def select_trajectories(store: TraceStore, config: EvolutionConfig, scope: VersionScope | None = None) -> Selection:
    """The run's trajectories in a deterministic order (the same filters, scope and seed give the same list).

    `scope` (default: any version) is the base version whose runs may be used; `version_scope` makes it."""
    scope = scope or VersionScope()
    statuses = outcome_statuses(config)
    if config.trajectory_ids is not None:
        chosen = _chosen_ids(store, config, statuses)
        if not chosen:
            raise InvalidInput(
                f"no trajectories to learn from: none of the {len(config.trajectory_ids)} runs named "
                f"has outcome {' or '.join(statuses)}"
            )
        notes = [_create_note(config, chosen)] if config.mode == "create" else []
        others = dict(Counter(t.skill_version for t in chosen if not scope.admits(t.skill_version)))
        if others:
            notes.append(
                f"{sum(others.values())} of the {len(chosen)} runs named were not made with the base version "
                f"v{scope.version} ({_describe_versions(others)}); they are used because they were named"
            )
        return _selection(chosen, notes)
    filters = _filters(config, statuses)
    matching = store.count_by_version(**filters)
    left_out = {v: n for v, n in matching.items() if not scope.admits(v)}
    scoped = {**filters, "skill_version": scope.store_filter()}
    if config.limit is not None:
        balance = config.balance and any(s in FAILURE_STATUSES for s in statuses) and "success" in statuses
        found = store.sample(config.limit, seed=config.seed, balance=balance, **scoped)
    else:
        found = store.filter(limit=None, **scoped)
    chosen = [t for t in found if t.outcome.status in statuses]
    if not chosen:
        where = f"skill {config.skill!r}" + (f" with tags {', '.join(config.tags)}" if config.tags else "")
        if scope.version is not None:
            where += f" made with its base version v{scope.version}"
        hint = (
            f"; {sum(left_out.values())} runs of other versions match ({_describe_versions(left_out)}): "
            "add --any-version to learn from them"
            if left_out
            else ""
        )
        raise InvalidInput(
            f"no trajectories to learn from: none of {where} has outcome {' or '.join(statuses)}"
            + (" in the chosen time window" if config.since or config.until else "")
            + hint
        )
    notes = [_create_note(config, chosen)] if config.mode == "create" else []
    if left_out:
        notes.append(
            f"left out {sum(left_out.values())} runs not made with the base version v{scope.version} "
            f"({_describe_versions(left_out)}): their lessons would be presented as the base version's; "
            "--any-version takes them"
        )
    return _selection(chosen, notes)
