"""Which trajectories feed a run: the skill's labelled runs, filtered, capped and sampled with a seed.

The analysts decide the outcomes that can be used: the error analyst takes failures (and partial
successes), the success analyst takes successes, `combined` takes both. Runs whose outcome is
`unknown` cannot be analysed and are never selected; label them first. With a cap (`limit`) the
sample is drawn with the run's seed, balanced between failures and successes when both are wanted.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from trace2skill.errors import InvalidInput
from trace2skill.models import EvolutionConfig, Trajectory
from trace2skill.store import TraceStore

__all__ = ["FAILURE_STATUSES", "Selection", "count_matching", "outcome_statuses", "select_trajectories"]

FAILURE_STATUSES = ("failure", "partial")
_BY_ANALYSTS = {
    "error": FAILURE_STATUSES,
    "success": ("success",),
    "combined": (*FAILURE_STATUSES, "success"),
}


@dataclass
class Selection:
    trajectories: list[Trajectory]
    counts: dict[str, int] = field(default_factory=dict)

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


def _filters(config: EvolutionConfig, statuses: tuple[str, ...]) -> dict[str, object]:
    return {
        "skill": config.skill,
        "outcome": list(statuses),
        "since": config.since,
        "until": config.until,
        "tags": list(config.tags) or None,
    }


def count_matching(store: TraceStore, config: EvolutionConfig) -> int:
    """How many stored trajectories the run's filters match, before the cap."""
    return store.count(**_filters(config, outcome_statuses(config)))  # type: ignore[arg-type]


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


def select_trajectories(store: TraceStore, config: EvolutionConfig) -> Selection:
    """The run's trajectories in a deterministic order (the same filters and seed give the same list)."""
    statuses = outcome_statuses(config)
    if config.trajectory_ids is not None:
        chosen = _chosen_ids(store, config, statuses)
        if not chosen:
            raise InvalidInput(
                f"no trajectories to learn from: none of the {len(config.trajectory_ids)} runs named "
                f"has outcome {' or '.join(statuses)}"
            )
        return Selection(chosen, dict(Counter(t.outcome.status for t in chosen)))
    filters = _filters(config, statuses)
    if config.limit is not None:
        balance = config.balance and any(s in FAILURE_STATUSES for s in statuses) and "success" in statuses
        found = store.sample(config.limit, seed=config.seed, balance=balance, **filters)  # type: ignore[arg-type]
    else:
        found = store.filter(limit=None, **filters)  # type: ignore[arg-type]
    chosen = [t for t in found if t.outcome.status in statuses]
    if not chosen:
        where = f"skill {config.skill!r}" + (f" with tags {', '.join(config.tags)}" if config.tags else "")
        raise InvalidInput(
            f"no trajectories to learn from: none of {where} has outcome {' or '.join(statuses)}"
            + (" in the chosen time window" if config.since or config.until else "")
        )
    return Selection(chosen, dict(Counter(t.outcome.status for t in chosen)))
