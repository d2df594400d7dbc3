"""End-to-end ASGI HTTP semantics against a real Lancet process (bridge + backend).

The app is tests/python/apps/asgi_apps.py:app; the server runs as `python -m lancet` on
127.0.0.1 with a port chosen by the kernel.
"""
import json
import os
import socket
import sys
import time

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
from asgi_server import LancetProcess  # noqa: E402

TIMEOUT = 10.0


@pytest.fixture(scope="module")
def server():
    with LancetProcess("asgi_apps:app", "--root-path", "/mount") as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as c:
        yield c


def raw_request(server, data, read_until_close=True, timeout=TIMEOUT):
    """Sends raw bytes, returns everything read until the server closes (or timeout)."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                chunks.append(b"<RESET>")
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def bytes_of(value):
    return value["bytes"].encode("latin-1")


# ---- scope --------------------------------------------------------------------------------------

def test_scope_fields(server, client):
    r = client.get("/scope/caf%C3%A9%20x/%2F?q=a%20b&r=%C3%A9",
                   headers=[("X-Custom", "One"), ("x-custom", "Two"), ("X-Other", "v")])
    assert r.status_code == 200
    scope = r.json()
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope/café x//"
    assert bytes_of(scope["raw_path"]) == b"/scope/caf%C3%A9%20x/%2F"
    assert bytes_of(scope["query_string"]) == b"q=a%20b&r=%C3%A9"
    assert scope["root_path"] == "/mount"
    assert scope["server"] == [server.host, server.port]
    assert scope["client"][0] == "127.0.0.1" and isinstance(scope["client"][1], int)
    headers = [(bytes_of(k), bytes_of(v)) for k, v in scope["headers"]]
    names = [k for k, _ in headers]
    assert all(k == k.lower() for k in names)
    custom = [(k, v) for k, v in headers if k in (b"x-custom", b"x-other")]
    assert custom == [(b"x-custom", b"One"), (b"x-custom", b"Two"), (b"x-other", b"v")]
    assert scope["extensions"] == {"http.response.trailers": {}, "http.response.pathsend": {}}


def test_scope_state_is_shallow_copy(client):
    first = client.get("/scope").json()
    assert first["state"]["token"] == "from-lifespan"
    assert "mutated" not in first["state"]
    second = client.get("/scope").json()
    # the app set scope["state"]["mutated"] in the first request: not visible in the next one
    assert "mutated" not in second["state"]


def test_each_scope_has_its_own_request_line_whatever_came_before(server, client):
    # The bridge's scope template keeps GET, b"" and the server address, and it reuses the last
    # path's objects: a request that differs must not see the previous request's values.
    sequence = [
        ("GET", "/scope/a?x=1", "/scope/a", b"x=1"),
        ("POST", "/scope/a", "/scope/a", b""),
        ("GET", "/scope/b", "/scope/b", b""),
        ("DELETE", "/scope/caf%C3%A9?y", "/scope/café", b"y"),
        ("PROPFIND", "/scope/caf%C3%A9", "/scope/café", b""),
        ("GET", "/scope/a", "/scope/a", b""),
        ("OPTIONS", "/scope/a?", "/scope/a", b""),
    ]
    for method, target, path, query in sequence:
        scope = client.request(method, target).json()
        assert (scope["method"], scope["path"], bytes_of(scope["query_string"])) == (
            method, path, query), target
        assert bytes_of(scope["raw_path"]) == target.split("?")[0].encode()
        assert scope["server"] == [server.host, server.port]


def test_scope_methods_and_http10(server):
    out = raw_request(server, b"PATCH /scope HTTP/1.0\r\nHost: x\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
    scope = json.loads(body)
    assert scope["method"] == "PATCH"
    assert scope["http_version"] == "1.0"


# ---- bodies --------------------------------------------------------------------------------------

def test_echo_small(client):
    r = client.post("/echo", content=b"hello body")
    assert r.status_code == 200
    assert r.content == b"hello body"


def test_echo_chunked_request(client):
    def gen():
        for i in range(10):
            yield b"part%d-" % i
    r = client.post("/echo", content=gen())
    assert r.content == b"".join(b"part%d-" % i for i in range(10))


def test_echo_one_mib(client):
    payload = os.urandom(1 << 20)
    r = client.post("/echo", content=payload)
    assert r.status_code == 200
    assert len(r.content) == len(payload)
    assert r.content == payload


def test_empty_body_receive(client):
    r = client.get("/echo")
    assert r.content == b""
    assert r.headers["x-receive-calls"] == "1"


def test_streaming_response(client):
    with client.stream("GET", "/stream") as r:
        assert r.status_code == 200
        assert r.headers.get("transfer-encoding") == "chunked"
        body = b"".join(r.iter_bytes())
    assert body == b"".join(b"chunk%d\n" % i for i in range(5))


def test_large_response_flow_control(client):
    r = client.get("/big?3000000")
    assert r.status_code == 200
    assert len(r.content) == 3000000


def test_head_has_no_body(server):
    out = raw_request(server, b"HEAD /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"content-length: 10" in head.lower()
    assert body == b""


def test_response_headers_bytes_like_and_extra_keys(client):
    r = client.get("/headers")
    assert r.status_code == 201
    assert r.headers["x-mixed-case"] == "A"
    assert r.headers.get_list("x-dup") == ["1", "2"]
    assert r.headers["x-bytearray"] == "mv"
    assert r.content == b"done"


def test_receive_and_send_name_themselves_and_refuse_wrong_arguments(client):
    for _ in range(3):  # the callables are reused between requests: each request sees its own
        report = client.get("/callables").json()
        assert report["names"] == ["receive", "send"]
        assert report["reprs"] == ["<lancet receive>", "<lancet send>"]
        assert report["receive_with_an_argument"] == "receive() takes no arguments (1 given)"
        assert report["receive_with_a_keyword"] == "receive() takes no keyword arguments"
        assert report["send_without_an_argument"] == "send() takes exactly one argument (0 given)"
        assert report["send_with_two"] == "send() takes exactly one argument (2 given)"
        assert report["send_with_a_keyword"] == "send() takes no keyword arguments"


def test_a_body_the_message_drops_while_it_is_read_is_still_sent(client):
    for _ in range(5):
        r = client.get("/mutating-bool")
        assert r.status_code == 200
        assert r.content == bytes(range(256)) * 16


def test_message_keys_built_at_run_time_are_read_like_literals(client):
    r = client.get("/runtime-keys")
    assert r.status_code == 202
    assert r.headers["x-runtime"] == "1"
    assert r.content == b"runtime!"


def test_one_piece_body_gets_content_length(client):
    r = client.post("/echo", content=b"abc")
    assert r.headers["content-length"] == "3"


# ---- invalid send events ---------------------------------------------------------------------------

@pytest.mark.parametrize("case, expected", [
    ("body_before_start", "expected 'http.response.start', got 'http.response.body'"),
    ("start_twice", "expected 'http.response.body', got 'http.response.start'"),
    ("status_low", ""),
    ("status_1xx", ""),
    ("status_high", ""),
    ("header_name", ""),
    ("header_value", ""),
    ("unknown_type", "http.response.nope"),
    ("trailers_not_announced", ""),
    ("relative_pathsend", ""),
])
def test_invalid_send_raises_runtime_error(client, case, expected):
    r = client.get("/invalid?" + case)
    assert r.status_code == 200, r.text
    assert r.text.startswith("RuntimeError: "), r.text
    assert expected in r.text
    assert len(r.text) > len("RuntimeError: ") + 5


def test_send_after_response_complete(client):
    r = client.get("/after-complete")
    assert r.content == b"ok"
    deadline = time.monotonic() + 5
    report = None
    while time.monotonic() < deadline:
        report = client.get("/report?after-complete").json()
        if report is not None:
            break
        time.sleep(0.05)
    assert report is not None and report.startswith("RuntimeError: ")
    assert "after the response completed" in report or "http.response.body" in report
    receive = client.get("/report?after-complete-receive").json()
    assert receive == ["http.disconnect", "http.disconnect"]


# ---- app errors ------------------------------------------------------------------------------------

def test_exception_before_start_is_500(server, client):
    r = client.get("/raise-before")
    assert r.status_code == 500
    assert r.text == "Internal Server Error"
    assert server.wait_for_output("boom before start")
    assert "Traceback" in server.output()


def test_an_app_exception_is_logged_once_not_again_by_asyncio(server, client):
    # The exchange logs it; the task must not keep it (asyncio would log it a second time, as
    # "Task exception was never retrieved", when the task is freed).
    before = server.output().count("Exception in ASGI application")
    assert client.get("/raise-before").status_code == 500
    assert server.wait_for_output("boom before start")
    assert client.get("/head").status_code == 200
    time.sleep(0.2)
    out = server.output()
    assert out.count("Exception in ASGI application") == before + 1, out
    assert "never retrieved" not in out, out


def test_cancelled_app_task_is_a_500_and_the_server_goes_on(server, client):
    before = server.output().count("Exception in ASGI application")
    r = client.get("/cancelled-task")
    assert r.status_code == 500
    assert r.text == "Internal Server Error"
    assert client.get("/head").status_code == 200
    # Cancellation is not an error of the app's: nothing is logged for it.
    assert server.output().count("Exception in ASGI application") == before


def test_body_after_a_cancelled_receive_reaches_the_next_receive(server, client):
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"POST /cancelled-receive HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
        time.sleep(0.15)  # the app's receive() times out (its future is cancelled) meanwhile
        sock.sendall(b"late")
        out = b""
        while b"got late" not in out:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    assert out.startswith(b"HTTP/1.1 200"), out
    assert out.endswith(b"got late"), out
    assert client.get("/report?cancelled-receive").json() == "timed out"
    assert client.get("/head").status_code == 200


def test_exception_after_start_aborts(server):
    out = raw_request(server, b"GET /raise-after HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    # the connection is closed before the promised 100 bytes arrived
    assert len(body.replace(b"<RESET>", b"")) < 100
    assert server.wait_for_output("boom after start")


def test_return_without_response_is_500(server, client):
    r = client.get("/no-response")
    assert r.status_code == 500
    assert server.wait_for_output("ASGI callable returned without completing response")


def test_return_after_start_only(client):
    # a held-back start with nothing on the wire: answered with a clean 500
    r = client.get("/start-only")
    assert r.status_code == 500


# ---- extensions --------------------------------------------------------------------------------------

def test_trailers(server):
    out = raw_request(server, b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n"
                              b"Connection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert b"with trailers" in body
    assert b"x-checksum: abc123" in body.lower()


def test_pathsend(client, tmp_path):
    f = tmp_path / "file.bin"
    payload = os.urandom(200_000)
    f.write_bytes(payload)
    r = client.get("/pathsend?" + str(f))
    assert r.status_code == 200
    assert r.content == payload


def test_pathsend_larger_than_the_output_queue(client, tmp_path):
    # Over the 256 KiB a backend queues from a file at once: the rest is read as the socket
    # drains, and the response ends at the end of the file.
    f = tmp_path / "big.bin"
    payload = os.urandom(1024 * 1024 + 12345)
    f.write_bytes(payload)
    r = client.get("/pathsend?" + str(f))
    assert r.status_code == 200
    assert r.content == payload
    assert client.get("/pathsend?" + str(f)).content == payload  # the connection goes on


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_pathsend_of_anything_but_a_regular_file_drops_that_connection(server, client, tmp_path,
                                                                      kind):
    # A FIFO without a writer would block the I/O thread in open(); a directory fails every
    # read; /dev/zero never ends. Only regular files are sent.
    path = {"fifo": tmp_path / "fifo", "directory": tmp_path, "device": "/dev/zero"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    started = time.monotonic()
    raw = raw_request(server, b"GET /pathsend?" + str(path).encode() +
                      b" HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert time.monotonic() - started < 4, "the connection was not closed"
    assert len(raw) < 4096, raw[:300]  # not a stream of /dev/zero
    assert raw in (b"", b"<RESET>") or (
        raw.startswith(b"HTTP/1.1 200") and not raw.endswith(b"0\r\n\r\n")), raw
    assert client.post("/echo", content=b"still up").content == b"still up"


def test_pathsend_on_head_sends_the_head_without_reading_the_file(client):
    # /dev/zero never ends: a server that read the file to drop its bytes would never answer.
    r = client.head("/pathsend?/dev/zero")
    assert r.status_code == 200
    assert r.content == b""
    assert client.post("/echo", content=b"after").status_code == 200  # the connection goes on


def test_pathsend_of_a_missing_file_drops_that_connection_only(server, client, tmp_path):
    # The head is already sent as far as the app knows: nothing valid can follow it, so the
    # connection closes without a response; the server goes on.
    raw = raw_request(server, b"GET /pathsend?" + str(tmp_path / "missing").encode() +
                      b" HTTP/1.1\r\nHost: x\r\n\r\n")
    # Nothing, or the head alone if it was written before the file was asked for: never a
    # complete (chunked) response.
    assert raw == b"" or (raw.startswith(b"HTTP/1.1 200") and not raw.endswith(b"0\r\n\r\n")), raw
    f = tmp_path / "there.bin"
    f.write_bytes(b"still here")
    assert client.get("/pathsend?" + str(f)).content == b"still here"


# ---- disconnect ------------------------------------------------------------------------------------

def test_disconnect_receive_and_send_raises_oserror(server, client):
    key = "d%d" % time.monotonic_ns()
    sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    sock.sendall(b"GET /disconnect?" + key.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    sock.close()
    deadline = time.monotonic() + 10
    report = None
    while time.monotonic() < deadline:
        report = client.get("/report?" + key + ":receive2").json()
        if report is not None:
            break
        time.sleep(0.05)
    assert client.get("/report?" + key + ":receive").json() == "http.disconnect"
    send = client.get("/report?" + key + ":send").json()
    assert send == ["OSError", "ClientDisconnected", True]
    assert report == "http.disconnect"
    # not logged as an application error
    assert "ClientDisconnected" not in server.output()


def test_keep_alive_reuses_connection(client):
    for _ in range(5):
        assert client.get("/echo").status_code == 200


def test_access_log_line(server, client):
    client.get("/echo?al=1")
    # uvicorn's shape: client - "METHOD root_path+path?query HTTP/version" status
    assert server.wait_for_output('127.0.0.1:'), server.output()
    assert server.wait_for_output(' - "GET /mount/echo?al=1 HTTP/1.1" 200'), server.output()


# ---- other loops and a real framework --------------------------------------------------------------

@pytest.mark.parametrize("loop", ["asyncio", "auto"])
def test_starlette_streaming_and_body(loop):
    with LancetProcess("asgi_apps:make_starlette", "--factory", "--loop", loop) as s:
        with httpx.Client(base_url=s.url, timeout=TIMEOUT) as c:
            assert c.get("/stream").content == b"n0 n1 n2 "
            r = c.post("/echo", content=b"x" * 100_000)
            assert r.json() == {"len": 100_000, "path": "/echo"}
    assert s.returncode == 0, s.output()


def test_asyncio_loop_semantics():
    with LancetProcess("asgi_apps:app", "--loop", "asyncio") as s:
        with httpx.Client(base_url=s.url, timeout=TIMEOUT) as c:
            assert c.post("/echo", content=b"abc").content == b"abc"
            assert c.get("/raise-before").status_code == 500
            assert c.get("/invalid?body_before_start").text.startswith("RuntimeError: ")
            assert len(c.get("/big?500000").content) == 500000
    assert s.returncode == 0, s.output()
