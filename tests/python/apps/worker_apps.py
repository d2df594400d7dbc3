"""Raw-ASGI apps for tests/python/test_workers.py.

``app``: GET /pid answers the serving process's pid; GET /slow?s=SECONDS answers "slow done"
after sleeping; anything else answers "ok". ``lifespan_fails``: lifespan startup fails (exit 3).
"""
import asyncio
import os
from urllib.parse import parse_qs


async def _text(send, status, text):
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/pid":
        return await _text(send, 200, str(os.getpid()))
    if path == "/slow":
        query = parse_qs(scope.get("query_string", b"").decode())
        await asyncio.sleep(float(query.get("s", ["1"])[0]))
        return await _text(send, 200, "slow done")
    return await _text(send, 200, "ok")


async def lifespan_fails(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        return
    return await _text(send, 200, "never")
