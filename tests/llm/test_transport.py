"""The providers' HTTP client (httpx2 with `LeanTransport`) against small raw HTTP/1.1 servers.

The servers are plain asyncio socket servers written here, so each test controls exactly what the
wire does: keep a connection, close it while idle, answer slowly or never, send a large or a
chunked answer, speak TLS. Every test runs on the standard event loop and on uvloop.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import hashlib
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from trace2skill.llm.provider import shared_ssl_context
from trace2skill.llm.transport import TRANSPORT_ENV, LeanTransport, http_client

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return "asyncio", {"use_uvloop": request.param == "uvloop"}


Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]
"""Writes the answer to one request body; returns False to close the connection afterwards."""


@dataclass
class RawServer:
    url: str
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed: asyncio.Queue[int] = field(default_factory=asyncio.Queue)  # connection numbers, as each closes


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        if name.strip().lower() == b"transfer-encoding":
            chunked = value.strip().lower() == b"chunked"
    if not chunked:
        return await reader.readexactly(length)
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return body


@asynccontextmanager
async def raw_server(reply: Reply, tls: ssl.SSLContext | None = None) -> AsyncIterator[RawServer]:
    state = RawServer(url="")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        number = state.connections
        try:
            while (body := await _read_request(reader)) is not None:
                state.requests.append(body)
                keep = await reply(body, writer)
                await writer.drain()
                if not keep:
                    break
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
            state.closed.put_nowait(number)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    state.url = f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:{port}"
    async with server:
        yield state
        server.close()


def answer(body: bytes, *, close: bool = False) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + (b"connection: close\r\n" if close else b"") + b"\r\n" + body


async def echo_digest(body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(hashlib.sha256(body).hexdigest().encode()))
    return True


def client(timeout: float = 10.0) -> httpx2.AsyncClient:
    return http_client(max_connections=4, timeout=timeout, verify=shared_ssl_context())


def lean_client(**options: float) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=LeanTransport(verify=shared_ssl_context(), **options))  # type: ignore[arg-type]


async def test_sequential_requests_reuse_one_kept_alive_connection() -> None:
    async with raw_server(echo_digest) as server, client() as http:
        for i in range(5):
            body = f"request {i}".encode()
            response = await http.post(server.url + "/x", content=body)
            assert response.text == hashlib.sha256(body).hexdigest()
    assert server.connections == 1 and len(server.requests) == 5


async def test_a_connection_the_server_dropped_while_idle_is_replaced_not_reused() -> None:
    async def once_then_drop(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"ok"))  # says nothing about closing, then closes: only the socket tells
        return False

    async with raw_server(once_then_drop) as server, client() as http:
        for i in range(3):
            response = await http.post(server.url + "/x", content=b"{}")
            assert response.text == "ok"
            assert await server.closed.get() == i + 1  # the server has closed its end of this connection
            await asyncio.sleep(0)  # one turn of the loop: the client's socket reports the close
    assert server.connections == 3


async def test_a_large_body_and_a_large_answer_arrive_whole() -> None:
    big_answer = bytes(range(256)) * 12_000  # 3 MB: several reads, and reading pauses at the high-water mark

    async def digest_and_big(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(hashlib.sha256(body).hexdigest().encode() + b"\n" + big_answer))
        return True

    body = b"x" * 1_500_000 + b"end"  # above the write-coalescing limit: sent while it is produced
    async with raw_server(digest_and_big) as server, client() as http:
        response = await http.post(server.url + "/x", content=body)
        digest, _, rest = response.content.partition(b"\n")
        assert digest.decode() == hashlib.sha256(body).hexdigest()
        assert rest == big_answer
        again = await http.post(server.url + "/x", content=b"small")
        assert again.content.startswith(hashlib.sha256(b"small").hexdigest().encode())
    assert server.connections == 1


async def test_a_streamed_chunked_answer_is_read_piece_by_piece() -> None:
    release = asyncio.Event()

    async def chunked(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n")
        writer.write(b"6\r\nfirst\n\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
        return True

    async with (
        raw_server(chunked) as server,
        client() as http,
        http.stream("POST", server.url + "/x", content=b"{}") as response,
    ):
        lines = response.aiter_lines()
        assert await lines.__anext__() == "first"  # arrived before the rest was even written
        release.set()
        assert [line async for line in lines] == ["second"]


async def test_a_silent_server_raises_a_read_timeout() -> None:
    async def never(body: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(30)
        return False

    async with raw_server(never) as server, client(timeout=0.2) as http:
        with pytest.raises(httpx2.ReadTimeout):
            await http.post(server.url + "/x", content=b"{}")


async def test_a_closed_port_raises_a_connect_error() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with client() as http:
        with pytest.raises(httpx2.ConnectError):
            await http.post(f"http://127.0.0.1:{port}/x", content=b"{}")


async def test_a_server_that_hangs_up_mid_answer_raises_a_protocol_error() -> None:
    async def half(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        return False

    async with raw_server(half) as server, client() as http:
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(server.url + "/x", content=b"{}")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_https_is_verified_against_the_trusted_certificates(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with raw_server(echo_digest, tls=server_tls) as server:
        async with http_client(max_connections=2, timeout=10.0, verify=trusting) as http:
            for _ in range(2):
                response = await http.post(server.url + "/x", content=b"secret")
                assert response.text == hashlib.sha256(b"secret").hexdigest()
        async with http_client(max_connections=2, timeout=10.0, verify=shared_ssl_context()) as http:
            with pytest.raises(httpx2.ConnectError, match=r"(?i)certificate"):
                await http.post(server.url + "/x", content=b"secret")
    assert server.requests == [b"secret", b"secret"]


async def test_a_close_delimited_http_1_0_answer_is_read_to_the_end_and_its_connection_not_reused() -> None:
    async def old_style(body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nall of it, up to the close")
        return False

    async with raw_server(old_style) as server, client() as http:
        for _ in range(2):
            response = await http.post(server.url + "/x", content=b"{}")
            assert response.text == "all of it, up to the close" and response.http_version == "HTTP/1.0"
    assert server.connections == 2


async def test_connection_close_and_bodiless_answers_are_honoured() -> None:
    async def varied(body: bytes, writer: asyncio.StreamWriter) -> bool:
        if body == b"empty":
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            return True
        if body == b"interim":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"after the interim answer"))
            return True
        writer.write(answer(b"bye", close=True))
        return False

    async with raw_server(varied) as server, client() as http:
        assert (await http.post(server.url + "/x", content=b"empty")).status_code == 204
        assert (await http.post(server.url + "/x", content=b"interim")).text == "after the interim answer"
        assert server.connections == 1  # both kept the connection
        assert (await http.post(server.url + "/x", content=b"close")).text == "bye"
        assert (await http.post(server.url + "/x", content=b"empty")).status_code == 204
    assert server.connections == 2  # "connection: close" was not reused


async def test_a_streamed_upload_is_sent_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"part {i};".encode()
            await asyncio.sleep(0)

    async with raw_server(echo_digest) as server, client() as http:
        response = await http.post(server.url + "/x", content=parts())
    assert server.requests == [b"part 0;part 1;part 2;"]
    assert response.text == hashlib.sha256(b"part 0;part 1;part 2;").hexdigest()


async def test_requests_beyond_the_connection_limit_wait_for_a_free_connection() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow_first(body: bytes, writer: asyncio.StreamWriter) -> bool:
        if body == b"first":
            started.set()
            await release.wait()
        writer.write(answer(body))
        return True

    async with raw_server(slow_first) as server, lean_client(max_connections=1) as http:
        first = asyncio.ensure_future(http.post(server.url + "/x", content=b"first"))
        await started.wait()
        second = asyncio.ensure_future(http.post(server.url + "/x", content=b"second"))
        await asyncio.sleep(0)
        assert not second.done() and server.requests == [b"first"]  # the second waits for the one connection
        release.set()
        assert [(await first).text, (await second).text] == ["first", "second"]
    assert server.connections == 1


async def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool() -> None:
    started = asyncio.Event()

    async def stall_first(body: bytes, writer: asyncio.StreamWriter) -> bool:
        if body == b"stall":
            started.set()
            await asyncio.sleep(30)
        writer.write(answer(b"fresh"))
        return True

    async with raw_server(stall_first) as server, lean_client(max_connections=1) as http:
        stalled = asyncio.ensure_future(http.post(server.url + "/x", content=b"stall"))
        await started.wait()
        stalled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stalled
        assert (await http.post(server.url + "/x", content=b"next")).text == "fresh"  # the limit of 1 was freed
    assert server.connections == 2


async def test_an_idle_connection_older_than_the_keep_alive_expiry_is_not_reused() -> None:
    async with raw_server(echo_digest) as server, lean_client(keepalive_expiry=0.0) as http:
        for _ in range(2):
            await http.post(server.url + "/x", content=b"{}")
    assert server.connections == 2


async def test_a_header_value_with_a_line_break_is_refused_before_sending() -> None:
    async with raw_server(echo_digest) as server, client() as http:
        with pytest.raises(httpx2.LocalProtocolError):
            await http.post(server.url + "/x", content=b"{}", headers={"x-note": "a\r\nx-injected: 1"})
    assert server.requests == []


async def test_a_compressed_answer_is_decoded_by_httpx() -> None:
    async def gzipped(body: bytes, writer: asyncio.StreamWriter) -> bool:
        packed = gzip.compress(b'{"ok": true}')
        head = f"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {len(packed)}\r\n\r\n"
        writer.write(head.encode() + packed)
        return True

    async with raw_server(gzipped) as server, client() as http:
        assert (await http.post(server.url + "/x", content=b"{}")).json() == {"ok": True}


async def test_the_environment_can_put_httpx_stock_transport_under_the_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TRANSPORT_ENV, "httpx")
    async with raw_server(echo_digest) as server, client() as http:
        assert not isinstance(http._transport, LeanTransport)
        assert (await http.post(server.url + "/x", content=b"stock")).text == hashlib.sha256(b"stock").hexdigest()
    monkeypatch.delenv(TRANSPORT_ENV)
    async with client() as http:
        assert isinstance(http._transport, LeanTransport)
