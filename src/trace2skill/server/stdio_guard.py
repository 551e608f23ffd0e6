"""stdio that answers every line: a line that is not a JSON-RPC message gets a JSON-RPC error back.

The SDK's stdio transport drops a line it cannot parse (it logs it at debug level and answers
nothing), so a client that sent one waits for an answer that never comes. `answering_stdio` sits
between the process's stdin/stdout and the SDK, using nothing of the SDK but its message type:

- a line that is not JSON is answered `-32700` (parse error), `id: null`;
- JSON that is not a JSON-RPC 2.0 message is answered `-32600` (invalid request), with the line's
  `id` when it has a usable one (so a client waiting on that id gets its answer), else `id: null`;
- a blank line is skipped; every other line reaches the SDK unchanged, and the server keeps serving.

Each line is checked with the same parser (`mcp_types.jsonrpc_message_adapter`, after the same
UTF-8 decoding) the transport uses, so a line refused here is exactly a line the SDK would drop.
The answers and the server's own messages go out through one writer, a whole line at a time, so
they never interleave. POSIX only (pipes and `select`); elsewhere the SDK's transport runs as is.
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import mcp_types as types
import pydantic_core
from mcp_types import INVALID_REQUEST, PARSE_ERROR
from pydantic import ValidationError

__all__ = ["answer_for", "answering_stdio"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


def answer_for(line: bytes) -> bytes | None:
    """The JSON-RPC error line that answers `line`, b"" for a blank line (skipped), None for a message to pass on."""
    text = line.decode("utf-8", "replace")  # what the SDK's transport decodes before parsing
    if not text.strip():
        return b""
    try:
        types.jsonrpc_message_adapter.validate_json(text, by_name=False)
        return None
    except ValidationError as e:
        not_json = any(error["type"] == "json_invalid" for error in e.errors())
    if not_json:
        return _error(None, PARSE_ERROR, "Parse error: the line is not JSON; send one JSON-RPC message per line")
    return _error(
        _id_of(text),
        INVALID_REQUEST,
        "Invalid Request: the line is JSON but not a JSON-RPC 2.0 request, notification or response",
    )


def _id_of(text: str) -> str | int | None:
    try:
        value: Any = pydantic_core.from_json(text)
    except ValueError:
        return None
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, str | int) and not isinstance(ident, bool) else None


def _error(ident: str | int | None, code: int, message: str) -> bytes:
    body = {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


class _Wire:
    """The real stdout, written a whole line at a time by the server's copier and the answerer alike."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()
        self.broken = False

    def write(self, data: bytes | bytearray) -> None:
        with self.lock:
            view = memoryview(data)
            while view and not self.broken:
                try:
                    view = view[os.write(self.fd, view) :]
                except BrokenPipeError:
                    self.broken = True  # the client is gone; the server ends when its stdin does


def _check_lines(source: IO[bytes], server_in: int, wire: _Wire) -> None:
    """Pass each message line on to the server's stdin; answer the others on the wire."""
    try:
        for line in source:
            answer = answer_for(line)
            if answer is None:
                _write_all(server_in, line)
            elif answer:
                log.info("answered a line that is not a JSON-RPC message (%d bytes)", len(line))
                wire.write(answer)
    except OSError as e:  # the server stopped reading: nothing more to pass on
        log.debug("stdin checker stopped: %s", e)
    finally:
        os.close(server_in)


def _copy_frames(server_out: int, wire: _Wire, stop: threading.Event) -> None:
    """Copy the server's output to the wire in whole lines; after `stop`, drain what is left and end."""
    pending = bytearray()
    while True:
        ready, _, _ = select.select([server_out], [], [], 0.05)
        if not ready:
            if stop.is_set():
                break
            continue
        chunk = os.read(server_out, _CHUNK)
        if not chunk:
            break
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            pending += chunk
            continue
        pending += chunk[:cut]
        wire.write(pending)
        pending = bytearray(chunk[cut:])
    if pending:
        wire.write(pending)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextmanager
def answering_stdio() -> Iterator[None]:
    """While inside, fd 0 and fd 1 are pipes to checker threads: the SDK's stdio transport reads and writes them
    as usual, and every line from the client that is not a JSON-RPC message is answered (see the module)."""
    if os.name != "posix":
        yield
        return
    real_in, real_out = os.dup(0), os.dup(1)
    to_server_r, to_server_w = os.pipe()
    from_server_r, from_server_w = os.pipe()
    os.dup2(to_server_r, 0)
    os.dup2(from_server_w, 1)
    os.close(to_server_r)
    os.close(from_server_w)
    wire = _Wire(real_out)
    stop = threading.Event()
    source = os.fdopen(real_in, "rb")
    checker = threading.Thread(target=_check_lines, args=(source, to_server_w, wire), daemon=True, name="stdin-check")
    copier = threading.Thread(target=_copy_frames, args=(from_server_r, wire, stop), daemon=True, name="stdout-copy")
    checker.start()
    copier.start()
    try:
        yield
    finally:
        os.dup2(real_in, 0)
        os.dup2(real_out, 1)  # our pipe's write end leaves fd 1, so the copier sees everything the server wrote
        stop.set()
        copier.join(timeout=5)
        with wire.lock:  # the checker (a daemon, perhaps still reading stdin) answers nothing more
            wire.broken = True
        if not copier.is_alive():
            os.close(from_server_r)
        os.close(real_out)
