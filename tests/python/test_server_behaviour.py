"""End-to-end server behaviours seen from the wire: connection reuse, pipelining, framing,
100-continue, HEAD, HTTP/1.0, streaming uploads, disconnects, probes, limits, timeouts, malformed
requests, load and graceful shutdown.

The app is tests/python/apps/behaviour_apps.py:app. Most tests talk raw HTTP/1.1 over a socket
(``Wire``) so that what is on the wire, and when the server closes, is checked exactly. Run:

    .venv/bin/python -m pytest tests/python/test_server_behaviour.py -q -p no:cacheprovider --timeout 120

Already covered elsewhere, so not repeated here: scope fields (root_path, query_string, raw_path
with %2F, header case/duplicates, addresses) and disconnect before a body in test_asgi_http.py;
graceful completion of an in-flight request in test_asgi_lifespan.py (here only what it does not
check: ``connection: close`` on that response, refused new connections, idle ones closed).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import httpx
import pytest

from conftest import NATIVE_MISSING, LancetServer

APP = "behaviour_apps:app"
TIMEOUT = 10.0          # any single network wait
MiB = 1 << 20

pytestmark = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")


# ---- a small raw HTTP/1.1 client ------------------------------------------------------------------

@dataclass
class Response:
    version: bytes
    status: int
    reason: bytes
    headers: List[Tuple[bytes, bytes]]  # names lower-cased, in wire order
    body: bytes = b""
    chunks: List[bytes] = field(default_factory=list)  # chunk payloads, for chunked bodies
    head_bytes: bytes = b""

    def header(self, name: str) -> Optional[bytes]:
        values = [v for k, v in self.headers if k == name.encode()]
        assert len(values) <= 1, (name, self.headers)
        return values[0] if values else None

    def has(self, name: str) -> bool:
        return any(k == name.encode() for k, _ in self.headers)


class Wire:
    """One raw TCP connection to the server, with a buffer; every wait is bounded."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = bytearray()

    def __enter__(self) -> "Wire":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no response in time; buffered: %r" % bytes(self.buf[:300]))
        self.sock.settimeout(min(left, self.timeout))
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed; buffered: %r" % bytes(self.buf[:300]))
        self.buf += chunk

    def read_until(self, delim: bytes, deadline: float) -> bytes:
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            self._fill(deadline)

    def read_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_to_eof(self, deadline: float) -> bytes:
        while True:
            try:
                self._fill(deadline)
            except EOFError:
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def read_response(self, head_request: bool = False, timeout: float = TIMEOUT) -> Response:
        deadline = time.monotonic() + timeout
        head = self.read_until(b"\r\n\r\n", deadline)
        lines = head[:-4].split(b"\r\n")
        version, status, reason = (lines[0].split(b" ", 2) + [b""])[:3]
        assert version in (b"HTTP/1.1", b"HTTP/1.0"), head
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep and name == name.strip(), head
            headers.append((name.lower(), value.strip()))
        r = Response(version, int(status), reason, headers, head_bytes=head)
        if head_request or 100 <= r.status < 200 or r.status in (204, 304):
            return r
        te = r.header("transfer-encoding")
        if te is not None:
            assert te.lower() == b"chunked", head
            assert not r.has("content-length"), head
            while True:
                size_line = self.read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                r.chunks.append(self.read_exact(size, deadline))
                assert self.read_exact(2, deadline) == b"\r\n"
            while self.read_until(b"\r\n", deadline) != b"\r\n":  # trailers
                pass
            r.body = b"".join(r.chunks)
        elif r.has("content-length"):
            r.body = self.read_exact(int(r.header("content-length")), deadline)
        else:
            r.body = self.read_to_eof(deadline)  # delimited by the close
        return r

    def request(self, data: bytes, head_request: bool = False) -> Response:
        self.send(data)
        return self.read_response(head_request)

    def state_after(self, seconds: float) -> str:
        """'eof', 'reset', 'open' (nothing within `seconds`), or 'data:<bytes>' (unexpected)."""
        if self.buf:
            return "data:%r" % bytes(self.buf)
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return "open"
        except ConnectionResetError:
            return "reset"
        return "eof" if not chunk else "data:%r" % chunk


def get(path: str, extra: bytes = b"") -> bytes:
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


