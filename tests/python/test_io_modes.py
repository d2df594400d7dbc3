"""The io_uring backend's two I/O modes, end to end: by default the ring is driven from the event
loop's thread (no thread hand-offs); ``--io-thread`` gives it a thread of its own. Both must serve
the same bytes, push back on slow readers, keep their timers, and survive load.

Other backends ignore --io-thread (they always have their own threads); the tests then still run
and must pass, except the log-line check, which is skipped. tools/test.sh also runs
test_server_behaviour.py again with LANCET_TEST_FLAGS=--io-thread.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import os
import socket
import time

import httpx
import pytest

from conftest import NATIVE_MISSING, LancetServer

pytestmark = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")

APP = "io_apps:app"
MODES = {"loop-thread": (), "io-thread": ("--io-thread",)}


def _expected_digest(n: int) -> str:
    # io_apps.chunk(i), recomputed here (the app runs in the server's process)
    d = hashlib.sha256()
    for i in range(n):
        d.update(hashlib.sha256(b"%d" % i).digest() * (64 * 1024 // 32))
    return d.hexdigest()


@pytest.fixture(params=sorted(MODES), ids=sorted(MODES))
def server(request):
    s = LancetServer(APP, *MODES[request.param], "--no-access-log").start()
    yield s
    s.stop()


def _backend_line(s: LancetServer) -> str:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in (s.stdout() + s.stderr()).splitlines():
            if "(backend: " in line:
                return line
        time.sleep(0.05)
    raise AssertionError("no startup line naming the backend\n" + s.describe_output())


@pytest.mark.parametrize("mode", sorted(MODES))
def test_startup_line_names_the_io_mode(mode):
    s = LancetServer(APP, *MODES[mode]).start()
    try:
        line = _backend_line(s)
        if "backend: io_uring" not in line:
            pytest.skip("not the io_uring backend: " + line)
        if mode == "io-thread":
            assert "backend: io_uring, I/O thread;" in line, line
        else:
            assert "backend: io_uring, I/O on the loop thread;" in line, line
    finally:
        s.stop()


def test_big_stream_to_a_slow_reader_arrives_whole(server):
    """32 MiB in 64 KiB sends; the client waits before reading, so the socket fills and the
    app's send() must wait (flow control), then everything arrives in order."""
    n = 512
    with socket.create_connection((server.host, server.port), timeout=10) as c:
        c.sendall(b"GET /big?%d HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n" % n)
        time.sleep(1.0)
        data = bytearray()
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            data += b
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert b"transfer-encoding: chunked" in head.lower()
    # de-chunk
    out = bytearray()
    pos = 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        pos = eol + 2
        if size == 0:
            break
        out += body[pos:pos + size]
        pos += size + 2
    assert len(out) == n * 64 * 1024
    assert hashlib.sha256(out).hexdigest() == _expected_digest(n)


def test_concurrent_keep_alive_echoes(server):
    """32 clients x 10 keep-alive requests each, 64 KiB bodies, all answered correctly."""
    def client(k: int) -> int:
        ok = 0
        with httpx.Client(base_url=server.url, timeout=20) as h:
            for i in range(10):
                body = os.urandom(64 * 1024)
                r = h.post("/echo", content=body)
                assert r.status_code == 200
                assert r.content == body, (k, i)
                ok += 1
        return ok

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        assert sum(pool.map(client, range(32))) == 320


def test_keep_alive_timer_closes_idle_connections():
    """The idle timer fires with no traffic at all (on the loop thread it is a ring timeout)."""
    for flags in MODES.values():
        s = LancetServer(APP, *flags, "--timeout-keep-alive", "1").start()
        try:
            with socket.create_connection((s.host, s.port), timeout=10) as c:
                c.sendall(b"GET /big?1 HTTP/1.1\r\nhost: x\r\n\r\n")
                got = b""
                while not got.endswith(b"0\r\n\r\n"):
                    got += c.recv(1 << 20)
                start = time.monotonic()
                assert c.recv(1) == b""  # closed by the server, not by our 10 s timeout
                waited = time.monotonic() - start
                assert 0.5 <= waited <= 4.0, (flags, waited)
        finally:
            s.stop()


def test_a_mutable_body_is_sent_as_it_was_when_sent(server):
    r = httpx.get(server.url + "/mutate", timeout=20)
    assert r.status_code == 200
    assert r.content == b"a" * (256 * 1024) + b"b" * (256 * 1024)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_sent_bodies_are_released(server):
    """256 MiB of 64 KiB bytes bodies: each is freed once written (a body lent to the backend
    and never given back would grow the server by all of it)."""
    with httpx.Client(base_url=server.url, timeout=30) as h:
        h.get("/big?64").read()  # warm up: allocator arenas, the app's module
        before = _rss_kib(server.proc.pid)
        total = 0
        with h.stream("GET", "/big?4096") as r:
            for piece in r.iter_bytes(1 << 20):
                total += len(piece)
        after = _rss_kib(server.proc.pid)
    assert total == 4096 * 64 * 1024
    assert after - before < 64 * 1024, (before, after)


def test_answers_after_a_thousand_connections_close_at_once(server):
    """A burst of 1,000 connections answered and closed together: the server keeps answering.
    (test_websocket.py's 1,000-connection test is what caught the loop-thread pump returning
    while the kernel still held completions.)"""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    socks = []
    try:
        for _ in range(1000):
            c = socket.create_connection((server.host, server.port), timeout=10)
            c.sendall(b"GET /big?1 HTTP/1.1\r\nhost: x\r\n\r\n")
            socks.append(c)
        for c in socks:
            got = b""
            while not got.endswith(b"0\r\n\r\n"):
                piece = c.recv(1 << 20)
                assert piece, "closed early"
                got += piece
    finally:
        for c in socks:
            c.close()
    for _ in range(3):
        r = httpx.post(server.url + "/echo", content=b"still here", timeout=5)
        assert r.status_code == 200 and r.content == b"still here"
