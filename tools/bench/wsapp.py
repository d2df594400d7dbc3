"""WebSocket echo app for tools/bench's "ws" scenario (raw ASGI, no framework).

  echo  - websocket: accept, then send every received message back as it came (text or
          bytes) until the client disconnects.
          http: 200 text/plain "websocket echo", so that the harness's readiness check (a
          plain GET) passes before the load generator (tools/bench/ws_load) upgrades.
          lifespan: accepts startup and shutdown.

Served as  wsapp:echo  with tools/bench on PYTHONPATH (run.sh sets it for every server).
"""

HTTP_BODY = b"websocket echo"
HTTP_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", str(len(HTTP_BODY)).encode()),
]


async def echo(scope, receive, send):
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind == "http":
        await send({"type": "http.response.start", "status": 200, "headers": HTTP_HEADERS})
        await send({"type": "http.response.body", "body": HTTP_BODY})
        return
    assert kind == "websocket"
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.receive":
            text = message.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
        elif message["type"] == "websocket.disconnect":
            return
