"""Raw ASGI WebSocket apps for tests/python/test_websocket.py, one behaviour per path.

    /echo                 accept (with the first subprotocol offered), echo text and bytes; the
                          text "close <code> <reason>" closes with that code and reason
    /scope...             accept, send the scope as JSON text (bytes as latin-1), close
    /headers              accept with subprotocol "chat" and the header x-accepted: yes
    /reject               websocket.close before the accept (the server answers 403)
    /deny                 the denial response: 401, x-denied: yes, body "denied: no token"
    /raise-before-accept  raises (500)          /return-before-accept  returns (500)
    /raise-after-accept   raises once open (1011) /return-after-accept  returns once open (1000)
    /send-before-accept   tries websocket.send before the accept; accepts and sends the error
    /send-after-close     accepts, closes, tries a send: the error is recorded
    /disconnect           accepts and receives until websocket.disconnect: records it, then
                          records what a send raises
    /pause?n=N            accepts, sleeps 2 s, then counts messages until the text "end"; sends
                          the count
    /flood?n=N            accepts, sends N binary messages of 1 MiB, recording each completed
                          send (send() waits while the client does not read)
    GET /events           (HTTP) the recorded events as JSON; DELETE /events clears them
    any other HTTP        200 "plain http" (what --ws none serves a handshake with)
"""
import asyncio
import json

EVENTS = []


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _http(scope, receive, send):
    if scope["path"] == "/events":
        if scope["method"] == "DELETE":
            EVENTS.clear()
        body = json.dumps(EVENTS).encode()
        ctype = b"application/json"
    else:
        body, ctype = b"plain http", b"text/plain"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


async def echo(scope, receive, send):
    await receive()
    offered = scope["subprotocols"]
    await send({"type": "websocket.accept", "subprotocol": offered[0] if offered else None})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            EVENTS.append({"path": "/echo", "disconnect": message["code"],
                           "reason": message.get("reason", "")})
            return
        text = message.get("text")
        if text is not None and text.startswith("close "):
            _, code, reason = text.split(" ", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def scope_app(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    view = {k: _jsonable(v) for k, v in scope.items() if k != "state"}
    view["has_state"] = "state" in scope
    view["has_method"] = "method" in scope
    await send({"type": "websocket.send", "text": json.dumps(view)})
    await send({"type": "websocket.close"})


async def headers_app(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept", "subprotocol": "chat",
                "headers": [(b"x-accepted", b"yes")]})
    await send({"type": "websocket.send", "text": "hi"})
    await send({"type": "websocket.close"})


async def reject(scope, receive, send):
    await receive()
    await send({"type": "websocket.close", "code": 4003})


async def deny(scope, receive, send):
    await receive()
    await send({"type": "websocket.http.response.start", "status": 401,
                "headers": [(b"x-denied", b"yes"), (b"content-type", b"text/plain")]})
    await send({"type": "websocket.http.response.body", "body": b"denied: ", "more_body": True})
    await send({"type": "websocket.http.response.body", "body": b"no token"})
    message = await receive()
    EVENTS.append({"path": "/deny", "after": message["type"], "code": message.get("code")})


async def raise_before_accept(scope, receive, send):
    await receive()
    raise RuntimeError("boom before accept")


async def return_before_accept(scope, receive, send):
    await receive()


async def raise_after_accept(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    raise RuntimeError("boom after accept")


async def return_after_accept(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})


async def send_before_accept(scope, receive, send):
    await receive()
    try:
        await send({"type": "websocket.send", "text": "too early"})
        error = "no error"
    except RuntimeError as e:
        error = f"RuntimeError: {e}"
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": error})
    await send({"type": "websocket.close"})


async def send_after_close(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})
    try:
        await send({"type": "websocket.send", "text": "too late"})
        error = "no error"
    except RuntimeError as e:
        error = f"RuntimeError: {e}"
    after = await receive()
    EVENTS.append({"path": "/send-after-close", "error": error, "receive": after["type"],
                   "code": after.get("code")})


async def disconnect(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            break
    try:
        await send({"type": "websocket.send", "text": "anyone there?"})
        raised = "nothing"
    except OSError as e:
        raised = f"{type(e).__name__} (OSError): {e}"
    EVENTS.append({"path": "/disconnect", "code": message["code"],
                   "reason": message.get("reason"), "send_raised": raised})


async def pause(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    await asyncio.sleep(2.0)
    count = 0
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "end":
            break
        count += 1
    await send({"type": "websocket.send", "text": str(count)})
    await send({"type": "websocket.close"})


async def timeout_receive(scope, receive, send):
    """receive() given up on (asyncio.wait_for, as heartbeat loops do); a message that then
    arrives while nothing waits must reach the next receive()."""
    await receive()
    await send({"type": "websocket.accept"})
    try:
        await asyncio.wait_for(receive(), 0.05)
        first = "message came first"
    except asyncio.TimeoutError:
        first = "timed out"
    await send({"type": "websocket.send", "text": first})
    await asyncio.sleep(0.4)  # the client's message arrives meanwhile
    message = await asyncio.wait_for(receive(), 5)
    await send({"type": "websocket.send", "text": "got " + message.get("text", "?")})
    await send({"type": "websocket.close"})


async def flood(scope, receive, send):
    await receive()
    await send({"type": "websocket.accept"})
    n = int(dict(p.split(b"=") for p in scope["query_string"].split(b"&"))[b"n"])
    chunk = b"f" * (1 << 20)
    for i in range(n):
        await send({"type": "websocket.send", "bytes": chunk})
        EVENTS.append({"path": "/flood", "sent": i + 1})
    await send({"type": "websocket.close"})


ROUTES = {
    "/echo": echo, "/scope": scope_app, "/headers": headers_app, "/reject": reject, "/deny": deny,
    "/raise-before-accept": raise_before_accept, "/return-before-accept": return_before_accept,
    "/raise-after-accept": raise_after_accept, "/return-after-accept": return_after_accept,
    "/send-before-accept": send_before_accept, "/send-after-close": send_after_close,
    "/disconnect": disconnect, "/pause": pause, "/flood": flood,
    "/timeout-receive": timeout_receive,
}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] == "http":
        return await _http(scope, receive, send)
    if scope["path"].startswith("/scope"):
        return await scope_app(scope, receive, send)
    return await ROUTES.get(scope["path"], echo)(scope, receive, send)
