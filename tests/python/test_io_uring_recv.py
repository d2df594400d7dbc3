"""The io_uring backend's receive path, end to end (backends/io_uring/buffer_ring.hpp, server.cpp):
multishot recv from one provided-buffer ring per server, and the one-shot fallback for kernels
without buffer rings (forced with LANCET_TEST_URING_NO_BUFFER_RING=1, a test-only knob), each in
both I/O modes (on the loop thread, and with --io-thread).

Skipped on the other backends.
"""
from __future__ import annotations

import hashlib
import os
import select
import socket
import time

import httpx
import pytest

from conftest import NATIVE_MISSING, LancetServer

pytestmark = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")

TIMEOUT = 30


def _backend() -> str:
    if NATIVE_MISSING is not None:
        return ""
    from lancet import _lancet
    return _lancet.backend_name()


if NATIVE_MISSING is None and _backend() != "io_uring":
    pytestmark = pytest.mark.skip(reason="io_uring backend only (this build: %s)" % _backend())

RECV = {"ring": {}, "no-ring": {"LANCET_TEST_URING_NO_BUFFER_RING": "1"}}
MODES = {"loop-thread": (), "io-thread": ("--io-thread",)}
COMBOS = [(r, m) for r in sorted(RECV) for m in sorted(MODES)]


def _start(app, recv, mode):
    return LancetServer(app, *MODES[mode], "--no-access-log", env=RECV[recv]).start()


@pytest.fixture(params=COMBOS, ids=["%s-%s" % c for c in COMBOS])
def server(request):
    s = _start("uring_apps:app", *request.param)
    yield s
    s.stop()


def _raw_get(sock, target: str) -> bytes:
    sock.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    return _read_response(sock)


_LEFTOVER = {}  # socket -> bytes read past the last response (pipelining)


def _read_response(sock) -> bytes:
    """One Content-Length response's body; bytes of the next response stay for the next call."""
    buf = _LEFTOVER.pop(sock, b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "EOF before the head"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
                 .split(b":")[1])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "EOF in the body"
        body += chunk
    if len(body) > length:
        _LEFTOVER[sock] = body[length:]
    return body[:length]


def test_pipelined_request_survives_its_receive_buffer_being_reused(server):
    # The second request arrives in the same recv as the first and waits unparsed (one request
    # at a time) while the first one's app sleeps. Meanwhile another connection's requests take
    # every provided buffer in turn, so the first recv's buffer is refilled by the kernel: the
    # waiting bytes must have been kept out of it (http1 keep_input) before it went back.
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as piped, \
            socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as busy:
        piped.sendall(b"GET /slow?s=1.5 HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /target/second-request-a1b2c3 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.2)  # both requests read; the first one's app is sleeping
        for i in range(600):  # > kRecvBufferCount recvs: the ring goes round twice
            assert _raw_get(busy, "/target/busy-%d" % i) == b"/target/busy-%d" % i
        assert _read_response(piped) == b"slow /slow?s=1.5"
        assert _read_response(piped) == b"/target/second-request-a1b2c3"


def test_large_body_arrives_whole(server):
    body = os.urandom(3 * 1024 * 1024 + 17)  # many 16 KiB buffers, and a last short one
    r = httpx.post(server.url + "/echo", content=body, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json()["size"] == len(body)
    assert r.json()["sha256"] == hashlib.sha256(body).hexdigest()


def test_body_sent_byte_by_byte_arrives_whole(server):
    body = b"0123456789abcdef" * 4
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
        for i in range(len(body)):
            sock.sendall(body[i:i + 1])
        out = _read_response(sock)
    assert b'"size": %d' % len(body) in out
    assert hashlib.sha256(body).hexdigest().encode() in out


def test_pipelined_requests_on_one_connection(server):
    # 50 requests in one write: one multishot recv completion may carry several of them.
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"".join(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
                              % (len(b"x" * i), b"x" * i) for i in range(50)))
        for i in range(50):
            assert b'"size": %d,' % i in _read_response(sock)


def test_many_connections_at_once(server):
    # More connections than the ring has buffers, each sending at once: some recvs may end
    # with -ENOBUFS and are re-armed; every request must still be answered.
    socks = [socket.create_connection((server.host, server.port), timeout=TIMEOUT)
             for _ in range(300)]
    try:
        payload = b"y" * 20000  # more than one 16 KiB buffer each
        request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(payload)
        for s in socks:
            s.sendall(request + payload)
        for s in socks:
            assert b'"size": 20000,' in _read_response(s)
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize("combo", COMBOS, ids=["%s-%s" % c for c in COMBOS])
def test_full_body_window_pushes_back_on_the_client(combo):
    """The app does not read: the backend must stop receiving (cancel its multishot recv), so the
    client's writes block long before the whole body is sent; released, the body arrives whole."""
    s = _start("uring_apps:stall_app", *combo)
    try:
        total = 64 * 1024 * 1024
        sock = socket.create_connection((s.host, s.port), timeout=TIMEOUT)
        sock.sendall(b"POST /stall HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total)
        sock.setblocking(False)
        piece = bytes(range(256)) * 256
        sent = 0
        while sent < total:
            # Blocked for a whole second: the server has stopped reading.
            if not select.select([], [sock], [], 1.0)[1]:
                break
            try:
                sent += sock.send(piece[: min(len(piece), total - sent)])
            except BlockingIOError:
                continue
        # Loopback socket buffers (a few MiB each way) plus the 64 KiB body window plus what
        # one loop turn may read before the cancel (the ring: 1 MiB) stay far below this.
        assert sent < total // 2, "the server kept reading a body nobody received: %d" % sent
        assert httpx.get(s.url + "/release", timeout=TIMEOUT).status_code == 200
        sock.setblocking(True)
        while sent < total:
            sent += sock.send(piece[: min(len(piece), total - sent)])
        out = _read_response(sock)
        assert b'"size": %d,' % total in out
        digest = hashlib.sha256()
        for i in range(total // len(piece)):
            digest.update(piece)
        assert digest.hexdigest().encode() in out
        sock.close()
    finally:
        s.stop()


@pytest.mark.parametrize("mode", sorted(MODES))
def test_open_connections_hold_no_receive_buffer_each(mode):
    """With the ring, an open keep-alive connection holds no 64 KiB receive buffer of its own
    (the one-shot design's std::string buffer cost 64 KiB of RSS per connection)."""
    s = _start("uring_apps:app", "ring", mode)
    try:
        def rss(sock) -> int:
            return int(_raw_get(sock, "/rss"))

        def open_and_use(n):
            socks = [socket.create_connection((s.host, s.port), timeout=TIMEOUT) for _ in range(n)]
            for c in socks:
                assert _raw_get(c, "/pipes")  # one request each: the recv path has run
            return socks

        probe = socket.create_connection((s.host, s.port), timeout=TIMEOUT)
        for c in open_and_use(300):  # warm up the allocators and the ring's pages
            c.close()
        time.sleep(0.2)  # not timing the server: lets the closes land before measuring
        before = rss(probe)
        socks = open_and_use(300)
        after = rss(probe)
        per_connection_kib = (after - before) / len(socks)
        for c in socks:
            c.close()
        probe.close()
        assert per_connection_kib < 32, "%.1f KiB of RSS per open connection" % per_connection_kib
    finally:
        s.stop()
