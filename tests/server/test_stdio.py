"""`trace2skill serve` over stdio, line by line as a client writes it: every line that is not a JSON-RPC message is
answered (-32700 for text that is not JSON, -32600 for JSON of the wrong shape, with its id when it has one) and the
server keeps serving, in both protocol eras."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trace2skill.home import Home

TRACE2SKILL = Path(sys.executable).parent / "trace2skill"
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


class Wire:
    """The server's stdin and stdout, one JSON line at a time. A thread reads stdout as it comes, so the server
    never blocks on a full pipe while the test is still writing."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self.stdin, self.stdout = process.stdin, process.stdout
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def send(self, line: bytes | dict[str, Any]) -> None:
        data = json.dumps(line).encode() if isinstance(line, dict) else line
        self.stdin.write(data + b"\n")
        self.stdin.flush()

    def receive(self) -> dict[str, Any]:
        """The next answer (a result or an error), past any notification the server sends meanwhile."""
        while True:
            line = self.lines.get(timeout=60)
            assert line.endswith(b"\n"), line[:200]
            message = json.loads(line)
            if "id" in message:
                return message


@pytest.fixture
def wire(seeded: Home) -> Iterator[Wire]:
    env = {**os.environ, "TRACE2SKILL_HOME": str(seeded.root)}
    process = subprocess.Popen([str(TRACE2SKILL), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        yield Wire(process)
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        if process.stdout:
            process.stdout.close()


def _request(era: str, ident: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    params = dict(params or {})
    if era == "modern":
        params["_meta"] = MODERN_META
    return {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}


def _open(wire: Wire, era: str) -> None:
    if era == "modern":
        wire.send(_request(era, 1, "server/discover"))
        assert "result" in wire.receive()
        return
    client = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}
    wire.send(_request(era, 1, "initialize", client))
    result = wire.receive()["result"]
    assert result["protocolVersion"] == "2025-11-25"
    assert result["capabilities"]["resources"] == {"subscribe": True, "listChanged": True}
    wire.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_every_line_that_is_not_a_json_rpc_message_is_answered_and_the_server_keeps_serving(
    wire: Wire, era: str
) -> None:
    wire.send(b"hello, server?")
    not_json = wire.receive()
    wire.send(b'{"foo": 1}')
    wrong_shape = wire.receive()
    wire.send(b"")  # a blank line is no message: nothing to answer
    _open(wire, era)
    wire.send(b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": "record"}')
    with_id = wire.receive()
    wire.send(b'{"jsonrpc": "2.0", "id": 8, "method": "tools/list"')  # cut short
    cut_short = wire.receive()
    wire.send(_request(era, 9, "tools/call", {"name": "list_skills", "arguments": {}}))
    listed = wire.receive()
    wire.send(_request(era, 10, "prompts/get", {"name": "nope"}))
    no_prompt = wire.receive()
    parse_error = "Parse error: the line is not JSON; send one JSON-RPC message per line"
    assert not_json == {"jsonrpc": "2.0", "id": None, "error": {"code": PARSE_ERROR, "message": parse_error}}
    invalid = "Invalid Request: the line is JSON but not a JSON-RPC 2.0 request, notification or response"
    assert wrong_shape == {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": invalid}}
    assert with_id == {"jsonrpc": "2.0", "id": 7, "error": {"code": INVALID_REQUEST, "message": invalid}}
    assert (cut_short["id"], cut_short["error"]["code"]) == (None, PARSE_ERROR)
    assert listed["id"] == 9 and listed["result"]["structuredContent"]["skills"][0]["name"] == "sheets"
    assert no_prompt["id"] == 10 and no_prompt["error"]["code"] == INVALID_PARAMS


def test_large_messages_pass_both_ways_whole(wire: Wire) -> None:
    _open(wire, "legacy")
    outputs = [f"{i:02d}" + "x" * 190_000 for i in range(20)]  # 3.8 MB, each part under the text limit
    run = {"task": "Big", "skill": "sheets", "messages": [{"role": "tool", "content": o} for o in outputs]}
    wire.send(_request("legacy", 2, "tools/call", {"name": "record_trajectory", "arguments": {"trajectory": run}}))
    recorded = wire.receive()
    ident = recorded["result"]["structuredContent"]["id"]
    wire.send(_request("legacy", 3, "resources/read", {"uri": f"trajectory://{ident}"}))
    read = wire.receive()
    assert not recorded["result"].get("isError")
    stored = read["result"]["contents"][0]["text"]
    assert len(stored) > 3_800_000 and all(output in stored for output in outputs)


@pytest.mark.parametrize("era", ["legacy", "modern"])
def test_resources_subscribe_is_served_in_2025_and_unknown_in_2026(wire: Wire, era: str) -> None:
    _open(wire, era)
    wire.send(_request(era, 2, "resources/subscribe", {"uri": "skill://sheets/SKILL.md"}))
    subscribed = wire.receive()
    wire.send(_request(era, 3, "resources/subscribe", {"url": "skill://sheets/SKILL.md"}))
    malformed = wire.receive()
    wire.send(_request(era, 4, "resources/unsubscribe", {"uri": "skill://sheets/SKILL.md"}))
    unsubscribed = wire.receive()
    if era == "legacy":
        assert subscribed["result"] == {} and unsubscribed["result"] == {}
        assert malformed["error"] == {"code": INVALID_PARAMS, "message": "resources/subscribe: uri: Field required"}
    else:  # 2026-07-28 removed the method: subscriptions/listen replaces it
        assert {subscribed["error"]["code"], malformed["error"]["code"], unsubscribed["error"]["code"]} == {-32601}


def test_answers_to_bad_lines_never_split_the_servers_own_large_answers(wire: Wire) -> None:
    _open(wire, "legacy")
    outputs = [f"{i:02d}" + "y" * 190_000 for i in range(10)]  # a 1.9 MB run: each read of it is one long line
    run = {"task": "Big", "skill": "sheets", "messages": [{"role": "tool", "content": o} for o in outputs]}
    wire.send(_request("legacy", 2, "tools/call", {"name": "record_trajectory", "arguments": {"trajectory": run}}))
    ident = wire.receive()["result"]["structuredContent"]["id"]
    for n in range(40):
        wire.send(_request("legacy", 100 + n, "resources/read", {"uri": f"trajectory://{ident}"}))
        wire.send(b"garbage " * 50)
        wire.send(_request("legacy", 200 + n, "tools/call", {"name": "get_skill", "arguments": {"name": "sheets"}}))
    answers = [wire.receive() for _ in range(120)]  # each line parses: no answer was cut into another
    by_id = {a["id"]: a for a in answers if "id" in a and a["id"] is not None}
    assert sorted(by_id) == [*range(100, 140), *range(200, 240)]
    assert all(len(by_id[i]["result"]["contents"][0]["text"]) > 1_900_000 for i in range(100, 140))
    assert [a["error"]["code"] for a in answers if "id" in a and a["id"] is None] == [PARSE_ERROR] * 40
