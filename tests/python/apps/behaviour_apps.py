"""ASGI app for tests/python/test_server_behaviour.py (server behaviours seen from the wire).

``app`` dispatches on the path. Whatever happens inside the app that the client cannot see
(how many times it was called, what receive() returned after a disconnect, whether send()
raised) is stored in REPORTS / CALLS and fetched with ``GET /report?KEY`` / ``GET /calls``.
Those two endpoints are not counted in CALLS.
"""
import asyncio
import hashlib
import json
import os

REPORTS = {}
CALLS = {}       # path -> number of times the app was called with it
IN_FLIGHT = [0, 0]  # [now, max seen]


async def _respond(send, status=200, body=b"", headers=(), content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _json(send, value, status=200):
    await _respond(send, status, json.dumps(value).encode(), content_type=b"application/json")


async def _read_body(receive):
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise RuntimeError("unexpected %r" % (message,))
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    path = scope["path"]
    query = scope["query_string"].decode("latin-1")

    if path == "/report":
        return await _json(send, REPORTS.get(query))
    if path == "/calls":
        return await _json(send, {"calls": CALLS, "max_in_flight": IN_FLIGHT[1]})

    CALLS[path] = CALLS.get(path, 0) + 1
    IN_FLIGHT[0] += 1
    IN_FLIGHT[1] = max(IN_FLIGHT)
    try:
        await _dispatch(scope, receive, send, path, query)
    finally:
        IN_FLIGHT[0] -= 1


async def _dispatch(scope, receive, send, path, query):
    if path == "/hello":
        # the query is echoed so a reply can be matched to its request (pipelining, load)
        return await _respond(send, body=b"hello " + query.encode())

    if path == "/pid":
        return await _json(send, os.getpid())

    if path == "/scope":
        return await _json(send, {
            "path": scope["path"], "root_path": scope["root_path"],
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query_string": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "client": scope["client"], "server": scope["server"],
            "http_version": scope["http_version"]})

    if path == "/echo":
        # reads the whole body (this is what sends 100 Continue), echoes it
        chunks = await _read_body(receive)
        return await _respond(send, body=b"".join(chunks))

    if path == "/late-echo":
        # waits before the first receive(): 100 Continue must wait too
        await asyncio.sleep(float(query or "0.5"))
        chunks = await _read_body(receive)
        return await _respond(send, body=b"".join(chunks))

    if path == "/reject":
        # answers without ever calling receive(): no 100 Continue may be sent
        return await _respond(send, status=413, body=b"too big for me")

    if path == "/head":
        return await _respond(send, body=b"0123456789")

    if path == "/stream":
        # a response without content-length, in `n` pieces: chunked on HTTP/1.1
        n = int(query or "5")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": b"piece%d;" % i, "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return

    if path == "/count":
        # counts the body without keeping it: {"bytes", "chunks", "sha256"}
        digest = hashlib.sha256()
        total = chunks = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                REPORTS["count"] = message["type"]
                return
            body = message.get("body", b"")
            digest.update(body)
            total += len(body)
            chunks += 1
            if not message.get("more_body", False):
                break
        return await _json(send, {"bytes": total, "chunks": chunks, "sha256": digest.hexdigest()})

    if path == "/body-disconnect":
        # reads until the client goes away mid-body; reports what receive() returned
        key = query
        seen = []
        for _ in range(10_000):
            message = await asyncio.wait_for(receive(), 10)
            seen.append(message["type"])
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        REPORTS[key] = {"last": seen[-1], "requests": seen.count("http.request")}
        if seen[-1] == "http.request":  # the whole body arrived after all: answer it
            await _respond(send, body=b"complete")
        return

    if path == "/slow-stream":
        # streams a piece every 20 ms for at most ~10 s; reports how send() failed
        key = query
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        sent = 0
        try:
            for _ in range(500):
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
                sent += 1
                await asyncio.sleep(0.02)
        except OSError as exc:
            REPORTS[key] = {"error": "OSError", "class": type(exc).__name__, "sent": sent}
            return
        except Exception as exc:  # noqa: BLE001 - report the wrong kind too
            REPORTS[key] = {"error": "other", "class": type(exc).__name__, "sent": sent}
            raise
        REPORTS[key] = {"error": None, "class": None, "sent": sent}
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return

    if path == "/slow":
        await asyncio.sleep(float(query or "1"))
        return await _respond(send, body=b"slow done")

    return await _respond(send, status=404, body=b"app: not found " + path.encode())