def wait_report(server: LancetServer, key: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as c:
        while True:
            report = c.get("/report?" + key).json()
            if report is not None or time.monotonic() > deadline:
                return report
            time.sleep(0.05)


def app_calls(server: LancetServer) -> dict:
    return httpx.get(server.url + "/calls", timeout=TIMEOUT).json()["calls"]


def wait_exit(server: LancetServer, timeout: float) -> Optional[int]:
    try:
        return server.proc.wait(timeout)
    except Exception:  # noqa: BLE001 - TimeoutExpired: the fixture kills it at teardown
        return None


# ---- servers ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Default settings (access log off: the load test sends 4000 requests)."""
    s = LancetServer(APP, "--no-access-log", log_dir=tmp_path_factory.mktemp("default")).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """Short timeouts and a small body limit."""
    s = LancetServer(APP, "--no-access-log", "--timeout-header", "1", "--timeout-keep-alive", "1",
                     "--max-body-size", "1000", log_dir=tmp_path_factory.mktemp("strict")).start()
    yield s
    s.stop()


# ---- 1, 2: keep-alive and pipelining -----------------------------------------------------------------

def test_keep_alive_three_requests_on_one_socket(server):
    with Wire(server.port) as w:
        local_port = w.sock.getsockname()[1]
        for i in range(3):
            r = w.request(get("/scope?n=%d" % i))
            assert r.status == 200, r.head_bytes
            assert r.header("connection") in (None, b"keep-alive"), r.head_bytes
            scope = json.loads(r.body)
            assert scope["query_string"] == "n=%d" % i
            # the app sees this very socket: same client address every time
            assert scope["client"] == ["127.0.0.1", local_port]
            assert scope["server"] == ["127.0.0.1", server.port]
        assert w.state_after(0.3) == "open"
        assert w.request(get("/hello?4")).body == b"hello 4"


def test_pipelined_requests_answered_in_order(server):
    with Wire(server.port) as w:
        w.send(get("/hello?first") + post("/echo", b"second body") + get("/stream?3")
               + get("/hello?fourth"))
        first, second, third, fourth = (w.read_response() for _ in range(4))
        assert (first.status, first.body) == (200, b"hello first")
        assert (second.status, second.body) == (200, b"second body")
        assert (third.status, third.body) == (200, b"piece0;piece1;piece2;")
        assert third.header("transfer-encoding") == b"chunked"
        assert (fourth.status, fourth.body) == (200, b"hello fourth")
        assert w.state_after(0.2) == "open"


# ---- 3: chunked bodies -----------------------------------------------------------------------------

def test_chunked_request_body_is_echoed(server):
    with Wire(server.port) as w:
        w.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"5\r\nhello\r\n", b"6\r\n world\r\n", b"A\r\n0123456789\r\n", b"0\r\n\r\n"):
            w.send(piece)
            time.sleep(0.02)
        r = w.read_response()
        assert r.status == 200
        assert r.body == b"hello world0123456789"
        assert r.header("content-length") == b"21"
        assert w.request(get("/hello?after")).body == b"hello after"


def test_streamed_response_is_chunked(server):
    with Wire(server.port) as w:
        r = w.request(get("/stream?20"))
        assert r.status == 200
        assert r.header("transfer-encoding") == b"chunked"
        assert not r.has("content-length")
        assert r.body == b"".join(b"piece%d;" % i for i in range(20))
        assert len(r.chunks) > 1, "more_body sends were not streamed as separate chunks"
        # the terminating chunk was consumed exactly: the next response parses
        assert w.request(get("/hello?next")).body == b"hello next"


# ---- 4: Expect: 100-continue -------------------------------------------------------------------------

def test_100_continue_sent_when_app_reads(server):
    with Wire(server.port) as w:
        w.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = w.read_response()
        assert interim.head_bytes == b"HTTP/1.1 100 Continue\r\n\r\n"
        w.send(b"hello")
        r = w.read_response()
        assert (r.status, r.body) == (200, b"hello")
        assert w.request(get("/hello?again")).body == b"hello again"


def test_100_continue_waits_for_receive(server):
    # the app sleeps 0.6 s before its first receive(): no 100 before then
    with Wire(server.port) as w:
        w.send(b"POST /late-echo?0.6 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
               b"Content-Length: 3\r\n\r\n")
        assert w.state_after(0.3) == "open"
        interim = w.read_response()
        assert interim.head_bytes == b"HTTP/1.1 100 Continue\r\n\r\n"
        w.send(b"abc")
        r = w.read_response()
        assert (r.status, r.body) == (200, b"abc")


