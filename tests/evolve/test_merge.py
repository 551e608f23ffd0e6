from __future__ import annotations

import asyncio
from typing import Any

import pytest

from trace2skill.errors import ProviderError
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.merge import merge_tree, tree_shape
from trace2skill.evolve.simulated import chat_handler, make_skill
from trace2skill.llm import LLM, ChatRequest, ScriptedProvider
from trace2skill.models import Edit, EvolutionConfig, Patch


def _patches(n: int) -> list[Patch]:
    """n one-edit proposals; even ones teach A, odd ones teach B (so merging has duplicates)."""
    out = []
    for i in range(n):
        content = "- Tip A." if i % 2 == 0 else "- Tip B."
        edit = Edit(id=f"a{i}.e1", file="SKILL.md", op="append_to_section", target_section="## Tips", content=content)
        out.append(Patch(edits=[edit.model_copy(update={"support": [f"t{i}"]})], support=[f"t{i}"]))
    return out


def _ctx(handler: Any, fan_in: int = 5) -> tuple[RunContext, ScriptedProvider]:
    provider = ScriptedProvider(handler)
    return RunContext("r_m", EvolutionConfig(skill="sheets", fan_in=fan_in), LLM(provider), make_skill()), provider


def test_the_tree_has_balanced_groups_and_ceil_log_b_levels() -> None:
    assert tree_shape(11, 5) == [[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]], [[0, 1, 2]]]
    assert [len(level) for level in tree_shape(50, 5)] == [10, 2, 1]
    assert tree_shape(1, 5) == [] and len(tree_shape(126, 5)) == 4


@pytest.mark.anyio
async def test_merging_combines_recurring_edits_and_code_computes_their_support() -> None:
    ctx, provider = _ctx(chat_handler)
    saved: list[tuple[int, int]] = []
    result = await merge_tree(ctx, _patches(11), on_group=lambda lv, ix, p, extras: saved.append((lv, ix)))
    assert len(provider.requests) == 4 and result.levels == 2
    assert sorted(saved) == [(1, 0), (1, 1), (1, 2), (2, 0)]
    by_content = {e.content: e for e in result.patch.edits}
    assert by_content["- Tip A."].support == [f"t{i}" for i in sorted(range(0, 11, 2), key=str)]
    assert len(by_content["- Tip B."].support) == 5
    assert result.patch.support == sorted(f"t{i}" for i in range(11))
    assert all(e.id.startswith("m2.0.e") for e in result.patch.edits)


@pytest.mark.anyio
async def test_the_merger_sees_each_input_edits_support_count() -> None:
    ctx, provider = _ctx(chat_handler)
    await merge_tree(ctx, _patches(11))
    top = provider.requests[-1].messages[0].content
    assert '"support": 2' in top and '"support": 1' in top and "3 patches to merge into one." in top
    assert len({r.system for r in provider.requests}) == 1


@pytest.mark.anyio
async def test_support_claimed_by_the_model_is_ignored() -> None:
    def liar(req: ChatRequest) -> dict[str, Any]:
        edit = {"file": "SKILL.md", "op": "append_to_section", "target_section": "## Tips", "content": "- Tip A."}
        return {"edits": [{**edit, "sources": ["a0.e1", "zz.e9"], "support": ["t0", "t1", "t2", "t99"]}]}

    ctx, _ = _ctx(liar)
    result = await merge_tree(ctx, _patches(3))
    assert [e.support for e in result.patch.edits] == [["t0"]]


@pytest.mark.anyio
async def test_a_failed_merge_call_passes_its_inputs_through() -> None:
    def flaky(req: ChatRequest) -> Any:
        if '"id": "a0.e1"' in req.messages[0].content and "4 patches" in req.messages[0].content:
            raise ProviderError("model unavailable")
        return chat_handler(req)

    ctx, _ = _ctx(flaky)
    extras: list[dict[str, Any]] = []
    result = await merge_tree(ctx, _patches(11), on_group=lambda lv, ix, p, ex: extras.append(ex))
    assert sum(1 for ex in extras if ex["passthrough"]) == 1
    assert result.patch.support == sorted(f"t{i}" for i in range(11))
    by_content = {e.content: e for e in result.patch.edits}
    assert len(by_content["- Tip A."].support) == 6


@pytest.mark.anyio
async def test_groups_merged_by_an_earlier_attempt_are_not_merged_again() -> None:
    ctx, provider = _ctx(chat_handler)
    first = await merge_tree(ctx, _patches(11))
    ctx2, provider2 = _ctx(chat_handler)
    done = {(1, 0): Patch(edits=[], support=["t0", "t1", "t2", "t3"])}
    await merge_tree(ctx2, _patches(11), done=done)
    assert len(provider.requests) == 4 and len(provider2.requests) == 3
    assert first.levels == 2


@pytest.mark.anyio
async def test_the_groups_of_a_level_are_merged_at_the_same_time() -> None:
    arrived = asyncio.Event()
    waiting = 0

    async def together(req: ChatRequest) -> Any:
        nonlocal waiting
        if "4 patches" in req.messages[0].content or "3 patches" in req.messages[0].content:
            waiting += 1
            if waiting == 3:
                arrived.set()
            await asyncio.wait_for(arrived.wait(), timeout=5)
        return chat_handler(req)

    ctx, _ = _ctx(together)
    result = await merge_tree(ctx, _patches(11))
    assert result.levels == 2 and waiting >= 3
