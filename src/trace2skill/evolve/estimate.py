"""Dry run: what a run would cost before anything is spent.

Counts the trajectories the run would select, sizes every prompt from the real texts (the frozen
skill, the rendered trajectories) at about four characters a token, and lays out the calls and
sequential rounds stage by stage: analysis turns, proposal, ceil(log_B N) merge levels, apply.
Assumptions a dry run cannot know are stated in `assumptions`: how many turns an agentic error
analysis takes, how often it asks the LLM judge (failures without a scorer), that every analysis
yields lessons (an upper bound), the size of answers.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from trace2skill.evaluators import Candidate, JudgeEvaluator
from trace2skill.evaluators.base import EvaluatorResolver, resolver_for
from trace2skill.evolve.analysts import analysis_kind
from trace2skill.evolve.evaluation import judge_reference
from trace2skill.evolve.merge import tree_shape
from trace2skill.evolve.prompting import load_prompt, render_skill, system_prompt
from trace2skill.evolve.render import READ_CHARS, render_full, render_overview
from trace2skill.evolve.select import VersionScope, select_trajectories
from trace2skill.llm.types import Usage
from trace2skill.models import EvolutionConfig, Skill, Trajectory
from trace2skill.store import TraceStore

__all__ = ["Estimate", "estimate_run"]

CHARS_PER_TOKEN = 4
EXPECTED_TURNS = 4
EXPECTED_JUDGE_CALLS = 2
"""`evaluate` calls of an agentic analysis checked by the LLM judge: the agent's own answer, then a fix."""
DRAFT_SKILL_TOKENS = 2_000
OUT_TOKENS = {"analyse": 450, "propose": 900, "merge": 1_800, "apply": 400, "draft": 2_500}
PATCH_TOKENS = 700
APPLY_CALLS = 2


def _tokens(text: str | int) -> int:
    n = text if isinstance(text, int) else len(text)
    return math.ceil(n / CHARS_PER_TOKEN)


class Estimate(BaseModel):
    skill: str
    model: str | None
    trajectories: int
    failures: int
    successes: int
    agentic: int = Field(description="failures given the multi-turn error analyst")
    judged: int = Field(default=0, description="agentic analyses checked by the LLM judge (no scorer)")
    calls: dict[str, int]
    rounds: dict[str, int] = Field(
        description="sequential rounds per stage; `total`: rounds of the whole run with `workers` at once"
    )
    workers: int = Field(default=16, description="trajectories analysed at once, as `total` assumes")
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    cost_usd: float | None = Field(description="None when the model's price is unknown")
    max_calls: int = Field(description="calls if every agentic analysis used all its turns")
    assumptions: list[str]
    notes: list[str] = Field(default_factory=list, description="what the real run would do besides spending")

    def render(self) -> str:
        cost = f"${self.cost_usd:,.4f}" if self.cost_usd is not None else "unknown (no price for this model)"
        lines = [
            f"Dry run for {self.skill} with {self.model or '(no model)'}:",
            f"  {self.trajectories} trajectories: {self.failures} failures ({self.agentic} agentic, "
            f"{self.judged} of them checked by the LLM judge), "
            f"{self.successes} successes",
            "  calls:  " + ", ".join(f"{k} {v}" for k, v in self.calls.items()) + f" (up to {self.max_calls})",
            "  rounds: "
            + ", ".join(f"{k} {v}" for k, v in self.rounds.items() if k != "total")
            + (f", total {self.rounds['total']} with {self.workers} workers" if "total" in self.rounds else ""),
            f"  tokens: {self.input_tokens:,} in ({self.cached_tokens:,} expected from the prompt cache), "
            f"{self.output_tokens:,} out",
            f"  cost:   {cost}",
            "  assumptions: " + "; ".join(self.assumptions),
            *(f"  note: {note}" for note in self.notes),
        ]
        return "\n".join(lines)