def test_no_100_continue_when_app_answers_without_reading(server):
    with Wire(server.port) as w:
        w.send(b"POST /reject HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
               b"Content-Length: 100000\r\n\r\n")
        r = w.read_response()
        assert r.status == 413, r.head_bytes  # the first response is the final one: no 100
        assert r.body == b"too big for me"
        assert r.header("connection") == b"close"
        assert w.state_after(TIMEOUT) in ("eof", "reset")


# ---- 5: HEAD -----------------------------------------------------------------------------------------

def test_head_sends_headers_without_body_then_connection_reusable(server):
    with Wire(server.port) as w:
        r = w.request(b"HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
        assert r.status == 200
        assert r.header("content-length") == b"10"
        assert w.state_after(0.3) == "open"  # not one body byte on the wire
        # a streamed (would-be chunked) response: no chunk framing either
        r = w.request(b"HEAD /stream?3 HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
        assert r.status == 200
        assert w.state_after(0.3) == "open"
        r = w.request(get("/head"))
        assert (r.status, r.body) == (200, b"0123456789")


# ---- 6: HTTP/1.0 -------------------------------------------------------------------------------------

def test_http10_response_is_close_delimited(server):
    with Wire(server.port) as w:
        w.send(b"GET /stream?4 HTTP/1.0\r\n\r\n")
        r = w.read_response()  # no length, not chunked: read to EOF
        assert r.status == 200
        assert not r.has("transfer-encoding"), r.head_bytes
        assert r.header("connection") == b"close"
        assert r.body == b"piece0;piece1;piece2;piece3;"


def test_http10_with_length_closes_after_body(server):
    with Wire(server.port) as w:
        r = w.request(b"GET /hello?x HTTP/1.0\r\n\r\n")
        assert (r.status, r.body) == (200, b"hello x")
        assert r.header("connection") == b"close"
        assert w.state_after(TIMEOUT) in ("eof", "reset")


def test_http10_keep_alive_stays_open(server):
    with Wire(server.port) as w:
        for i in range(2):
            r = w.request(b"GET /hello?%d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" % i)
            assert (r.status, r.body) == (200, b"hello %d" % i)
            assert r.header("connection") == b"keep-alive"
            assert w.state_after(0.3) == "open"


# ---- 8: streaming upload -----------------------------------------------------------------------------

def vm_kib(pid: int, field_name: str) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise AssertionError(field_name + " not in /proc/%d/status" % pid)


def test_50_mib_upload_is_streamed_in_bounded_memory(server):
    pid = httpx.get(server.url + "/pid", timeout=TIMEOUT).json()
    assert pid == server.proc.pid
    block = os.urandom(MiB)
    total = 50 * MiB
    with Wire(server.port) as w:  # warm up: the same path once, small
        assert json.loads(w.request(post("/count", block)).body)["bytes"] == MiB
    rss_before = vm_kib(pid, "VmRSS")
    digest = hashlib.sha256()
    deadline = time.monotonic() + 30
    with Wire(server.port) as w:
        w.send(b"POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total)
        for i in range(50):
            piece = bytes([i]) + block[1:]
            digest.update(piece)
            for off in range(0, MiB, 256 * 1024):
                w.send(piece[off:off + 256 * 1024])
            assert time.monotonic() < deadline, "upload too slow"
        r = w.read_response()
    rss_after = vm_kib(pid, "VmRSS")
    peak = vm_kib(pid, "VmHWM")  # the peak, in case buffering grew and shrank again
    assert r.status == 200, r.body
    result = json.loads(r.body)
    assert result["bytes"] == total
    assert result["sha256"] == digest.hexdigest()
    assert result["chunks"] >= 50, result  # streamed in many receive() calls, not one piece
    grown = (max(rss_after, peak) - rss_before) * 1024
    assert grown < 32 * MiB, "RSS grew %.1f MiB (before %d, after %d, peak %d KiB)" % (
        grown / MiB, rss_before, rss_after, peak)


# ---- 9: client disconnects ---------------------------------------------------------------------------

def test_disconnect_mid_body_gives_http_disconnect(server):
    key = "mid-body-%d" % time.monotonic_ns()
    with Wire(server.port) as w:
        w.send(b"POST /body-disconnect?%s HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n"
               % key.encode())
        w.send(b"x" * 100000)
        time.sleep(0.2)
    report = wait_report(server, key)
    assert report is not None, "the app's receive() never returned after the client left"
    assert report["last"] == "http.disconnect", report
    assert report["requests"] >= 1, report


def test_disconnect_mid_response_makes_send_raise_oserror(server):
    key = "mid-response-%d" % time.monotonic_ns()
    with Wire(server.port) as w:
        w.send(get("/slow-stream?" + key))
        w.read_until(b"\r\n\r\n", time.monotonic() + TIMEOUT)
        w.read_exact(2048, time.monotonic() + TIMEOUT)  # a few pieces arrived
    report = wait_report(server, key)
    assert report is not None, "the app's send() never failed after the client left"
    assert report["error"] == "OSError", report
    assert report["sent"] < 450, report  # it failed soon, not at the end of the stream


# ---- 10: native probes -------------------------------------------------------------------------------

def test_probes_answered_natively(server):
    before = app_calls(server)
    with Wire(server.port) as w:
        for path, word in (("/_health/alive", "alive"), ("/_health/ready", "ready")):
            r = w.request(get(path))
            assert r.status == 200, r.head_bytes
            assert r.header("content-type") == b"application/json"
            assert json.loads(r.body) == {"status": word}
        r = w.request(b"HEAD /_health/alive HTTP/1.1\r\nHost: t\r\n\r\n", head_request=True)
        assert r.status == 200
        assert w.state_after(0.2) == "open"
    after = app_calls(server)
    assert not any(p.startswith("/_health") for p in after), after
    assert after == before


def test_no_probes_sends_probe_paths_to_the_app(lancet_server):
    s = lancet_server(APP, "--no-access-log", "--no-probes")
    r = httpx.get(s.url + "/_health/alive", timeout=TIMEOUT)
    assert r.status_code == 404
    assert r.text == "app: not found /_health/alive"
    assert httpx.get(s.url + "/_health/ready", timeout=TIMEOUT).status_code == 404
    assert app_calls(s) == {"/_health/alive": 1, "/_health/ready": 1}


def test_custom_probe_path(lancet_server):
    s = lancet_server(APP, "--no-access-log", "--probe-path-alive", "/live")
    r = httpx.get(s.url + "/live", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"status": "alive"}
    assert httpx.get(s.url + "/_health/ready", timeout=TIMEOUT).json() == {"status": "ready"}
    # the default alive path is now an ordinary app path
    assert httpx.get(s.url + "/_health/alive", timeout=TIMEOUT).status_code == 404
    assert app_calls(s) == {"/_health/alive": 1}


# ---- 11: --limit-concurrency -------------------------------------------------------------------------

def test_limit_concurrency_answers_503_without_calling_app(lancet_server):
    s = lancet_server(APP, "--no-access-log", "--limit-concurrency", "2")
    slow = [Wire(s.port), Wire(s.port)]
    try:
        for w in slow:
            w.send(get("/slow?1.5"))
        time.sleep(0.5)  # both are in the app now
        with Wire(s.port) as third:
            r = third.request(get("/hello?third"))
            assert r.status == 503, r.head_bytes
            assert r.header("connection") == b"close"
            assert third.state_after(TIMEOUT) in ("eof", "reset")
        # probes are answered natively, so the limit does not apply to them
        assert httpx.get(s.url + "/_health/alive", timeout=TIMEOUT).status_code == 200
        for w in slow:
            r = w.read_response()
            assert (r.status, r.body) == (200, b"slow done")
    finally:
        for w in slow:
            w.close()
    r = httpx.get(s.url + "/hello?later", timeout=TIMEOUT)
    assert (r.status_code, r.text) == (200, "hello later")
    reply = httpx.get(s.url + "/calls", timeout=TIMEOUT).json()
    assert reply["calls"] == {"/slow": 2, "/hello": 1}  # the 503'd request never reached it
    assert reply["max_in_flight"] == 2


# ---- 12, 13: timeouts --------------------------------------------------------------------------------

def test_slowloris_gets_408_and_others_are_served(strict):
    with Wire(strict.port) as slow:
        started = time.monotonic()
        slow.send(b"GET /never HTTP/1.1\r\nHost: t\r\n")  # no blank line: the head never ends
        time.sleep(0.3)
        r = httpx.get(strict.url + "/hello?other", timeout=TIMEOUT)  # served meanwhile
        assert (r.status_code, r.text) == (200, "hello other")
        r = slow.read_response(timeout=5)
        elapsed = time.monotonic() - started
        assert r.status == 408, r.head_bytes
        assert r.header("connection") == b"close"
        assert r.body.count(b"\n") == 1 and r.body.endswith(b"\n"), r.body
        assert 0.8 <= elapsed <= 2.5, elapsed
        assert slow.state_after(TIMEOUT) in ("eof", "reset")
    assert "/never" not in app_calls(strict)


def test_silent_connection_closed_after_header_timeout(strict):
    with Wire(strict.port) as w:
        started = time.monotonic()
        assert w.state_after(5) == "eof"  # closed quietly: nothing was asked, nothing answered
        assert 0.8 <= time.monotonic() - started <= 2.5


def test_idle_keep_alive_connection_closed(strict):
    with Wire(strict.port) as w:
        r = w.request(get("/hello?idle"))
        assert r.status == 200 and r.header("connection") != b"close"
        started = time.monotonic()
        assert w.state_after(5) == "eof"
        assert 0.8 <= time.monotonic() - started <= 2.5


# ---- 14: malformed requests --------------------------------------------------------------------------

MALFORMED = [
    ("bare_lf", b"GET /never HTTP/1.1\nHost: t\n\n", 400),
    ("cl_and_te", b"POST /never HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("obs_fold", b"GET /never HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("head_17k", b"GET /never HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n",
     431),
    ("target_9k", b"GET /never?" + b"q" * (9 * 1024) + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    ("body_1001", post("/never", b"b" * 1001), 413),
    ("http20", b"GET /never HTTP/2.0\r\nHost: t\r\n\r\n", 505),
]


@pytest.mark.parametrize("name, request_bytes, status", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_request_rejected(strict, name, request_bytes, status):
    with Wire(strict.port) as w:
        w.send(request_bytes)
        r = w.read_response()
        assert r.status == status, r.head_bytes
        assert r.header("connection") == b"close"
        # one short line saying why
        assert r.body.endswith(b"\n") and r.body.count(b"\n") == 1 and 5 < len(r.body) < 200, r.body
        assert w.state_after(TIMEOUT) in ("eof", "reset")
    # the server is still up and the bad request never reached the app
    with Wire(strict.port) as w:
        assert w.request(get("/hello?ok")).body == b"hello ok"
    assert "/never" not in app_calls(strict)
    assert strict.proc.poll() is None


def test_body_at_max_body_size_is_accepted(strict):
    with Wire(strict.port) as w:
        r = w.request(post("/echo", b"b" * 1000))
        assert (r.status, len(r.body)) == (200, 1000)


# ---- 15: load ----------------------------------------------------------------------------------------

def test_load_200_connections_20_requests_each(server):
    clients, per_client = 200, 20
    err_before = len(server.stderr())
    failures: List[str] = []
    ok = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + 60
    start = threading.Barrier(clients, timeout=30)

    def client(n: int) -> None:
        try:
            with Wire(server.port, timeout=30) as w:
                start.wait()
                for i in range(per_client):
                    tag = "%d-%d" % (n, i)
                    w.send(get("/hello?" + tag))
                    r = w.read_response(timeout=max(1.0, deadline - time.monotonic()))
                    if r.status != 200 or r.body != b"hello " + tag.encode():
                        raise AssertionError("%s: %d %r" % (tag, r.status, r.body))
                    with lock:
                        ok[0] += 1
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            with lock:
                failures.append("%d: %s: %s" % (n, type(exc).__name__, exc))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "load did not finish within 60 s"
    assert not failures, "%d failures, first: %s" % (len(failures), failures[:3])
    assert ok[0] == clients * per_client
    new_err = server.stderr()[err_before:]
    bad = [l for l in new_err.splitlines() if not l.startswith("INFO:")]
    assert not bad, new_err


# ---- 16: SIGTERM drain -------------------------------------------------------------------------------

def test_sigterm_drains_in_flight_closes_idle_refuses_new(lancet_server):
    s = lancet_server(APP, "--no-access-log")
    idle = Wire(s.port)
    busy = Wire(s.port)
    try:
        assert idle.request(get("/hello?idle")).status == 200
        busy.send(get("/slow?1"))
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        assert idle.state_after(2) in ("eof", "reset")  # idle keep-alive: closed at once
        with pytest.raises(OSError):  # the listener is shut: refused
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
        r = busy.read_response()
        assert (r.status, r.body) == (200, b"slow done")
        assert r.header("connection") == b"close"
        assert busy.state_after(TIMEOUT) in ("eof", "reset")
    finally:
        idle.close()
        busy.close()
    assert wait_exit(s, TIMEOUT) == 0, s.describe_output()
