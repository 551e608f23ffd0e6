from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from trace2skill.importers import import_paths, jsonstream
from trace2skill.importers.jsonstream import JsonStreamError, iter_json

MB = 1024 * 1024


def read_until_error(path: Path) -> tuple[list[object], JsonStreamError]:
    seen = []
    with pytest.raises(JsonStreamError) as caught:
        for _, value in iter_json(path):
            seen.append(value)
    return seen, caught.value


def test_array_elements_stream_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "_CHUNK", 7)  # force every element to straddle reads
    items = [1234567890, {"a": "x" * 50, "b": [1, 2, {"c": None}]}, "str", 2.5e10, True, None, [], {"k": "ü"}]
    path = tmp_path / "a.json"
    path.write_text("\ufeff  [\n" + ",\n ".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n]\n")
    assert [v for _, v in iter_json(path)] == items
    assert [i for i, _ in iter_json(path)] == list(range(len(items)))
    assert type(dict(iter_json(path))[3]) is float  # not ijson's default Decimal


def test_a_non_array_document_is_yielded_once(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text('{"messages": []}')
    assert list(iter_json(path)) == [(None, {"messages": []})]


@pytest.mark.parametrize("chunk", [1, 16, 1 << 16])
def test_a_malformed_element_stops_after_the_good_ones_at_its_exact_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
    path = tmp_path / "bad.json"
    path.write_bytes('[{"ok": "é"}, {"ok": 2}, {"broken": ], {"ok": 3}]'.encode())
    seen, error = read_until_error(path)
    assert seen == [{"ok": "é"}, {"ok": 2}]
    assert error.offset == path.read_bytes().index(b"]") and error.read == 2
    assert str(error) == (
        f"parse error: unallowed token at this point in JSON text at byte {error.offset}; "
        "2 elements of the top-level array read before it, nothing after it"
    )
    truncated = tmp_path / "cut.json"
    truncated.write_text('[{"ok": 1}, ')
    seen, error = read_until_error(truncated)
    assert seen == [{"ok": 1}] and error.offset == 12 and "premature EOF at byte 12" in str(error)


def test_text_after_the_array_is_reported_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text("[1, 2]\n[3]")
    seen, error = read_until_error(path)
    assert seen == [1, 2] and error.offset == 7 and "trailing garbage" in str(error)


def test_a_malformed_element_early_in_a_30_mb_array_is_reported_in_bounded_memory(tmp_path: Path) -> None:
    element = json.dumps({"role": "assistant", "content": "words and more words " * 200})
    path = tmp_path / "big.json"
    with path.open("w") as handle:
        handle.write("[" + ",".join([element] * 10) + ', {"broken": ]')
        while handle.tell() < 30 * MB:
            handle.write(("," + element) * 500)
        handle.write("]")
    tracemalloc.start()
    try:
        seen, error = read_until_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(seen) == 10 and error.offset == path.read_bytes().index(b"]")
    assert peak < 2 * MB  # the file is never held: a read, the parser's state and one element


@pytest.mark.parametrize("chunk", [7, 1 << 16])
def test_nesting_past_the_limit_stops_at_its_byte_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
    depth = 5_000  # ijson's prefixes alone would take some 60 MB for this 10 KB file
    path = tmp_path / "deep.json"
    path.write_text("[1, " + '{"a": [' * (depth // 2) + "]}" * (depth // 2) + ", 2]")
    shallow = tmp_path / "shallow.json"
    shallow.write_text("[" + "[" * (jsonstream.MAX_DEPTH - 1) + "]" * (jsonstream.MAX_DEPTH - 1) + "]")
    assert len(list(iter_json(shallow))) == 1  # the top-level array is the first level
    tracemalloc.start()
    try:
        seen, error = read_until_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == [1] and peak < 4 * MB
    pair = (jsonstream.MAX_DEPTH + 1 - 3) // 2  # pair k (7 bytes from byte 4) opens levels 2k + 2 and 2k + 3
    assert error.offset == 4 + 7 * pair + 6  # its `[`, level MAX_DEPTH + 1
    assert str(error).startswith(f"lists and objects nested deeper than {jsonstream.MAX_DEPTH} levels at byte")


@pytest.mark.parametrize("chunk", [1, 5, 1 << 16])
def test_invalid_utf8_is_one_line_with_its_byte_offset_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
    path = tmp_path / "latin1.json"
    path.write_bytes(b'[{"name": "caf\xc3\xa9"}, {"name": "caf\xe9"}, {"name": "ok"}]')
    seen, error = read_until_error(path)
    assert seen == [{"name": "café"}]
    assert error.offset == path.read_bytes().index(b'\xe9"')
    assert str(error) == (
        f"invalid UTF-8 at byte {error.offset}; 1 element of the top-level array read before it, nothing after it"
    )
    assert "\n" not in str(error)
    cut = tmp_path / "cut.json"
    cut.write_bytes(b'["a", "\xe2\x82')  # a character cut off by the end of the file
    seen, error = read_until_error(cut)
    assert seen == ["a"] and error.offset == 7 and str(error).startswith("invalid UTF-8 at byte 7;")


def test_a_single_document_reports_bad_json_and_bad_utf8_by_byte(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": "\xc3\xbc",\n "b": }')
    seen, error = read_until_error(path)
    assert seen == [] and error.offset == path.read_bytes().index(b"}")
    assert str(error) == f"Expecting value at byte {error.offset} (line 2, column 7)"
    path.write_bytes(b'{"a": "\xff"}')
    seen, error = read_until_error(path)
    assert error.offset == 7 and str(error) == "invalid UTF-8 at byte 7"


def test_an_importer_keeps_the_records_before_bad_bytes_and_names_the_file_once(tmp_path: Path) -> None:
    record = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    path = tmp_path / "chats.json"
    path.write_bytes(
        b"[" + json.dumps(record).encode() + b', {"messages": "\xff"}, ' + json.dumps(record).encode() + b"]"
    )
    items = list(import_paths([path], "openai-chat"))
    assert [bool(item.trajectory) for item in items] == [True, False]
    offset = path.read_bytes().index(b"\xff")
    assert items[1].source == str(path)
    assert items[1].error == (
        f"invalid JSON: invalid UTF-8 at byte {offset}; 1 element of the top-level array read before it, "
        "nothing after it"
    )
