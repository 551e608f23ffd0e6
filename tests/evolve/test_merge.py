from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from tests.doubles.llmserver import FakeLLMServer, Reply, ServerRequest
from tests.doubles.scripted import ScriptedProvider
from tests.doubles.simulated import chat_handler, make_skill, server_handler

from trace2skill.errors import ProviderError
from trace2skill.evolve.context import RunContext
from trace2skill.evolve.merge import merge_tree, tree_shape
from trace2skill.llm import LLM, ChatRequest, RetryPolicy, open_llm
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


# --- answers that do not fit, and what the merger is told (over the wire) ------------------------------------


def _wire_ctx(llm: Any, fan_in: int, evidence: dict[str, Any] | None = None) -> RunContext:
    config = EvolutionConfig(skill="sheets", fan_in=fan_in)
    return RunContext("r_wire", config, llm, make_skill(), evidence=dict(evidence or {}))


def _patch_count(req: ServerRequest) -> int:
    found = re.findall(r"^(\d+) patches to merge into one\.$", "\n".join(req.texts), re.MULTILINE)
    return int(found[0]) if found else 0


def _cut_off(protocol: str) -> Reply:
    """What a model sends when it runs out of output tokens mid-answer, in each protocol."""
    if protocol == "anthropic":  # the forced tool's input as far as it got: valid, but the edits are lost
        return Reply(data={"reasoning": "Merged the tips and"}, stop_reason="max_tokens")
    return Reply(text='{"reasoning": "Merged", "edits": [{"file": "SKILL.md", "op": "app', stop_reason="length")


def _tips(n: int, kinds: int) -> list[Patch]:
    """n one-edit proposals from runs t0..t(n-1); patch i teaches tip i % kinds."""
    out = []
    for i in range(n):
        edit = Edit(id=f"a{i}.e1", file="SKILL.md", op="append_to_section", target_section="## Tips")
        edit = edit.model_copy(update={"content": f"- Tip {i % kinds}.", "support": [f"t{i}"]})
        out.append(Patch(edits=[edit], support=[f"t{i}"]))
    return out


def _open(server: FakeLLMServer, protocol: str) -> Any:
    url = server.url if protocol == "anthropic" else f"{server.url}/v1"
    return open_llm(f"{protocol}:merger-model@{url}", retry=RetryPolicy(max_attempts=1))


@pytest.mark.anyio
@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_a_merge_cut_off_at_max_tokens_splits_its_group_and_still_merges_everything(protocol: str) -> None:
    def tight(req: ServerRequest) -> Any:  # room for an answer over at most two patches
        return _cut_off(protocol) if _patch_count(req) > 2 else server_handler(req)

    with FakeLLMServer(tight) as server:
        llm = _open(server, protocol)
        extras: list[dict[str, Any]] = []
        try:
            result = await merge_tree(_wire_ctx(llm, fan_in=6), _tips(6, 3), on_group=lambda *a: extras.append(a[3]))
        finally:
            await llm.aclose()
    assert [ex["passthrough"] for ex in extras] == [False]
    supports = sorted(sorted(e.support) for e in result.patch.edits)
    assert supports == [["t0", "t3"], ["t1", "t4"], ["t2", "t5"]]  # duplicates merged across the halves
    assert {e.content for e in result.patch.edits} == {"- Tip 0.", "- Tip 1.", "- Tip 2."}
    assert all(s.startswith("a") for e in result.patch.edits for s in e.sources)  # named by the group's inputs
    answered = [r for r in server.requests if _patch_count(r) <= 2]
    assert len(answered) == extras[0]["calls"] == 5  # two pairs, two halves, the halves' results
    assert any("did not fit in 16,384 output tokens" in note for note in extras[0]["notes"])


