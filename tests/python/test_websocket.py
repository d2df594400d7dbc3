"""WebSockets end to end: the real ``lancet`` serving raw ASGI (apps/ws_apps.py), Starlette and
FastAPI (apps/ws_frameworks.py) WebSocket endpoints, driven by Debian's ``websockets`` 10.4
client and by a raw-socket client (RawWs below) for what a well-behaved client never sends.

Every wait is bounded (socket timeouts, asyncio.wait_for); every server binds 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import signal
import socket
import struct
import time
import zlib
from typing import Dict, List, Optional, Tuple

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from conftest import NATIVE_MISSING, LancetServer

pytestmark = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")

TIMEOUT = 10.0


def _raise_open_file_limit(want: int = 4096) -> None:
    """1,000 connections need about 2,100 descriptors between this process and the server
    (which inherits the limit: servers start after this module is imported)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


_raise_open_file_limit()


def run(coro, timeout: float = 30.0):
    """Runs a coroutine to completion in a fresh loop, bounded."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(server, path: str, **kw):
    kw.setdefault("open_timeout", TIMEOUT)
    kw.setdefault("close_timeout", 5)
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_size", None)
    return websockets.connect(f"ws://{server.host}:{server.port}{path}", **kw)


def events(server, path: Optional[str] = None) -> List[dict]:
    got = httpx.get(server.url + "/events", timeout=TIMEOUT).json()
    return [e for e in got if path is None or e.get("path") == path]


def wait_event(server, path: str, timeout: float = TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(server, path)
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no event for {path} within {timeout} s: {events(server)}")


# --------------------------------------------------------------------------- the raw client
class RawWs:
    """A WebSocket client on a plain socket: masked (or not) frames with any bytes, the
    handshake as written, bounded reads. For inputs the websockets library refuses to send."""

    def __init__(self, server, timeout: float = TIMEOUT, rcvbuf: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((server.host, server.port))
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def request(self, path: str, headers: Optional[List[Tuple[str, str]]] = None,
                key: Optional[str] = None, version: str = "13") -> None:
        key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Version: {version}"]
        if key:
            lines.append(f"Sec-WebSocket-Key: {key}")
        lines += [f"{k}: {v}" for k, v in headers or []]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def response_head(self) -> Tuple[int, Dict[str, str]]:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"EOF before a response head: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers

    def handshake(self, path: str = "/echo", headers=None) -> Dict[str, str]:
        self.request(path, headers)
        status, got = self.response_head()
        assert status == 101, (status, got, self.buf)
        return got

    def rest_until_close(self) -> bytes:
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True, mask: bool = True,
                   rsv1: bool = False) -> None:
        head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack("!H", n)
        else:
            head += bytes([m | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
                _mask_fast(payload, key)
            head += key
        self.sock.sendall(head + payload)

    def _read(self, n: int) -> Optional[bytes]:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self) -> Optional[Tuple[bool, bool, int, bytes]]:
        """(fin, rsv1, opcode, payload) of the server's next frame; None on EOF."""
        head = self._read(2)
        if head is None:
            return None
        assert head[1] & 0x80 == 0, "server frames are never masked (RFC 6455 §5.1)"
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        payload = self._read(n)
        return bool(head[0] & 0x80), bool(head[0] & 0x40), head[0] & 0x0F, payload

    def recv_close(self) -> Tuple[int, str]:
        """Skips data and ping frames up to the server's close frame: (code, reason)."""
        while True:
            frame = self.recv_frame()
            assert frame is not None, "EOF before a close frame"
            if frame[2] == 0x8:
                payload = frame[3]
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def eof_within(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def _mask_fast(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


def http_response(raw: bytes) -> Tuple[int, Dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


# --------------------------------------------------------------------------- servers
def _serve(tmp_path_factory, name: str, app: str, *flags: str) -> LancetServer:
    s = LancetServer(app, *flags, log_dir=tmp_path_factory.mktemp(name))
    return s.start(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = _serve(tmp_path_factory, "ws", "ws_apps:app")
    yield s
    rc = s.stop()
    assert rc == 0, f"lancet exited with {rc}\n{s.describe_output()}"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """Small limits: 64 KiB messages, a queue of 2, no compression, no pings."""
    s = _serve(tmp_path_factory, "ws-limited", "ws_apps:app", "--no-access-log",
               "--ws-max-size", "64K", "--ws-max-queue", "2", "--ws-per-message-deflate", "false",
               "--ws-ping-interval", "0")
    yield s
    rc = s.stop()
    assert rc == 0, f"lancet exited with {rc}\n{s.describe_output()}"


@pytest.fixture(autouse=True)
def fresh_events(request):
    for name in ("server", "limited"):
        if name in request.fixturenames:
            httpx.delete(request.getfixturevalue(name).url + "/events", timeout=TIMEOUT)


# --------------------------------------------------------------------------- messages
def test_echo_text_and_binary(server):
    async def go():
        async with connect(server, "/echo") as ws:
            await ws.send("héllo wörld")
            assert await ws.recv() == "héllo wörld"
            await ws.send(b"\x00\x01\xfe\xff")
            assert await ws.recv() == b"\x00\x01\xfe\xff"
            await ws.send("")
            assert await ws.recv() == ""
    run(go())


def test_one_mib_messages_both_ways(server):
    text = "".join(chr(0x41 + i % 26) for i in range(1 << 20))
    data = os.urandom(1 << 20)

    async def go():
        for compression in ("deflate", None):
            async with connect(server, "/echo", compression=compression) as ws:
                await ws.send(text)
                assert await ws.recv() == text
                await ws.send(data)
                assert await ws.recv() == data
    run(go())


def test_fragmented_input_with_a_ping_between_fragments(server):
    c = RawWs(server)
    try:
        c.handshake("/echo")
        c.send_frame(0x1, b"frag", fin=False)
        c.send_frame(0x9, b"are you there")  # control frames may interleave (§5.4)
        c.send_frame(0x0, b"mented ", fin=False)
        c.send_frame(0x0, "mëssage".encode())
        assert c.recv_frame() == (True, False, 0xA, b"are you there")
        assert c.recv_frame() == (True, False, 0x1, "fragmented mëssage".encode())
        # A code point split across fragments is fine (UTF-8 is checked across them).
        euro = "€".encode()
        c.send_frame(0x1, euro[:1], fin=False)
        c.send_frame(0x0, euro[1:])
        assert c.recv_frame() == (True, False, 0x1, euro)
    finally:
        c.close()


def test_message_after_a_cancelled_receive_reaches_the_next_receive(server):
    async def go():
        async with connect(server, "/timeout-receive") as ws:
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "timed out"
            await ws.send("late")
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "got late"
    run(go())


def test_client_ping_gets_a_pong(server):
    async def go():
        async with connect(server, "/echo") as ws:
            pong = await ws.ping(b"12345")
            await asyncio.wait_for(pong, TIMEOUT)
    run(go())


def test_thousand_concurrent_connections(server):
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2500:
        pytest.skip(f"ulimit -n is {soft}: 1,000 connections need about 2,100 descriptors")

    async def one(i: int, opened: asyncio.Event, ready: list) -> int:
        async with connect(server, "/echo", compression=None, open_timeout=60) as ws:
            ready.append(i)
            await asyncio.wait_for(opened.wait(), 60)  # every connection is open at once
            for k in range(3):
                await ws.send(f"{i}:{k}")
                assert await ws.recv() == f"{i}:{k}"
            return i

    async def go():
        opened = asyncio.Event()
        ready: list = []
        tasks = [asyncio.ensure_future(one(i, opened, ready)) for i in range(1000)]
        while len(ready) < 1000:
            done = [t for t in tasks if t.done()]
            for t in done:
                t.result()  # raises if a connection failed
            await asyncio.sleep(0.05)
        opened.set()
        assert sorted(await asyncio.gather(*tasks)) == list(range(1000))
    run(go(), timeout=100)


# --------------------------------------------------------------------------- closing
def test_client_close_code_and_reason_reach_the_app(server):
    async def go():
        async with connect(server, "/echo") as ws:
            await ws.send("x")
            await ws.recv()
            await ws.close(4001, "client says bye")
            assert ws.close_code == 4001
    run(go())
    got = wait_event(server, "/echo")
    assert (got["disconnect"], got["reason"]) == (4001, "client says bye")


def test_app_close_code_and_reason_reach_the_client(server):
    async def go():
        async with connect(server, "/echo") as ws:
            await ws.send("close 4002 server says bye")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert (ws.close_code, ws.close_reason) == (4002, "server says bye")
    run(go())


def test_empty_close_frame_is_1005_for_the_app(server):
    c = RawWs(server)
    try:
        c.handshake("/echo")
        c.send_frame(0x8, b"")
        assert c.recv_frame() == (True, False, 0x8, b"")  # echoed empty (§5.5.1)
        assert c.eof_within(5)
    finally:
        c.close()
    assert wait_event(server, "/echo")["disconnect"] == 1005


def test_disconnect_is_delivered_when_the_client_vanishes(server):
    c = RawWs(server)
    c.handshake("/disconnect")
    c.close()  # no close frame: the transport just ends
    got = wait_event(server, "/disconnect")
    assert got["code"] == 1006
    assert got["send_raised"].startswith("ClientDisconnected (OSError)"), got


def test_app_returning_or_raising_once_open_closes_1000_or_1011(server):
    async def close_code(path: str) -> int:
        async with connect(server, path) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code

    before = server.stderr().count("Exception in ASGI application")
    assert run(close_code("/return-after-accept")) == 1000
    assert run(close_code("/raise-after-accept")) == 1011
    time.sleep(0.2)
    err = server.stderr()
    assert "boom after accept" in err
    # Logged once, by the exchange; the app's task does not keep it for asyncio to log again.
    assert err.count("Exception in ASGI application") == before + 1, err
    assert "never retrieved" not in err, err


# --------------------------------------------------------------------------- the handshake
def test_subprotocol_and_accept_headers(server):
    async def go():
        async with connect(server, "/headers", subprotocols=["chat", "superchat"]) as ws:
            assert ws.subprotocol == "chat"
            assert ws.response_headers["x-accepted"] == "yes"
            assert await ws.recv() == "hi"
        async with connect(server, "/echo", subprotocols=["superchat", "chat"]) as ws:
            assert ws.subprotocol == "superchat"  # the app picked the first offered
    run(go())


def test_scope(server):
    async def go():
        async with connect(server, "/scope/caf%C3%A9?q=1&r=%20", subprotocols=["a", "b"],
                           extra_headers=[("X-Custom", "One")]) as ws:
            return json.loads(await ws.recv())
    scope = run(go())
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/scope/café"
    assert scope["raw_path"] == "/scope/caf%C3%A9"
    assert scope["query_string"] == "q=1&r=%20"
    assert scope["root_path"] == ""
    assert scope["subprotocols"] == ["a", "b"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["server"] == [server.host, server.port]
    assert scope["client"][0] == "127.0.0.1"
    headers = dict(scope["headers"])
    assert headers["x-custom"] == "One"
    assert headers["upgrade"] == "websocket"
    assert all(k == k.lower() for k, _ in scope["headers"])
    assert scope["has_state"] is True  # the app ran lifespan
    assert scope["has_method"] is False


def test_close_before_accept_is_403(server):
    async def go():
        with pytest.raises(InvalidStatusCode) as e:
            async with connect(server, "/reject"):
                pass
        return e.value.status_code
    assert run(go()) == 403
    c = RawWs(server)
    try:
        c.request("/reject")
        status, headers, body = http_response(c.rest_until_close())
        assert (status, headers["content-length"], body) == (403, "0", b"")
        assert headers["connection"] == "close"
    finally:
        c.close()


def test_denial_response(server):
    c = RawWs(server)
    try:
        c.request("/deny")
        status, headers, body = http_response(c.rest_until_close())
    finally:
        c.close()
    assert status == 401
    assert headers["x-denied"] == "yes"
    assert headers["connection"] == "close"
    body = body if "transfer-encoding" not in headers else _dechunk(body)
    assert body == b"denied: no token"
    got = wait_event(server, "/deny")
    assert (got["after"], got["code"]) == ("websocket.disconnect", 1006)


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return out


def test_app_failing_before_the_accept_is_500(server):
    async def status(path: str) -> int:
        with pytest.raises(InvalidStatusCode) as e:
            async with connect(server, path):
                pass
        return e.value.status_code
    assert run(status("/raise-before-accept")) == 500
    assert run(status("/return-before-accept")) == 500
    time.sleep(0.2)
    assert "boom before accept" in server.stderr()
    assert "ASGI callable returned without sending handshake" in server.stderr()


def test_invalid_handshakes_are_answered_without_the_app(server):
    c = RawWs(server)
    try:
        c.request("/echo", key="")  # no Sec-WebSocket-Key
        status, headers, body = http_response(c.rest_until_close())
        assert status == 400
        assert b"Sec-WebSocket-Key" in body
    finally:
        c.close()
    c = RawWs(server)
    try:
        c.request("/echo", version="8")
        status, headers, _ = http_response(c.rest_until_close())
        assert status == 426
        assert headers["sec-websocket-version"] == "13"
    finally:
        c.close()
    assert events(server, "/echo") == []


def test_send_before_accept_raises_in_the_app(server):
    async def go():
        async with connect(server, "/send-before-accept") as ws:
            return await ws.recv()
    assert run(go()) == ("RuntimeError: expected 'websocket.accept', 'websocket.close' or "
                         "'websocket.http.response.start', got 'websocket.send'")


def test_send_after_close_raises_in_the_app(server):
    async def go():
        async with connect(server, "/send-after-close") as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    run(go())
    got = wait_event(server, "/send-after-close")
    assert got["error"] == "RuntimeError: unexpected 'websocket.send' after 'websocket.close'"
    assert (got["receive"], got["code"]) == ("websocket.disconnect", 1000)


def test_access_log_names_the_websocket(server):
    async def go():
        async with connect(server, "/echo?z=1") as ws:
            await ws.send("x")
            await ws.recv()
    run(go())
    time.sleep(0.2)
    assert '"WebSocket /echo?z=1" [accepted]' in server.stdout() + server.stderr()


# --------------------------------------------------------------------------- compression
def test_compression_is_negotiated_and_works(server):
    async def go():
        async with connect(server, "/echo", compression="deflate") as ws:
            assert [type(e).__name__ for e in ws.extensions] == ["PerMessageDeflate"]
            text = "compressible " * 50000
            await ws.send(text)
            assert await ws.recv() == text
    run(go())
    # On the wire: the server's frames carry RSV1 and inflate to the message.
    c = RawWs(server)
    try:
        headers = c.handshake("/echo", [("Sec-WebSocket-Extensions",
                                         "permessage-deflate; client_max_window_bits")])
        assert headers["sec-websocket-extensions"].startswith("permessage-deflate")
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        message = b"squeeze me " * 1000
        payload = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
        c.send_frame(0x1, payload[:-4], rsv1=True)  # tail 00 00 ff ff removed (RFC 7692 §7.2.1)
        fin, rsv1, opcode, data = c.recv_frame()
        assert (fin, rsv1, opcode) == (True, True, 0x1)
        assert len(data) < len(message) // 10
        assert zlib.decompressobj(-15).decompress(data + b"\x00\x00\xff\xff") == message
    finally:
        c.close()


def test_compression_can_be_turned_off(limited):
    async def go():
        async with connect(limited, "/echo", compression="deflate") as ws:
            assert ws.extensions == []
            await ws.send("plain")
            assert await ws.recv() == "plain"
    run(go())


# --------------------------------------------------------------------------- bad input
def test_oversize_message_closes_1009(limited):
    async def go():
        async with connect(limited, "/echo") as ws:
            await ws.send("a" * (64 * 1024))  # exactly the limit: fine
            assert len(await ws.recv()) == 64 * 1024
            await ws.send("a" * (64 * 1024 + 1))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(go()) == 1009
    assert wait_event(limited, "/echo")["disconnect"] == 1009


def test_invalid_utf8_closes_1007(server):
    c = RawWs(server)
    try:
        c.handshake("/echo")
        c.send_frame(0x1, b"ok \xc3\x28 not")
        assert c.recv_close()[0] == 1007
        assert c.eof_within(5)
    finally:
        c.close()
    assert wait_event(server, "/echo")["disconnect"] == 1007


def test_unmasked_frame_closes_1002(server):
    c = RawWs(server)
    try:
        c.handshake("/echo")
        c.send_frame(0x1, b"naked", mask=False)
        assert c.recv_close()[0] == 1002
        assert c.eof_within(5)
    finally:
        c.close()
    assert wait_event(server, "/echo")["disconnect"] == 1002


@pytest.mark.parametrize("frame", [
    bytes([0x83, 0x80]) + b"\0\0\0\0",              # reserved opcode
    bytes([0xC1, 0x80]) + b"\0\0\0\0",              # RSV1 without an extension
    bytes([0x09, 0x80]) + b"\0\0\0\0",              # fragmented ping
    bytes([0x80, 0x81]) + b"\0\0\0\0x",             # continuation with nothing to continue
    bytes([0x88, 0x82]) + b"\0\0\0\0" + b"\x03\xed",  # close code 1005 on the wire
])
def test_protocol_errors_close_1002(server, frame):
    c = RawWs(server)
    try:
        c.handshake("/echo")
        c.sock.sendall(frame)
        assert c.recv_close()[0] == 1002
    finally:
        c.close()


def test_receive_queue_bound_pushes_back_on_the_client(limited):
    """--ws-max-queue 2: while the app sleeps, Lancet holds two messages and stops reading, so
    the client's socket fills up; everything arrives once the app reads."""
    n = 512
    frame_payload = b"q" * 60000
    c = RawWs(limited)
    try:
        c.handshake("/pause")
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        key = b"\0\0\0\0"  # a zero mask leaves the payload as is
        frame = bytes([0x82, 0x80 | 126]) + struct.pack("!H", len(frame_payload)) + key + frame_payload
        c.sock.setblocking(False)
        sent = 0
        total = n * len(frame)
        deadline = time.monotonic() + 1.0  # the app sleeps for 2 s
        data = frame * n
        while sent < total and time.monotonic() < deadline:
            try:
                sent += c.sock.send(data[sent:sent + (1 << 20)])
            except BlockingIOError:
                time.sleep(0.01)
        assert sent < total // 2, f"the server read {sent} of {total} bytes without the app"
        c.sock.setblocking(True)
        c.sock.settimeout(30)
        c.sock.sendall(data[sent:])
        c.send_frame(0x1, b"end")
        assert c.recv_frame() == (True, False, 0x1, str(n).encode())
    finally:
        c.close()


def test_send_backpressure_waits_for_the_client(server):
    """The app sends 48 MiB; while the client does not read, send() waits (above 64 KiB
    unwritten), so only a few sends complete; all of them once the client reads."""
    httpx.delete(server.url + "/events", timeout=TIMEOUT)
    c = RawWs(server, rcvbuf=64 * 1024, timeout=30)
    try:
        c.handshake("/flood?n=48")
        time.sleep(1.0)
        early = len(events(server, "/flood"))
        assert early < 24, f"{early} sends of 1 MiB completed while the client read nothing"
        got = 0
        while got < 48:
            frame = c.recv_frame()
            assert frame is not None
            if frame[2] == 0x2:
                assert len(frame[3]) == 1 << 20
                got += 1
    finally:
        c.close()
    assert wait_event(server, "/flood")["sent"] == 48


# --------------------------------------------------------------------------- keepalive
def test_unanswered_pings_close_1011(lancet_server):
    server = lancet_server("ws_apps:app", "--no-access-log", "--ws-ping-interval", "0.3",
                           "--ws-ping-timeout", "0.3")
    c = RawWs(server)
    try:
        c.handshake("/echo")
        fin, _, opcode, payload = c.recv_frame()
        assert opcode == 0x9  # a keepalive ping we never answer
        assert c.recv_close()[0] == 1011
    finally:
        c.close()
    assert wait_event(server, "/echo")["disconnect"] == 1011


def test_answered_pings_keep_the_connection(lancet_server):
    server = lancet_server("ws_apps:app", "--no-access-log", "--ws-ping-interval", "0.2",
                           "--ws-ping-timeout", "0.2")

    async def go():
        async with connect(server, "/echo", ping_interval=None) as ws:  # the library pongs
            await asyncio.sleep(1.2)
            await ws.send("still here")
            assert await ws.recv() == "still here"
    run(go())


# --------------------------------------------------------------------------- server modes
def test_ws_none_serves_handshakes_as_http(lancet_server):
    server = lancet_server("ws_apps:app", "--no-access-log", "--ws", "none")
    c = RawWs(server)
    try:
        c.request("/echo")
        status, _ = c.response_head()
        assert status == 200
    finally:
        c.close()


def test_shutdown_closes_open_websockets_with_1001(lancet_server):
    server = lancet_server("ws_apps:app", "--no-access-log")

    async def go():
        async with connect(server, "/echo") as ws:
            await ws.send("x")
            await ws.recv()
            os.kill(server.proc.pid, signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(go()) == 1001
    assert server.proc.wait(15) == 0


def test_server_stays_up_after_the_bad_inputs(server, limited):
    for s in (server, limited):
        assert s.proc.poll() is None
        assert httpx.get(s.url + "/anything", timeout=TIMEOUT).text == "plain http"

        async def go():
            async with connect(s, "/echo") as ws:
                await ws.send("alive")
                assert await ws.recv() == "alive"
        run(go())


# --------------------------------------------------------------------------- frameworks
@pytest.fixture(scope="module", params=["starlette", "fastapi"])
def framework(request, tmp_path_factory):
    s = _serve(tmp_path_factory, request.param, f"ws_frameworks:{request.param}_app",
               "--no-access-log")
    s.framework = request.param
    yield s
    rc = s.stop()
    assert rc == 0, f"lancet exited with {rc}\n{s.describe_output()}"


def test_framework_echo_and_close(framework):
    async def go():
        async with connect(framework, "/echo") as ws:
            await ws.send("text")
            assert await ws.recv() == "text"
            await ws.send(b"\x01\x02")
            assert await ws.recv() == b"\x01\x02"
            await ws.send("bye")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code
    assert run(go()) == 4010


def test_framework_sees_the_client_close(framework):
    async def go():
        async with connect(framework, "/echo") as ws:
            await ws.close(4020)
    run(go())
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        got = httpx.get(framework.url + "/events", timeout=TIMEOUT).json()
        if {"framework": framework.framework, "disconnect": 4020} in got:
            return
        time.sleep(0.05)
    raise AssertionError(got)


def test_framework_reject_is_403(framework):
    async def go():
        with pytest.raises(InvalidStatusCode) as e:
            async with connect(framework, "/reject"):
                pass
        return e.value.status_code
    assert run(go()) == 403


def test_framework_json(framework):
    async def go():
        async with connect(framework, "/json") as ws:
            await ws.send(json.dumps({"a": [1, 2]}))
            return json.loads(await ws.recv())
    assert run(go()) == {"got": {"a": [1, 2]}, "path": "/json", "framework": framework.framework}


def test_fastapi_path_and_query_parameters(framework):
    if framework.framework != "fastapi":
        pytest.skip("FastAPI's parameter injection")

    async def go():
        async with connect(framework, "/items/42?q=hi") as ws:
            return json.loads(await ws.recv())
    assert run(go()) == {"item_id": 42, "q": "hi"}
