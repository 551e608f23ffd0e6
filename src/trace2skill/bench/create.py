"""Create mode with a suite: draft S0 first, roll the draft out, then learn from the draft's own runs.

Without a suite, create mode drafts S0 after the runs it learns from were made, so no run ever used
the draft. With one, the model drafts S0 from its own knowledge (and the suite's description),
the draft is committed unpublished, the agent runner rolls it out on `train` tasks of the suite's
split with the same model, and a deepen evolution learns from exactly those runs, building on the
draft. It lives here rather than in `evolve` because it needs the runner (bench imports evolve).

Running the same command again reuses the draft while nothing has been built on it (the skill's
newest version is still this suite's unpublished draft), and its rollouts come back from the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trace2skill.bench.gate import rollout_llm
from trace2skill.bench.rollouts import ArmRuns, run_arm
from trace2skill.bench.runner import Arm, RolloutSettings
from trace2skill.bench.suites import Suite, Task, load_suite
from trace2skill.errors import InvalidInput, NotFound
from trace2skill.evolve.pipeline import refuse_replacing
from trace2skill.evolve.progress import ProgressCallback, StageCounter, ignore_progress
from trace2skill.models import EvolutionConfig

if TYPE_CHECKING:
    from trace2skill.evolve.context import ChatLLM
    from trace2skill.workspace import Workspace

__all__ = ["DEFAULT_TRAIN", "CreateSpec", "Drafted", "draft_and_roll_out", "parse_suite"]

DEFAULT_TRAIN = 50


@dataclass(frozen=True)
class CreateSpec:
    """Where the draft is rolled out: a suite (built-in name or .jsonl path), its split, how many tasks."""

    suite: str
    split: str = "evolve"
    train: int | None = None
    data: str | None = None

    def tasks(self, suite: Suite) -> list[Task]:
        """The first `train` tasks of the split in its fixed seed-0 order (default: up to 50)."""
        available = len(suite.split(self.split))
        return suite.sample(self.split, self.train if self.train is not None else min(DEFAULT_TRAIN, available))


def parse_suite(text: str, *, train: int | None = None, data: str | None = None) -> CreateSpec:
    """`SUITE:SPLIT`, or `SUITE` alone for split `evolve` (the split to learn from)."""
    suite, sep, split = text.rpartition(":")
    if not sep or "/" in split or not suite:
        suite, split = text, "evolve"
    if not suite.strip() or not split.strip():
        raise InvalidInput(f"--suite {text!r}: expected SUITE[:SPLIT], e.g. wikitq:evolve or my-suite.jsonl")
    if train is not None and train < 1:
        raise InvalidInput(f"--train must be 1 or more (tasks to roll the draft out on), got {train}")
    return CreateSpec(suite.strip(), split.strip(), train, data)


@dataclass
class Drafted:
    """The draft, its runs, and the deepen configuration that learns from exactly those runs."""

    config: EvolutionConfig
    version: int
    runs: ArmRuns
    notes: list[str]


def _author(suite: Suite, split: str) -> str:
    return f"create:{suite.name}:{split}"


def _reusable_draft(workspace: Workspace, name: str, author: str) -> int | None:
    """The newest version when it is this suite's unpublished draft (nothing built on it yet)."""
    try:
        head = workspace.skills.head(name)
    except NotFound:
        return None
    if head.author != author or workspace.skills.published_version(name) == head.version:
        return None
    return int(head.version)


@asynccontextmanager
async def _drafter(
    workspace: Workspace, config: EvolutionConfig, llm: ChatLLM | None, agent: ChatLLM
) -> AsyncIterator[ChatLLM]:
    """Who drafts: `llm` when given, else the editor model (`merge_model`) as in the pipeline, else the agent's."""
    if llm is not None or not config.merge_model:
        yield llm or agent
        return
    async with rollout_llm(workspace, config.merge_model, None, 1) as own:
        yield own


async def _draft(workspace: Workspace, config: EvolutionConfig, suite: Suite, split: str, llm: ChatLLM) -> int:
    from trace2skill.evolve.draft import draft_skill

    description = config.task_description or suite.description
    skill, errors = await draft_skill(llm, config.skill, description, [])
    if errors:
        raise InvalidInput(f"the drafted skill does not validate: {'; '.join(errors[:3])}")
    try:
        parent = workspace.skills.head(config.skill).version
    except NotFound:
        parent = None
    version = workspace.skills.commit(
        skill,
        parent=parent,
        author=_author(suite, split),
        changelog=[f"first draft written by the model from its own knowledge, for suite {suite.name} (create mode)"],
        publish=False,
    )
    return int(version.version)


async def draft_and_roll_out(
    config: EvolutionConfig,
    spec: CreateSpec,
    *,
    workspace: Workspace,
    llm: ChatLLM | None = None,
    agent_llm: ChatLLM | None = None,
    settings: RolloutSettings | None = None,
    workers: int = 4,
    progress: ProgressCallback = ignore_progress,
    fresh: bool = False,
) -> Drafted:
    """Draft S0 (or reuse this suite's draft), roll it out on the split's tasks, and return the deepen
    configuration that learns from exactly those runs, building on the draft."""
    if config.trajectory_ids is not None:
        raise InvalidInput("create mode with a suite learns from the draft's own runs; leave out trajectory_ids")
    refuse_replacing(workspace.skills, config)
    suite = load_suite(spec.suite, spec.data)
    tasks = spec.tasks(suite)  # a missing split or too many tasks is refused before anything is spent
    rollout_settings = settings or RolloutSettings(model=config.model or "")
    author = _author(suite, spec.split)
    async with rollout_llm(workspace, rollout_settings.model, agent_llm or llm, workers) as agent:
        version = None if fresh else _reusable_draft(workspace, config.skill, author)
        reused = version is not None
        if version is None:
            counter = StageCounter(progress, "draft", 1)
            async with _drafter(workspace, config, llm, agent) as drafter:
                version = await _draft(workspace, config, suite, spec.split, drafter)
            counter.finish(f"drafted version {version}")
        arm = Arm(f"v{version}", workspace.skills.load(config.skill, version), version)
        runs = await run_arm(
            workspace,
            suite,
            tasks,
            arm,
            agent,
            rollout_settings,
            workers=workers,
            tags=("create", f"create:{config.skill}"),
            progress=progress,
            stage=f"rollout v{version}",
        )
    passed = sum(runs.outcomes().values())
    notes = [
        f"create mode: {'reused the unpublished draft' if reused else 'drafted'} version {version} from the model's "
        f"own knowledge, rolled it out on {len(tasks)} tasks of {suite.name}:{spec.split} ({passed} passed) and "
        "learned from exactly those runs"
    ]
    notes += [f"rollout without a verdict: {line}" for line in runs.unknown()]
    deepen = config.model_copy(update={"mode": "deepen", "trajectory_ids": runs.ids, "base_version": version})
    return Drafted(deepen, version, runs, notes)