@pytest.mark.anyio
async def test_two_patches_too_large_to_merge_together_are_merged_section_by_section() -> None:
    def tight(req: ServerRequest) -> Any:  # room for two edits an answer
        text = "\n".join(req.texts)
        return _cut_off("anthropic") if text.count('{"id": ') > 2 else server_handler(req)

    def two_sections(i: int) -> Patch:
        tip = Edit(id=f"a{i}.e1", file="SKILL.md", op="append_to_section", target_section="## Tips", content="- Tip.")
        step = tip.model_copy(update={"id": f"a{i}.e2", "target_section": "## Workflow", "content": "- Step."})
        return Patch(edits=[e.model_copy(update={"support": [f"t{i}"]}) for e in (tip, step)], support=[f"t{i}"])

    with FakeLLMServer(tight) as server:
        llm = _open(server, "anthropic")
        extras: list[dict[str, Any]] = []
        try:
            result = await merge_tree(
                _wire_ctx(llm, 2), [two_sections(0), two_sections(1)], on_group=lambda *a: extras.append(a[3])
            )
        finally:
            await llm.aclose()
    assert extras[0]["passthrough"] is False and extras[0]["calls"] == 2
    assert sorted((e.target_section, e.support) for e in result.patch.edits) == [
        ("## Tips", ["t0", "t1"]),
        ("## Workflow", ["t0", "t1"]),
    ]
    assert "by section" in extras[0]["notes"][0]


@pytest.mark.anyio
async def test_the_merger_is_told_the_run_count_its_level_and_group_and_each_edits_failure_success_split() -> None:
    evidence = {f"t{i}": ("success" if i % 3 == 0 else "failure") for i in range(11)}  # t0, t3, t6, t9 succeeded
    with FakeLLMServer(server_handler) as server:
        llm = _open(server, "anthropic")
        try:
            await merge_tree(_wire_ctx(llm, 5, evidence), _patches(11))
        finally:
            await llm.aclose()
    texts = {r.last_user_text.splitlines()[0]: r.last_user_text for r in server.requests}
    assert set(texts) == {
        "Merge level 1 of 2, group 1 of 3.",
        "Merge level 1 of 2, group 2 of 3.",
        "Merge level 1 of 2, group 3 of 3.",
        "Merge level 2 of 2, group 1 of 1.",
    }
    first = texts["Merge level 1 of 2, group 1 of 3."]  # t0..t3
    assert "from 11 runs in all: 7 failed, 4 succeeded" in first
    assert "This group's inputs come from 4 of them (2 failed, 2 succeeded)." in first
    assert '{"id": "a0.e1", "support": 1, "failures": 0, "successes": 1,' in first
    top = texts["Merge level 2 of 2, group 1 of 1."]
    tip_a = next(json.loads(line) for line in top.splitlines() if '"- Tip A."' in line and line.startswith("{"))
    assert (tip_a["support"], tip_a["failures"], tip_a["successes"]) == (2, 1, 1)  # group 1's: t0 succeeded, t2 failed


@pytest.mark.anyio
async def test_each_group_gets_the_prompt_variant_of_its_evidence_and_one_system_text_per_variant() -> None:
    evidence = {"t0": "success", "t1": "success", "t2": "failure", "t3": "failure", "t4": "success", "t5": "failure"}
    ctx, provider = _ctx(chat_handler, fan_in=2)
    ctx.evidence.update(evidence)  # type: ignore[arg-type]
    await merge_tree(ctx, _patches(6))
    by_group = {r.messages[0].content.splitlines()[0]: r.system for r in provider.requests}
    assert "evidence: successes" in by_group["Merge level 1 of 3, group 1 of 3."]  # t0, t1
    assert "evidence: failures\n" in by_group["Merge level 1 of 3, group 2 of 3."]  # t2, t3
    assert "evidence: failures and successes" in by_group["Merge level 1 of 3, group 3 of 3."]  # t4, t5
    assert len({r.system for r in provider.requests}) == 3
    assert all(r.system.startswith("# Role: skill editor (merge)\n") for r in provider.requests)


@pytest.mark.anyio
async def test_a_merged_edit_aimed_at_a_missing_file_is_moved_to_skill_md_not_lost() -> None:
    def copies_a_path(req: ChatRequest) -> dict[str, Any]:
        edit = {"file": "references/notes.md", "op": "append_to_section", "target_section": "## Tips"}
        return {"edits": [{**edit, "content": "- Tip A.", "sources": ["a0.e1", "a2.e1"]}]}

    ctx, _ = _ctx(copies_a_path)
    extras: list[dict[str, Any]] = []
    result = await merge_tree(ctx, _patches(3), on_group=lambda *a: extras.append(a[3]))
    assert [(e.file, e.support) for e in result.patch.edits] == [("SKILL.md", ["t0", "t2"])]
    assert any("references/notes.md" in p and "moved there" in p for p in extras[0]["problems"])
