from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.importers import jsonstream
from trace2skill.importers.jsonstream import JsonStreamError, iter_json


def test_array_elements_stream_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "_CHUNK", 7)  # force every element to straddle reads
    items = [1234567890, {"a": "x" * 50, "b": [1, 2, {"c": None}]}, "str", 2.5e10, True, None, [], {"k": "ü"}]
    path = tmp_path / "a.json"
    path.write_text("\ufeff  [\n" + ",\n ".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n")
    assert [v for _, v in iter_json(path)] == items
    assert [i for i, _ in iter_json(path)] == list(range(len(items)))


def test_a_non_array_document_is_yielded_once(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text('{"messages": []}')
    assert list(iter_json(path)) == [(None, {"messages": []})]


def test_a_malformed_element_stops_after_the_good_ones_with_its_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonstream, "_CHUNK", 16)
    path = tmp_path / "bad.json"
    path.write_text('[{"ok": 1}, {"ok": 2}, {"broken": ]')
    seen = []
    with pytest.raises(JsonStreamError, match="at character"):
        for _, value in iter_json(path):
            seen.append(value)
    assert seen == [{"ok": 1}, {"ok": 2}]
    truncated = tmp_path / "cut.json"
    truncated.write_text('[{"ok": 1}, ')
    with pytest.raises(JsonStreamError, match="unexpected end of file"):
        list(iter_json(truncated))