def estimate_run(
    traces: TraceStore,
    config: EvolutionConfig,
    base: Skill | None,
    *,
    resolve_evaluator: EvaluatorResolver | None = None,
    protected: frozenset[str] = frozenset(),
    scope: VersionScope | None = None,
    notes: list[str] | None = None,
) -> Estimate:
    """`scope` is the versions whose runs the real run would learn from (`pipeline.scope_of`)."""
    resolve = resolve_evaluator or resolver_for(config.evaluator)
    selection = select_trajectories(traces, config, scope)
    trajectories = selection.trajectories
    view_tokens = _tokens(render_skill(base)) if base is not None else DRAFT_SKILL_TOKENS
    roles = ("error_analyst", "error_analyst_single", "success_analyst", "proposer", "merger")
    system = {role: _tokens(system_prompt(role, "", protected)) + view_tokens for role in roles}
    calls = {"draft": 0, "analyse": 0, "propose": 0, "merge": 0, "apply": APPLY_CALLS}
    inputs = dict.fromkeys(calls, 0)
    cached = dict.fromkeys(calls, 0)
    first_seen: set[str] = set()
    max_calls = 0
    turns_needed = 1
    failures = agentic = judged = 0

    def add(stage: str, role: str | None, tokens: int, n: int = 1) -> None:
        calls[stage] += n
        inputs[stage] += tokens * n
        if role is not None:
            sys = system[role]
            hits = n if role in first_seen else n - 1
            first_seen.add(role)
            cached[stage] += sys * max(hits, 0)

    if config.mode == "create":
        add("draft", None, _tokens(load_prompt("drafter")) + 300)
    for t in trajectories:
        if analysis_kind(t) == "success":
            add("analyse", "success_analyst", system["success_analyst"] + _tokens(render_full(t)))
            max_calls += 1
            continue
        failures += 1
        if config.analyst == "single":
            add("analyse", "error_analyst_single", system["error_analyst_single"] + _tokens(render_full(t)))
            max_calls += 1
            continue
        agentic += 1
        if resolve(t) is None:
            judged += 1
            add("analyse", None, _judge_tokens(t), EXPECTED_JUDGE_CALLS)
            max_calls += config.max_analyst_turns
        turns = min(EXPECTED_TURNS, config.max_analyst_turns + 1)
        turns_needed = max(turns_needed, turns)
        growth = _tokens(min(READ_CHARS, len(render_full(t)))) + OUT_TOKENS["analyse"]
        first = system["error_analyst"] + _tokens(render_overview(t))
        for k in range(turns):
            add("analyse", "error_analyst", first + k * growth)
        max_calls += config.max_analyst_turns + 1
    n = len(trajectories)
    add("propose", "proposer", system["proposer"] + 600, n)
    shape = tree_shape(n, config.fan_in)
    for level in shape:
        for group in level:
            if len(group) > 1:
                add("merge", "merger", system["merger"] + len(group) * PATCH_TOKENS)
    inputs["apply"] = APPLY_CALLS * (view_tokens + 600)
    calls = {k: v for k, v in calls.items() if v}
    max_calls += sum(v for k, v in calls.items() if k != "analyse")
    out_tokens = sum(OUT_TOKENS[k] * v for k, v in calls.items())
    rounds = {
        "analyse": turns_needed if trajectories else 0,
        "propose": 1,
        "merge": len(shape),
        "apply": 2,
        "total": math.ceil(n / config.workers) * (turns_needed + 1) + len(shape) + 2,
    }
    total_in, total_cached = sum(inputs.values()), sum(cached.values())
    return Estimate(
        skill=config.skill,
        model=config.model,
        trajectories=n,
        failures=failures,
        successes=n - failures,
        agentic=agentic,
        judged=judged,
        calls=calls,
        rounds=rounds,
        workers=config.workers,
        input_tokens=total_in,
        cached_tokens=total_cached,
        output_tokens=out_tokens,
        cost_usd=_cost(config.model, total_in, total_cached, out_tokens, config.price),
        max_calls=max_calls,
        assumptions=[
            f"an agentic error analysis takes {EXPECTED_TURNS} turns (at most {config.max_analyst_turns + 1})",
            f"a failure without a scorer asks the LLM judge {EXPECTED_JUDGE_CALLS} times",
            "every analysis yields lessons and a proposal (an upper bound)",
            f"{CHARS_PER_TOKEN} characters a token",
            "the shared prefix of each role is cached after its first call",
        ],
        notes=[*(notes or []), *selection.notes],
    )


def _judge_tokens(t: Trajectory) -> int:
    """The judge's prompt for this trajectory, sized from the real request (a short candidate answer)."""
    request = JudgeEvaluator(llm=_NO_LLM).request(Candidate(answer=t.final_answer or ""), judge_reference(t))
    return _tokens(request.system) + sum(_tokens(m.content) for m in request.messages) + 150


class _NoLLM:
    async def structured(self, request: Any, schema: Any) -> tuple[Any, Any]:
        raise AssertionError("a dry run calls no model")


_NO_LLM = _NoLLM()


def _cost(model: str | None, inp: int, cached: int, out: int, given: tuple[float, float] | None = None) -> float | None:
    if not model:
        return None
    from trace2skill.home import Home
    from trace2skill.llm import PriceTable, parse_model

    spec = parse_model(model)
    if spec.provider in ("local", "sampling"):
        return 0.0
    table = PriceTable.load(Home.resolve().root)
    if given is not None:
        table.set_price(spec.provider, spec.model, given)
    price = table.lookup(spec.provider, spec.model)
    if price is None:
        return None
    return round(price.cost(Usage(input_tokens=inp, cached_tokens=cached, output_tokens=out)), 6)
