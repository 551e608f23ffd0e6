from __future__ import annotations

import re
import threading
import time

from ulid import ULID

from trace2skill.models import Trajectory
from trace2skill.store import new_id
from trace2skill.store.ids import new_ids

ID = re.compile(r"^t_[0-9a-hjkmnp-tv-z]{26}$")


def test_ids_are_prefixed_lowercase_ulids_that_match_the_trajectory_id_pattern() -> None:
    before = time.time_ns() // 1_000_000
    ident = new_id()
    assert ID.match(ident)
    assert Trajectory(id=ident, task="x", messages=[]).id == ident
    assert before <= ULID.from_str(ident.removeprefix("t_").upper()).milliseconds <= before + 60_000
    assert new_id("r_").startswith("r_")


def test_ids_sort_by_time_and_count_up_within_a_millisecond() -> None:
    older = new_id(now_ms=1_700_000_000_000)
    newer = new_id(now_ms=1_700_000_000_001)
    assert older < newer
    burst = [new_id(now_ms=1_800_000_000_000) for _ in range(1000)]
    assert burst == sorted(burst) and len(set(burst)) == 1000
    assert all(i[2:12] == burst[0][2:12] for i in burst)  # one time prefix


def test_ids_of_the_earlier_18_character_form_sort_among_new_ones_by_time() -> None:
    earlier = new_id(now_ms=1_700_000_000_000)[:20]  # the old form: the same time characters, 8 random ones
    later = new_id(now_ms=1_700_000_000_001)
    assert new_id(now_ms=1_699_999_999_999) < earlier < later


def test_ids_from_many_threads_are_unique() -> None:
    minted: list[list[str]] = [[] for _ in range(8)]

    def mint(slot: int) -> None:
        minted[slot].extend(new_id() for _ in range(2000))

    threads = [threading.Thread(target=mint, args=(s,)) for s in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [i for chunk in minted for i in chunk]
    assert len(set(everything)) == 16_000
    assert all(chunk == sorted(chunk) for chunk in minted)


def test_ids_minted_together_sort_in_minting_order() -> None:
    before = new_id()
    together = new_ids(300)
    after = new_id()
    assert all(ID.match(ident) for ident in together)
    assert [before, *together, after] == sorted({before, *together, after})  # unique and in minting order
    assert new_ids(0) == []
