"""ASGI apps for the end-to-end ASGI semantics tests (tests/python/test_asgi_*.py).

``app`` dispatches on the path; every check that happens inside the app (an invalid send event
raising RuntimeError, send after disconnect raising OSError) is reported in a following valid
response or stored in REPORTS and fetched with GET /report?KEY.
"""
import asyncio
import sys
import json
import os

REPORTS = {}
PINNED = []  # the blocks /heap-burst keeps (every other one), for the process's life


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _jsonable(value):
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


async def _respond(send, status=200, body=b"", headers=(), content_type=b"text/plain"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), *headers]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive):
    chunks = []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        chunks.append(message["body"])
        if not message.get("more_body", False):
            return chunks


INVALID = {
    # name: (events sent first, the invalid event)
    "body_before_start": ([], {"type": "http.response.body", "body": b"x"}),
    "start_twice": ([{"type": "http.response.start", "status": 200}],
                    {"type": "http.response.start", "status": 200}),
    "status_low": ([], {"type": "http.response.start", "status": 99}),
    "status_1xx": ([], {"type": "http.response.start", "status": 100}),
    "status_high": ([], {"type": "http.response.start", "status": 600}),
    "header_name": ([], {"type": "http.response.start", "status": 200,
                         "headers": [(b"bad name", b"v")]}),
    "header_value": ([], {"type": "http.response.start", "status": 200,
                          "headers": [(b"x-a", b"a\r\nb")]}),
    "unknown_type": ([], {"type": "http.response.nope"}),
    "trailers_not_announced": ([{"type": "http.response.start", "status": 200}],
                               {"type": "http.response.trailers", "headers": []}),
    "relative_pathsend": ([], {"type": "http.response.pathsend", "path": "relative/file"}),
}


