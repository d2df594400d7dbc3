"""A raw ASGI app for test_io_uring_recv.py and test_io_uring_pathsend.py: request bodies in and
out, files by http.response.pathsend, and a look at the server process's own resources (it runs
in that process)."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
from urllib.parse import parse_qs


async def _respond(send, body: bytes, status: int = 200, headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


def _pipes() -> int:
    """Pipe descriptors open in this process (the io_uring backend's splice pipes among them)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + fd).startswith("pipe:"):
                n += 1
        except OSError:
            pass
    return n


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}

    if path == "/echo":  # the body's length, digest and how many receive() calls it took
        digest = hashlib.sha256()
        size = calls = 0
        while True:
            message = await receive()
            calls += 1
            chunk = message.get("body", b"")
            digest.update(chunk)
            size += len(chunk)
            if not message.get("more_body"):
                break
        body = json.dumps({"size": size, "sha256": digest.hexdigest(), "calls": calls}).encode()
        return await _respond(send, body)

    if path == "/file":
        # ?path=P [&length=N: the Content-Length to claim; default the file's size]
        # [&chunked=1: no Content-Length (chunked on HTTP/1.1)]
        headers = [(b"content-type", b"application/octet-stream")]
        if not query.get("chunked"):
            length = query.get("length") or str(os.path.getsize(query["path"]))
            headers.append((b"content-length", length.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.pathsend", "path": query["path"]})
        return

    if path == "/slow":  # answers after ?s= seconds, with its own target (pipelining tests)
        await asyncio.sleep(float(query.get("s", "0.5")))
        return await _respond(send, b"slow " + scope["raw_path"] + b"?" + scope["query_string"])

    if path.startswith("/target/"):  # its own path back
        return await _respond(send, scope["raw_path"])

    if path == "/pipes":
        return await _respond(send, str(_pipes()).encode())

    if path == "/rss":
        return await _respond(send, str(_rss_kib()).encode())

    return await _respond(send, b"not found", status=404)


# /stall holds its request body unread until /release: the body window fills and the backend
# must stop reading the socket (TCP pushes back on the client).
_released = None


async def stall_app(scope, receive, send):
    global _released
    import asyncio
    if scope["type"] != "http" or scope["path"] not in ("/stall", "/release"):
        return await app(scope, receive, send)
    if _released is None:
        _released = asyncio.Event()
    if scope["path"] == "/release":
        _released.set()
        return await _respond(send, b"released")
    await _released.wait()
    return await app(dict(scope, path="/echo"), receive, send)
