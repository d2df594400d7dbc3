"""http.response.pathsend on the io_uring backend, end to end: a response framed by
Content-Length (or close-delimited) sends the file after its first 16 KiB by splice, file ->
pipe -> socket (backends/io_uring/connection.hpp); chunked responses read() it. Both I/O modes.

Whether a response was spliced is seen from outside: the connection's pipe exists while the
connection is open (the app counts the server process's pipe descriptors).

Skipped on the other backends.
"""
from __future__ import annotations

import os
import socket
import time

import httpx
import pytest

from conftest import NATIVE_MISSING, LancetServer

pytestmark = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")

TIMEOUT = 30


def _backend() -> str:
    from lancet import _lancet
    return _lancet.backend_name()


if NATIVE_MISSING is None and _backend() != "io_uring":
    pytestmark = pytest.mark.skip(reason="io_uring backend only (this build: %s)" % _backend())

MODES = {"loop-thread": (), "io-thread": ("--io-thread",)}
FIRST_CHUNK = 16 * 1024  # read() with the head; spliced after it


@pytest.fixture(scope="module", params=sorted(MODES), ids=sorted(MODES))
def server(request):
    s = LancetServer("uring_apps:app", *MODES[request.param], "--no-access-log").start()
    yield s
    s.stop()


def _file(tmp_path, size: int, name: str = "f.bin"):
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


class Conn:
    """A raw keep-alive connection that reads Content-Length, chunked or close-delimited
    responses."""

    def __init__(self, server, rcvbuf: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect((server.host, server.port))
        self.buf = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 20)
        self.buf += chunk
        return bool(chunk)

    def request(self, target: str, method: str = "GET", version: str = "1.1") -> None:
        self.sock.sendall(b"%s %s HTTP/%s\r\nHost: t\r\n\r\n"
                          % (method.encode(), target.encode(), version.encode()))

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "EOF before the head"
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        return int(head[9:12]), fields

    def body(self, fields, head_request: bool = False) -> bytes:
        if head_request:
            return b""
        if b"content-length" in fields:
            n = int(fields[b"content-length"])
            while len(self.buf) < n:
                assert self._fill(), "EOF after %d of %d body bytes" % (len(self.buf), n)
            out, self.buf = self.buf[:n], self.buf[n:]
            return out
        if fields.get(b"transfer-encoding") == b"chunked":
            out = b""
            while True:
                while b"\r\n" not in self.buf:
                    assert self._fill()
                size_line, _, self.buf = self.buf.partition(b"\r\n")
                size = int(size_line, 16)
                while len(self.buf) < size + 2:
                    assert self._fill()
                out += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    return out
        while self._fill():
            pass
        out, self.buf = self.buf, b""
        return out

    def get(self, target: str, **kw):
        self.request(target, **kw)
        status, fields = self.head()
        return status, fields, self.body(fields, kw.get("method") == "HEAD")

    def read_until_eof(self) -> int:
        """Bytes until the server closes; fails if it does not within TIMEOUT."""
        n = len(self.buf)
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return n
            if not chunk:
                return n
            n += len(chunk)

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()


def _pipes(server) -> int:
    return int(httpx.get(server.url + "/pipes", timeout=TIMEOUT).text)


