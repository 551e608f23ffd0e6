from __future__ import annotations

import re
import threading

from trace2skill.models import Trajectory
from trace2skill.store import new_id
from trace2skill.store.ids import _encode, new_ids

ID = re.compile(r"^t_[0-9a-hjkmnp-tv-z]{18}$")


def test_ids_are_short_url_safe_and_match_the_trajectory_id_pattern() -> None:
    ident = new_id()
    assert ID.match(ident)
    assert Trajectory(id=ident, task="x", messages=[]).id == ident
    assert new_id("r_").startswith("r_")


def test_ids_sort_by_time_and_count_up_within_a_millisecond() -> None:
    older = new_id(now_ms=1_700_000_000_000)
    newer = new_id(now_ms=1_700_000_000_001)
    assert older < newer
    burst = [new_id(now_ms=1_800_000_000_000) for _ in range(1000)]
    assert burst == sorted(burst) and len(set(burst)) == 1000
    assert all(i[2:12] == burst[0][2:12] for i in burst)  # one time prefix


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


def test_ids_minted_together_match_ids_minted_one_by_one() -> None:
    before = new_id()
    together = new_ids(300)
    after = new_id()
    assert all(ID.match(ident) for ident in together)
    assert [before, *together, after] == sorted({before, *together, after})  # unique and in minting order
    assert new_ids(0) == []
    # The spelled-out encoding is the general one.
    assert together[0][12:] == _encode(int(together[0][12:].translate(_DECODE), 32), 8)


_DECODE = str.maketrans("0123456789abcdefghjkmnpqrstvwxyz", "0123456789abcdefghijklmnopqrstuv")
