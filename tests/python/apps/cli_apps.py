"""Tiny raw-ASGI apps for tests/python/test_cli*.py.

GET /env/NAME answers os.environ[NAME] (404 "unset" if it is not set); GET /whoami answers
which object served the request, so the tests can tell --factory and dotted attributes apart.
"""
import os
import types


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _text(send, status, text):
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def make_app(name):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await _lifespan(receive, send)
        path = scope["path"]
        if path.startswith("/env/"):
            key = path[len("/env/"):]
            if key in os.environ:
                return await _text(send, 200, os.environ[key])
            return await _text(send, 404, "unset")
        if path == "/whoami":
            return await _text(send, 200, name)
        return await _text(send, 200, "ok")
    return app


app = make_app("app")


holder = types.SimpleNamespace(inner=make_app("holder.inner"))  # "cli_apps:holder.inner"


def create_app():
    """A factory: serve with --factory."""
    return make_app("factory")


not_callable = 42