def _eventually(pred, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


SIZES = [0, 1, 100, FIRST_CHUNK - 1, FIRST_CHUNK, FIRST_CHUNK + 1, 200_000,
         3 * 1024 * 1024 + 7]


def test_files_of_every_size_arrive_whole_on_one_keep_alive_connection(server, tmp_path):
    with Conn(server) as conn:
        for size in SIZES:
            path = _file(tmp_path, size, "f%d.bin" % size)
            status, fields, body = conn.get("/file?path=%s" % path)
            assert status == 200
            assert fields[b"content-length"] == str(size).encode()
            assert body == path.read_bytes(), size
        # keep-alive after spliced responses: a plain request on the same connection
        status, _, body = conn.get("/pipes")
        assert status == 200 and body.isdigit()


def test_a_content_length_response_is_spliced_through_a_pipe_of_the_connection(server, tmp_path):
    path = _file(tmp_path, 2 * 1024 * 1024)
    before = _pipes(server)
    with Conn(server) as conn:
        _, _, body = conn.get("/file?path=%s" % path)
        assert body == path.read_bytes()
        assert _pipes(server) == before + 2  # the pipe's two ends, open with the connection
        _, _, body = conn.get("/file?path=%s" % path)  # the same pipe again
        assert body == path.read_bytes()
        assert _pipes(server) == before + 2
    assert _eventually(lambda: _pipes(server) == before), "the pipe outlived its connection"


def test_a_chunked_response_reads_the_file_and_needs_no_pipe(server, tmp_path):
    path = _file(tmp_path, 1024 * 1024 + 3)
    before = _pipes(server)
    with Conn(server) as conn:
        _, fields, body = conn.get("/file?chunked=1&path=%s" % path)
        assert fields[b"transfer-encoding"] == b"chunked"
        assert body == path.read_bytes()
        assert _pipes(server) == before


def test_a_small_file_goes_with_its_head_and_needs_no_pipe(server, tmp_path):
    path = _file(tmp_path, FIRST_CHUNK)
    before = _pipes(server)
    with Conn(server) as conn:
        _, _, body = conn.get("/file?path=%s" % path)
        assert body == path.read_bytes()
        assert _pipes(server) == before


def test_http10_close_delimited_response_is_spliced_to_the_end(server, tmp_path):
    path = _file(tmp_path, 1024 * 1024 + 5)
    with Conn(server) as conn:
        status, fields, body = conn.get("/file?chunked=1&path=%s" % path, version="1.0")
        assert status == 200
        assert b"content-length" not in fields and b"transfer-encoding" not in fields
        assert body == path.read_bytes()


def test_head_request_sends_no_body_and_keeps_the_connection(server, tmp_path):
    path = _file(tmp_path, 500_000)
    with Conn(server) as conn:
        status, fields, _ = conn.get("/file?path=%s" % path, method="HEAD")
        assert status == 200 and fields[b"content-length"] == b"500000"
        _, _, body = conn.get("/file?path=%s" % path)
        assert body == path.read_bytes()


def test_content_length_longer_than_the_file_closes_after_the_file(server, tmp_path):
    path = _file(tmp_path, 300_000)
    with Conn(server) as conn:
        conn.request("/file?length=400000&path=%s" % path)
        _, fields = conn.head()
        assert fields[b"content-length"] == b"400000"
        assert conn.read_until_eof() == 300_000  # then the connection closes, never hangs


def test_content_length_shorter_than_the_file_never_sends_more(server, tmp_path):
    path = _file(tmp_path, 1024 * 1024)
    with Conn(server) as conn:
        conn.request("/file?length=100000&path=%s" % path)
        conn.head()
        assert conn.read_until_eof() <= 100_000


def test_a_file_that_shrinks_while_being_sent_aborts_the_connection(server, tmp_path):
    size = 64 * 1024 * 1024
    path = tmp_path / "shrinks.bin"
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: quick to make, reads as zeros
    with Conn(server, rcvbuf=64 * 1024) as conn:
        conn.request("/file?path=%s" % path)
        _, fields = conn.head()
        assert fields[b"content-length"] == str(size).encode()
        while len(conn.buf) < 256 * 1024:  # the splice is under way; the client reads slowly
            assert conn._fill()
        os.truncate(path, 1024 * 1024)
        received = conn.read_until_eof()
        assert received < size  # the response could not be completed: closed, not hung


def test_client_leaving_mid_splice_frees_the_connection(server, tmp_path):
    path = _file(tmp_path, 8 * 1024 * 1024)
    before = _pipes(server)
    conn = Conn(server, rcvbuf=32 * 1024)
    conn.request("/file?path=%s" % path)
    conn.head()
    while len(conn.buf) < 128 * 1024:
        assert conn._fill()
    conn.close()
    assert _eventually(lambda: _pipes(server) == before), "the connection was not freed"
    r = httpx.get(server.url + "/file?path=%s" % path, timeout=TIMEOUT)
    assert r.content == path.read_bytes()
