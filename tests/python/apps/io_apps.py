"""Apps for test_io_modes.py: large streamed responses and echoes, to exercise the backend's
write path and flow control in both I/O modes (the loop thread, or an I/O thread)."""
import hashlib

CHUNK = 64 * 1024


def chunk(i: int) -> bytes:
    """Deterministic 64 KiB piece number i (the client recomputes the digest)."""
    return hashlib.sha256(b"%d" % i).digest() * (CHUNK // 32)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/big":
        n = int(scope["query_string"] or b"16")  # 64 KiB pieces
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": chunk(i), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/mutate":
        # a bytearray body changed right after send(): the client must get what was sent
        # (only immutable bytes may be lent to the backend without a copy)
        body = bytearray(b"a" * (256 * 1024))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(2 * len(body)).encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        body[:] = b"b" * len(body)
        await send({"type": "http.response.body", "body": bytes(body)})
        return
    if path == "/echo":
        parts = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"not found"})
