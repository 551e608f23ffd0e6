from __future__ import annotations

import math

import pytest

from trace2skill.evolve.merge_support import (
    attach_support,
    chunk_balanced,
    edit_support,
    merge_levels,
    number_edits,
    passthrough,
)
from trace2skill.models import LIMITS, Edit, Patch


def edit(content: str, **kw: object) -> Edit:
    return Edit(file="SKILL.md", op="append_to_section", target_section="## A", content=content, **kw)  # type: ignore[arg-type]


def proposal(traj: str, *contents: str, prefix: str) -> Patch:
    return number_edits(Patch(edits=[edit(c) for c in contents], support=[traj], changelog=[f"from {traj}"]), prefix)


@pytest.mark.parametrize(
    ("n", "b", "sizes"),
    [
        (0, 5, []),
        (1, 5, [1]),
        (5, 5, [5]),
        (6, 5, [3, 3]),
        (11, 5, [4, 4, 3]),
        (16, 5, [4, 4, 4, 4]),
        (26, 5, [5, 5, 4, 4, 4, 4]),
        (3, 2, [2, 1]),
    ],
)
def test_chunk_balanced_sizes(n: int, b: int, sizes: list[int]) -> None:
    assert [len(g) for g in chunk_balanced(list(range(n)), b)] == sizes


@pytest.mark.parametrize("n", range(2, 130))
@pytest.mark.parametrize("b", [2, 3, 5, 8])
def test_chunk_balanced_keeps_order_bounds_groups_and_avoids_singletons(n: int, b: int) -> None:
    groups = chunk_balanced(list(range(n)), b)
    assert [x for g in groups for x in g] == list(range(n))
    assert len(groups) == math.ceil(n / b)
    assert max(map(len, groups)) <= b
    assert max(map(len, groups)) - min(map(len, groups)) <= 1
    if b > 2 or n % 2 == 0 or n < 3:
        assert min(map(len, groups)) >= 2


def test_chunk_balanced_rejects_a_fan_in_below_two() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        chunk_balanced([1, 2], 1)


@pytest.mark.parametrize(
    ("n", "b", "levels"),
    [
        (0, 5, 0),
        (1, 5, 0),
        (2, 5, 1),
        (5, 5, 1),
        (6, 5, 2),
        (25, 5, 2),
        (26, 5, 3),
        (125, 5, 3),
        (126, 5, 4),
        (1000, 5, 5),
        (323, 5, 4),
        (1024, 2, 10),
        (1025, 2, 11),
    ],
)
def test_merge_levels_is_the_ceiling_of_log_b_n(n: int, b: int, levels: int) -> None:
    assert merge_levels(n, b) == levels


@pytest.mark.parametrize("n", [2, 7, 50, 200, 1000])
def test_merge_levels_equals_the_rounds_chunking_actually_runs(n: int) -> None:
    items: list[object] = list(range(n))
    rounds = 0
    while len(items) > 1:
        items = [tuple(g) for g in chunk_balanced(items, 5)]
        rounds += 1
    assert merge_levels(n, 5) == rounds


def test_number_edits_names_edits_in_order_without_touching_the_input() -> None:
    p = Patch(edits=[edit("a"), edit("b")])
    numbered = number_edits(p, "p17")
    assert [e.id for e in numbered.edits] == ["p17.e1", "p17.e2"]
    assert [e.id for e in p.edits] == [None, None]


def test_attach_support_unions_the_support_of_the_named_sources() -> None:
    p1 = proposal("t1", "x", "y", prefix="p1")
    p2 = proposal("t2", "x", prefix="p2")
    p3 = proposal("t3", "z", prefix="p3")
    merged = Patch(
        edits=[
            edit("x merged", id="m.e1", sources=["p2.e1", "p1.e1", "p1.e1"], support=["made-up"]),
            edit("z", id="m.e2", sources=["p3.e1"]),
        ]
    )
    out, problems = attach_support(merged, [p1, p2, p3])
    assert [e.support for e in out.edits] == [["t1", "t2"], ["t3"]]
    assert out.edits[0].sources == ["p2.e1", "p1.e1"]
    assert out.support == ["t1", "t2", "t3"]
    assert problems == []


def test_attach_support_uses_an_input_edits_own_support_at_higher_levels() -> None:
    level1 = Patch(edits=[edit("x", id="L1.e1", sources=["p1.e1"], support=["t1", "t4"])], support=["t1", "t4", "t9"])
    out, _ = attach_support(Patch(edits=[edit("x", id="L2.e1", sources=["L1.e1"])]), [level1])
    assert out.edits[0].support == ["t1", "t4"]


def test_attach_support_ignores_unknown_sources_and_removes_unsupported_edits() -> None:
    p1 = proposal("t1", "x", prefix="p1")
    merged = Patch(
        edits=[
            edit("x", id="m.e1", sources=["p1.e1", "p9.e9"]),
            edit("invented", id="m.e2", sources=["nope"]),
            edit("no sources", id="m.e3"),
        ]
    )
    out, problems = attach_support(merged, [p1])
    assert [e.id for e in out.edits] == ["m.e1"]
    assert out.edits[0].sources == ["p1.e1"] and out.edits[0].support == ["t1"]
    assert len(problems) == 3
    assert "p9.e9" in problems[0] and "m.e2" in problems[1] and "m.e3" in problems[2]
    assert all("unsupported" in p for p in problems[1:])


def test_an_edit_without_sources_is_traced_by_content_to_the_input_it_rewords_and_no_further() -> None:
    p1 = proposal("t1", "- Give the answer as the table writes it.", prefix="p1")
    p2 = proposal("t2", "- Give the answer as the table writes it", prefix="p2")
    p3 = proposal("t3", "- Count the rows twice.", prefix="p3")
    merged = Patch(
        edits=[
            edit("- Give the answer as the table writes it!", id="m.e1"),  # the model named no source
            edit("- Something no run said.", id="m.e2"),
        ]
    )
    out, problems = attach_support(merged, [p1, p2, p3])
    assert [e.id for e in out.edits] == ["m.e1"]
    assert out.edits[0].sources == ["p1.e1", "p2.e1"] and out.edits[0].support == ["t1", "t2"]
    assert "traced by its content to p1.e1, p2.e1" in problems[0] and "unsupported" in problems[1]


def test_passthrough_concatenates_inputs_with_ids_and_support() -> None:
    p1 = proposal("t1", "a", "b", prefix="p1")
    p2 = proposal("t2", "c", prefix="p2")
    out = passthrough([p1, p2])
    assert [e.id for e in out.edits] == ["p1.e1", "p1.e2", "p2.e1"]
    assert [e.support for e in out.edits] == [["t1"], ["t1"], ["t2"]]
    assert out.support == ["t1", "t2"] and out.changelog == ["from t1", "from t2"]
    assert edit_support(p1.edits[0], p1) == ["t1"]


def test_passthrough_over_the_edit_limit_keeps_the_best_supported_and_says_so() -> None:
    limit = LIMITS.edits_per_patch
    weak = Patch(edits=[edit(f"w{i}", id=f"w.e{i}") for i in range(limit)], support=["t1"])
    strong = Patch(edits=[edit(f"s{i}", id=f"s.e{i}", support=["t2", "t3"]) for i in range(10)], support=["t2", "t3"])
    out = passthrough([weak, strong])
    assert len(out.edits) == limit
    ids = [e.id for e in out.edits]
    assert all(f"s.e{i}" in ids for i in range(10)) and ids[-1] == "s.e9"
    assert "left out 10" in out.reasoning
