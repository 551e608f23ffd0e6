"""Each guardrail has a scenario that only it catches; the last test proves that by switching each off."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from trace2skill.evolve import guardrails
from trace2skill.evolve.apply import DEFAULT_PROTECTED, apply_patch
from trace2skill.evolve.guardrails import (
    GuardrailResult,
    RuleResult,
    check_duplicates,
    check_overlaps,
    check_pairing,
    check_patch,
    check_paths,
    check_protected,
    check_shapes,
    mentioned_paths,
)
from trace2skill.models import EDIT_OPS, Edit, Patch, Skill

from .conftest import make_skill

LINK = "See [pivots](references/pivots.md) for pivot tables."


def E(op: str, file: str = "SKILL.md", **kw: object) -> Edit:
    return Edit(file=file, op=op, **kw)  # type: ignore[arg-type]


def good_edit() -> Edit:
    return E("append_to_section", target_section="## Writing", content="Save as .xlsx.", id="ok")


def check(skill: Skill, *edits: Edit, **kw: object) -> GuardrailResult:
    return check_patch(skill, Patch(edits=[good_edit(), *edits]), **kw)  # type: ignore[arg-type]


def dropped_by(result: GuardrailResult, edit_id: str) -> tuple[str, str] | None:
    for d in result.dropped:
        if d.edit.id == edit_id:
            return d.stage, d.reason
    return None


def kept_ids(result: GuardrailResult) -> list[str | None]:
    return [e.id for e in result.patch.edits]


# --- scenarios: each returns True when its guardrail caught the bad edit (and only it) ----------


def scenario_overlap(skill: Skill) -> bool:
    weak = E(
        "replace_in_section",
        old_text="Write formulas, not values.",
        content="Write formulas.",
        id="weak",
        support=["t1"],
    )
    strong = E(
        "replace_in_section", old_text="not values", content="never constants", id="strong", support=["t2", "t3"]
    )
    r = check(skill, weak, strong)
    return dropped_by(r, "weak") == ("guardrail.overlap", "overlaps edit strong") and kept_ids(r) == ["ok", "strong"]


def scenario_orphan_create(skill: Skill) -> bool:
    r = check(skill, E("create", file="references/pivots.md", content="# Pivots\n", id="c"))
    stage_reason = dropped_by(r, "c")
    return stage_reason is not None and stage_reason[0] == "guardrail.pairing" and "orphan create" in stage_reason[1]


def scenario_orphan_link(skill: Skill) -> bool:
    r = check(skill, E("append_to_section", target_section="## Reading", content=LINK, id="l"))
    stage_reason = dropped_by(r, "l")
    return stage_reason is not None and stage_reason[0] == "guardrail.pairing" and "orphan link" in stage_reason[1]


def scenario_dotdot_path(skill: Skill) -> bool:
    r = check(skill, E("create", file="references/../../evil.md", content="x", id="p"))
    stage_reason = dropped_by(r, "p")
    return stage_reason is not None and stage_reason[0] == "guardrail.path" and "'..'" in stage_reason[1]


def scenario_absolute_path(skill: Skill) -> bool:
    r = check(skill, E("create", file="/etc/cron.d/evil", content="x", id="p"))
    stage_reason = dropped_by(r, "p")
    return stage_reason is not None and stage_reason[0] == "guardrail.path" and "absolute" in stage_reason[1]


def scenario_protected(skill: Skill) -> bool:
    edit = E("replace_in_section", file="scripts/recalc.py", old_text="print('recalc')", content="pass", id="x")
    r = check(skill, edit, protected=DEFAULT_PROTECTED | {"scripts/recalc.py"})
    return dropped_by(r, "x") == ("guardrail.protected", "protected file 'scripts/recalc.py'")


def scenario_missing_anchor(skill: Skill) -> bool:
    edit = E("insert_after", target_text="Use VLOOKUP carefully.", content="Prefer INDEX/MATCH.", id="m")
    final = check(skill, edit)
    pending = check(skill, edit, repair_pending=True)
    stage_reason = dropped_by(final, "m")
    return (
        stage_reason is not None
        and stage_reason[0] == "guardrail.anchor"
        and stage_reason[1].startswith("anchor not found")
        and [e.id for e in pending.unanchored] == ["m"]
        and dropped_by(pending, "m") is None
        and "m" in pending.anchor_problems
    )


def scenario_shape(skill: Skill) -> bool:
    r = check(skill, E("add_section", content="No heading here.", id="s"))
    return (dropped_by(r, "s") or ("", ""))[0] == "guardrail.shape"


def scenario_duplicate(skill: Skill) -> bool:
    a = E("append_to_section", target_section="## Reading", content="- Check hidden rows.", id="a", support=["t1"])
    b = E("append_to_section", target_section="## Reading", content="- Check hidden rows.", id="b", support=["t2"])
    r = check(skill, a, b)
    kept = {e.id: e for e in r.patch.edits}
    return dropped_by(r, "b") == ("guardrail.duplicate", "duplicate of edit a") and kept["a"].support == ["t1", "t2"]


SCENARIOS: dict[str, tuple[Callable[[Skill], bool], str]] = {
    "overlapping edits": (scenario_overlap, "check_overlaps"),
    "orphan create": (scenario_orphan_create, "check_pairing"),
    "orphan link": (scenario_orphan_link, "check_pairing"),
    "'../' path": (scenario_dotdot_path, "check_paths"),
    "absolute path": (scenario_absolute_path, "check_paths"),
    "protected file": (scenario_protected, "check_protected"),
    "missing anchor": (scenario_missing_anchor, "check_anchors"),
    "malformed edit": (scenario_shape, "check_shapes"),
    "duplicate edit": (scenario_duplicate, "check_duplicates"),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_guardrail_catches_its_scenario(name: str, skill: Skill) -> None:
    scenario, _ = SCENARIOS[name]
    assert scenario(skill), name


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_guardrail_scenario_fails_with_its_rule_switched_off(
    name: str, skill: Skill, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, rule = SCENARIOS[name]

    def switched_off(*args: object, **kwargs: object) -> RuleResult:
        edits = args[1] if rule in ("check_anchors", "check_overlaps", "check_pairing") else args[0]
        return RuleResult(kept=list(edits))  # type: ignore[call-overload]

    monkeypatch.setattr(guardrails, rule, switched_off)
    assert not scenario(skill), f"{name} is still caught without {rule}"


def test_the_kept_edits_of_every_scenario_apply_cleanly(skill: Skill) -> None:
    r = check(skill)
    applied = apply_patch(skill, r.patch)
    assert not r.dropped and not applied.dropped and "Save as .xlsx." in applied.skill.skill_md


# --- the rules one by one -----------------------------------------------------------------------


def test_paths_are_normalised_and_case_look_alikes_refused(skill: Skill) -> None:
    r = check_paths(
        [
            E("create", file="./references//new.md", content="x"),
            E("create", file="references/Guide.md", content="x"),
            E("create", file="references/guide.md/deeper.md", content="x"),
            E("create", file="notes/x.md", content="x"),
            E("create", file="skill.md", content="x"),
        ],
        skill=skill,
    )
    assert [e.file for e in r.kept] == ["references/new.md"]
    reasons = [d.reason for d in r.dropped]
    assert "only by letter case" in reasons[0]
    assert "collides" in reasons[1]
    assert "outside SKILL.md" in reasons[2]
    assert "only by case" in reasons[3]


def test_protected_entries_match_paths_globs_and_bare_names() -> None:
    edits = [E("create", file=f, content="x") for f in ("references/LICENSE.txt", "scripts/a.py", "scripts/b.sh")]
    r = check_protected(edits, DEFAULT_PROTECTED | {"scripts/*.py"})
    assert [e.file for e in r.kept] == ["scripts/b.sh"]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (E("insert_after", content="x"), "needs target_text or target_section"),
        (E("insert_after", target_text="a"), "needs content"),
        (E("insert_before", file="scripts/recalc.py", target_section="# x", content="y"), "needs target_text"),
        (E("append_to_section", content="x"), "needs target_section"),
        (E("replace_in_section", content="x"), "needs old_text"),
        (E("replace_in_section", old_text="a"), "needs content"),
        (E("replace_in_section", old_text="a", content="a"), "changes nothing"),
        (E("add_section", content="text"), "must start with a Markdown heading"),
        (E("delete_section"), "needs target_section"),
        (E("create", file="references/a.md"), "create needs content"),
        (E("delete_section", file="scripts/recalc.py", target_section="x"), "needs a Markdown file"),
    ],
)
def test_shape_rule_names_what_an_edit_lacks(edit: Edit, problem: str) -> None:
    r = check_shapes([edit])
    assert not r.kept and problem in r.dropped[0].reason


def test_shape_rule_enforces_the_content_size_limit() -> None:
    edit = Edit.model_construct(file="SKILL.md", op="add_section", content="## A\n" + "x" * 100_001)
    r = check_shapes([edit])
    assert "the limit is 100,000" in r.dropped[0].reason


def test_overlap_ties_go_to_the_earlier_edit_and_same_point_insertions_coexist(skill: Skill) -> None:
    a = E("replace_in_section", old_text="not values", content="A", id="a")
    b = E("replace_in_section", old_text="formulas, not", content="B", id="b")
    c = E("append_to_section", target_section="## Writing", content="C", id="c")
    d = E("insert_before", target_text="## Checks", content="D", id="d")
    r = check_overlaps(skill, [a, b, c, d])
    assert [e.id for e in r.kept] == ["a", "c", "d"]
    assert r.dropped[0].reason == "overlaps edit a"


def test_an_edit_rewriting_another_edits_anchor_overlaps_it(skill: Skill) -> None:
    insert = E("insert_after", target_text="- Open with openpyxl.", content="- Then X.", id="i", support=["t1", "t2"])
    rewrite = E("replace_in_section", old_text="Open with openpyxl", content="Open with pandas", id="r")
    r = check_overlaps(skill, [rewrite, insert])
    assert [e.id for e in r.kept] == ["i"] and r.dropped[0].reason == "overlaps edit i"


def test_a_create_travels_with_its_link(skill: Skill) -> None:
    create = E("create", file="references/pivots.md", content="# Pivots\n", id="c")
    link = E("append_to_section", target_section="## Writing", content=LINK, id="l")
    r = check_patch(skill, Patch(edits=[create, link]))
    assert kept_ids(r) == ["c", "l"] and not r.dropped
    r = check_patch(skill, Patch(edits=[create, link.model_copy(update={"target_section": "## Nowhere"})]))
    assert {d.edit.id for d in r.dropped} == {"c", "l"}


def test_a_link_edit_that_loses_an_overlap_takes_its_create_with_it(skill: Skill) -> None:
    create = E("create", file="references/pivots.md", content="# Pivots\n", id="c")
    link = E("replace_in_section", old_text="not values.", content="not values. " + LINK, id="l")
    stronger = E(
        "replace_in_section", old_text="Write formulas, not values.", content="Formulas.", id="s", support=["t1"]
    )
    r = check_patch(skill, Patch(edits=[create, link, stronger]))
    assert kept_ids(r) == ["s"]
    assert dropped_by(r, "l") == ("guardrail.overlap", "overlaps edit s")
    assert "orphan create" in (dropped_by(r, "c") or ("", ""))[1]


def test_a_create_may_fill_a_link_that_s0_already_has() -> None:
    s = make_skill(make_skill().skill_md.replace("for charts.", "for charts; [pivots](references/pivots.md)."))
    r = check_pairing(s, [E("create", file="references/pivots.md", content="# P\n")])
    assert r.kept and not r.dropped


def test_a_pending_link_edit_keeps_its_create_until_the_final_check(skill: Skill) -> None:
    create = E("create", file="references/pivots.md", content="# Pivots\n", id="c")
    link = E("insert_after", target_text="Write formulas not values", content=LINK, id="l")
    pending = check_patch(skill, Patch(edits=[create, link]), repair_pending=True)
    assert kept_ids(pending) == ["c"] and [e.id for e in pending.unanchored] == ["l"]
    final = check_patch(skill, Patch(edits=[create, link]))
    assert {d.edit.id for d in final.dropped} == {"c", "l"}


def test_delete_file_must_travel_with_the_removal_of_its_link(skill: Skill) -> None:
    delete = E("delete_file", file="references/guide.md", id="d")
    r = check_patch(skill, Patch(edits=[delete]))
    assert "orphan delete" in (dropped_by(r, "d") or ("", ""))[1]
    unlink = E("replace_in_section", old_text="See [the guide](references/guide.md) for charts.", content="", id="u")
    r = check_patch(skill, Patch(edits=[delete, unlink]))
    assert kept_ids(r) == ["d", "u"] and not r.dropped
    applied = apply_patch(skill, r.patch)
    assert applied.skill.file("references/guide.md") is None and "guide.md" not in applied.skill.skill_md


def test_a_link_to_a_file_being_deleted_is_an_orphan_link(skill: Skill) -> None:
    delete = E("delete_file", file="references/guide.md", id="d")
    unlink = E("replace_in_section", old_text="See [the guide](references/guide.md) for charts.", content="", id="u")
    relink = E("append_to_section", target_section="## Checks", content="Charts: references/guide.md", id="r")
    r = check_patch(skill, Patch(edits=[delete, unlink, relink]))
    assert "orphan link" in (dropped_by(r, "r") or ("", ""))[1]


def test_mentions_cover_links_code_and_plain_paths_but_not_foreign_ones() -> None:
    text = (
        "[a](references/a.md), `python scripts/run.py`, see ./assets/logo.png. "
        "Not lib/references/x.md, not references/, not https://x.io/references/y.md#z"
    )
    assert mentioned_paths(text) == {"references/a.md", "scripts/run.py", "assets/logo.png"}


def test_existing_links_to_scripts_do_not_block_edits(skill: Skill) -> None:
    edit = E("append_to_section", target_section="## Reading", content="Run scripts/recalc.py again.", id="x")
    assert kept_ids(check_patch(skill, Patch(edits=[edit]))) == ["x"]


def test_duplicates_merge_support_and_sources() -> None:
    a = E("append_to_section", target_section="A", content="x\n", id="a", support=["t2"], sources=["p1.e1"])
    b = E("append_to_section", target_section="A", content="x", id="b", support=["t1"], sources=["p2.e1"])
    r = check_duplicates([a, b])
    assert r.kept[0].support == ["t1", "t2"] and r.kept[0].sources == ["p1.e1", "p2.e1"]


def test_check_patch_names_id_less_edits_and_keeps_patch_metadata(skill: Skill) -> None:
    patch = Patch(
        edits=[E("insert_after", target_text="nowhere", content="x"), good_edit()],
        reasoning="why",
        changelog=["line"],
        support=["t1"],
    )
    r = check_patch(skill, patch)
    assert r.dropped[0].edit.id == "e1"
    assert r.patch.reasoning == "why" and r.patch.changelog == ["line"] and r.patch.support == ["t1"]


def test_dropped_edits_come_back_in_patch_order(skill: Skill) -> None:
    edits = [
        E("insert_after", target_text="nowhere", content="x", id="1"),
        E("create", file="/abs", content="x", id="2"),
        E("add_section", content="no heading", id="3"),
    ]
    assert [d.edit.id for d in check_patch(skill, Patch(edits=edits)).dropped] == ["1", "2", "3"]


# --- the contract with apply ----------------------------------------------------------------------


def random_patch(rng: random.Random, skill: Skill) -> Patch:
    """Edits built from real and corrupted pieces of the skill: anchors that match, miss or repeat."""
    text = skill.skill_md
    lines = [ln for ln in text.splitlines() if ln.strip()]
    headings = [ln for ln in lines if ln.startswith("#")] + ["## Missing", "Reading", "dates"]
    pieces = [*lines, "openpyxl", "values", "nowhere at all", "references/guide.md", "| 1 |"]
    files = ["SKILL.md", "SKILL.md", "SKILL.md", "references/guide.md", "references/new.md", "scripts/recalc.py"]
    contents = ["- A new rule.", "## New part\n\nText.", "See references/new.md.", "x", "", "### Deeper\n\ny"]
    edits = []
    for i in range(rng.randint(1, 8)):
        op = rng.choice(EDIT_OPS)
        piece = rng.choice(pieces)
        edits.append(
            Edit.model_construct(
                file=rng.choice(files),
                op=op,
                target_section=rng.choice([None, rng.choice(headings)]),
                target_text=rng.choice([None, piece, piece[: max(1, len(piece) // 2)]]),
                old_text=rng.choice([None, piece]),
                after_section=rng.choice([None, rng.choice(headings)]),
                content=rng.choice([None, *contents]),
                id=f"r.e{i}",
                sources=[],
                support=[f"t{j}" for j in range(rng.randint(0, 3))],
            )
        )
    return Patch.model_construct(edits=edits, reasoning="", changelog=[], support=[])


def test_whatever_check_patch_keeps_apply_patch_applies(skill: Skill) -> None:
    rng = random.Random(7)
    kept_total = 0
    for _ in range(400):
        patch = random_patch(rng, skill)
        guarded = check_patch(skill, patch)
        result = apply_patch(skill, guarded.patch)
        assert result.dropped == [], [d.reason for d in result.dropped]
        assert len(result.applied) == len(guarded.patch.edits)
        assert len(guarded.patch.edits) + len(guarded.dropped) == len(patch.edits)
        kept_total += len(guarded.patch.edits)
        new = result.skill
        for created in (e.file for e in result.applied if e.op == "create"):
            assert created in new.skill_md
    assert kept_total > 200