async def lifespan(scope, receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope["state"]["token"] = "from-lifespan"
            scope["state"]["items"] = []
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            marker = os.environ.get("LANCET_TEST_SHUTDOWN_FILE")
            if marker:
                with open(marker, "w") as f:
                    f.write("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    assert scope["type"] == "http"
    path = scope["path"]
    query = scope["query_string"].decode("latin-1")

    if path == "/report":
        body = json.dumps(REPORTS.get(query)).encode()
        return await _respond(send, body=body, content_type=b"application/json")

    if path.startswith("/scope"):
        data = dict(scope)
        if "state" in data:
            # a shallow copy per request: mutating it is visible only in this request
            data["state"] = dict(data["state"])
            scope["state"]["mutated"] = True
        body = json.dumps(_jsonable(data)).encode()
        return await _respond(send, body=body, content_type=b"application/json")

    if path == "/echo":
        chunks = await _read_body(receive)
        body = b"".join(chunks)
        return await _respond(send, body=body,
                              headers=[(b"x-receive-calls", str(len(chunks)).encode())])

    if path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"chunk%d\n" % i, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return

    if path == "/big":
        size = int(query or "1048576")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(size).encode())]})
        piece = b"x" * 65536
        sent = 0
        while sent < size:
            n = min(len(piece), size - sent)
            sent += n
            await send({"type": "http.response.body", "body": memoryview(piece)[:n],
                        "more_body": sent < size})
        return

    if path == "/head":
        return await _respond(send, body=b"0123456789",
                              headers=[(b"content-length", b"10")])

    if path == "/headers":
        await send({"type": "http.response.start", "status": 201,
                    "headers": [[b"X-Mixed-Case", b"A"], (b"x-dup", b"1"), (b"x-dup", b"2"),
                                (bytearray(b"x-bytearray"), memoryview(b"mv"))],
                    "extra-key": "ignored"})
        await send({"type": "http.response.body", "body": bytearray(b"done"), "ignored": 1})
        return

    if path == "/heap-burst":
        # Leaves the C heap with about 16 MiB free but held (test_idle_memory): 512 blocks of
        # 64 KiB (malloc'd from the heap, under glibc's mmap threshold; zero-filled, so
        # resident), of which every other one is freed and the rest kept, so no freed block
        # joins the heap's free top and glibc keeps them all.
        blocks = [bytearray(64 * 1024) for _ in range(512)]
        PINNED.extend(blocks[1::2])
        held = _rss_kib()
        del blocks[:]
        body = json.dumps({"rss_kib_held": held, "rss_kib_after_free": _rss_kib()}).encode()
        return await _respond(send, body=body, content_type=b"application/json")

    if path == "/process":
        # What the serving process is: its PID and environment (test_allocator).
        body = json.dumps({"pid": os.getpid(), "environ": dict(os.environ)}).encode()
        return await _respond(send, body=body, content_type=b"application/json")

    if path == "/callables":
        # receive and send as the app sees them: names, and the errors of a wrong call.
        def error_of(call):
            try:
                call()
            except TypeError as exc:
                return str(exc)
            return None

        report = {
            "names": [receive.__name__, send.__name__],
            "reprs": [repr(receive), repr(send)],
            "receive_with_an_argument": error_of(lambda: receive(1)),
            "receive_with_a_keyword": error_of(lambda: receive(timeout=1)),
            "send_without_an_argument": error_of(lambda: send()),
            "send_with_two": error_of(lambda: send({}, {})),
            "send_with_a_keyword": error_of(lambda: send(message={})),
        }
        body = json.dumps(report).encode()
        return await _respond(send, body=body, content_type=b"application/json")

    if path == "/mutating-bool":
        # more_body's __bool__ takes the body out of the message and drops it, then fills the
        # freed memory: the server must still send the body it was given.
        class Sneaky:
            def __init__(self, message):
                self.message = message

            def __bool__(self):
                self.message.pop("body", None)
                global _filler
                _filler = [bytes([0x21]) * 4096 for _ in range(64)]
                return False

        await send({"type": "http.response.start", "status": 200, "headers": []})
        message = {"type": "http.response.body"}
        message["body"] = bytes(range(256)) * 16  # 4096 bytes only the message holds
        message["more_body"] = Sneaky(message)
        await send(message)
        return

    if path == "/runtime-keys":
        # Keys built at run time are equal to the interned literals but not the same objects:
        # the server must find them by lookup, in every message and in mixed messages.
        def key(text):
            return "".join(list(text))

        await send({key("type"): "http.response.start", key("status"): 202,
                    key("headers"): [(b"x-runtime", b"1")]})
        await send({"type": "http.response.body", key("body"): b"run", key("more_body"): True})
        await send({key("type"): "http.response.body", "body": b"time", "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})
        return

    if path == "/invalid":
        before, invalid = INVALID[query]
        for event in before:
            await send(event)
        try:
            await send(invalid)
        except RuntimeError as exc:
            text = "RuntimeError: %s" % exc
        except Exception as exc:  # noqa: BLE001 - report the wrong kind too
            text = "%s: %s" % (type(exc).__name__, exc)
        else:
            text = "no error"
        if not before:
            await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": text.encode()})
        return

    if path == "/after-complete":
        await _respond(send, body=b"ok")
        try:
            await send({"type": "http.response.body", "body": b"more"})
        except RuntimeError as exc:
            REPORTS["after-complete"] = "RuntimeError: %s" % exc
        message = await receive()
        message2 = await receive()
        REPORTS["after-complete-receive"] = [message["type"], message2["type"]]
        return

    if path == "/raise-before":
        raise ValueError("boom before start")

    if path == "/raise-after":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom after start")

    if path == "/no-response":
        return

    if path == "/start-only":
        await send({"type": "http.response.start", "status": 204})
        return

    if path == "/trailers":
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"with trailers", "more_body": False})
        await send({"type": "http.response.trailers",
                    "headers": [(b"x-checksum", b"abc123")], "more_trailers": False})
        return

    if path == "/pathsend":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        await send({"type": "http.response.pathsend", "path": query})
        return

    if path == "/disconnect":
        # Wait for the client to go away, then try to send.
        key = query
        await _read_body(receive)
        message = await asyncio.wait_for(receive(), 10)
        REPORTS[key + ":receive"] = message["type"]
        try:
            await send({"type": "http.response.start", "status": 200})
        except OSError as exc:
            REPORTS[key + ":send"] = ["OSError", type(exc).__name__,
                                      isinstance(exc, OSError)]
        except Exception as exc:  # noqa: BLE001
            REPORTS[key + ":send"] = ["other", type(exc).__name__, False]
        else:
            REPORTS[key + ":send"] = ["no error", "", False]
        message = await receive()
        REPORTS[key + ":receive2"] = message["type"]
        return

    if path == "/cancelled-receive":
        # receive() given up on (its future cancelled) while the body is still on its way;
        # the body that then arrives must not break anything, and a new receive() gets it.
        try:
            await asyncio.wait_for(receive(), 0.05)
            REPORTS["cancelled-receive"] = "body came first"
        except asyncio.TimeoutError:
            REPORTS["cancelled-receive"] = "timed out"
        await asyncio.sleep(0.3)  # the body arrives meanwhile, with no receive() waiting
        body = await _read_body(receive)
        return await _respond(send, body=b"got " + b"".join(body))

    if path == "/cancelled-task":
        asyncio.current_task().cancel()
        await asyncio.sleep(0)
        return await _respond(send, body=b"not cancelled?")

    if path == "/sys":
        body = json.dumps({"executable": sys.executable, "prefix": sys.prefix}).encode()
        return await _respond(send, body=body, content_type=b"application/json")

    if path == "/slow":
        await asyncio.sleep(float(query or "0.5"))
        return await _respond(send, body=b"slow done")

    return await _respond(send, status=404, body=b"not found")


async def failing_startup_app(scope, receive, send):
    if scope["type"] == "lifespan":
        message = await receive()
        assert message["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.failed", "message": "database is on fire"})
        return
    await _respond(send, body=b"never")


async def raising_startup_app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("startup exploded")
    await _respond(send, body=b"never")


async def no_lifespan_app(scope, receive, send):
    if scope["type"] == "lifespan":
        raise RuntimeError("lifespan not supported here")
    data = {"has_state": "state" in scope}
    await _respond(send, body=json.dumps(data).encode(), content_type=b"application/json")


def make_starlette():
    """A Starlette app (--factory): streaming through anyio task groups needs a real Task."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def numbers():
        for i in range(3):
            yield b"n%d " % i
            await asyncio.sleep(0.01)

    async def stream(request):
        return StreamingResponse(numbers())

    async def echo(request):
        body = await request.body()
        return JSONResponse({"len": len(body), "path": request.url.path})

    return Starlette(routes=[Route("/stream", stream), Route("/echo", echo, methods=["POST"])])
