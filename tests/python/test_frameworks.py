"""A Starlette app and a FastAPI app (tests/python/apps/frameworks.py) served for real by
``lancet``, exercised with httpx: JSON, path and query parameters, form and JSON POST, a streaming
response, 404, an exception handler and an unhandled exception.

Needs the native extension (skips otherwise, with the reason). One server per framework, shared
by the module's tests.
"""
from __future__ import annotations

import httpx
import pytest

from conftest import NATIVE_MISSING, LancetServer

pytestmark = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")

FRAMEWORKS = ["starlette", "fastapi"]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def server(request, tmp_path_factory):
    s = LancetServer(f"frameworks:{request.param}_app", "--no-access-log",
                     log_dir=tmp_path_factory.mktemp(request.param))
    s.framework = request.param
    s.start(timeout=15)
    yield s
    rc = s.stop()
    assert rc == 0, f"lancet exited with {rc}\n{s.describe_output()}"


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def test_json_route(server, client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"framework": server.framework, "hello": "world"}
    assert int(r.headers["content-length"]) == len(r.content)


def test_path_params(server, client):
    r = client.get("/items/42")
    assert r.status_code == 200
    assert r.json()["item_id"] == 42
    # Not an int: Starlette's convertor does not match (404); FastAPI validates (422).
    assert client.get("/items/abc").status_code == (404 if server.framework == "starlette" else 422)


def test_percent_encoded_path(client):
    assert client.get("/items/%34%32").json()["item_id"] == 42


def test_query_params(client):
    r = client.get("/search", params=[("q", "hello world"), ("n", "3"), ("tag", "a"), ("tag", "é")])
    assert r.status_code == 200
    assert r.json() == {"q": "hello world", "n": 3, "tags": ["a", "é"]}


def test_form_post_urlencoded(client):
    r = client.post("/form", data={"name": "lancet", "color": "blue"})
    assert r.status_code == 200, r.text
    assert r.json() == {"form": {"name": "lancet", "color": "blue"}}


def test_form_post_multipart(server, client):
    if server.framework == "fastapi":
        r = client.post("/form", data={"name": "multi"}, files={"ignored": ("a.txt", b"x" * 10)})
        assert r.status_code == 200, r.text
        assert r.json() == {"form": {"name": "multi", "color": "none"}}
    else:
        r = client.post("/form", data={"k": "v"}, files={"f": ("a.bin", b"\x00\x01" * 50_000)})
        assert r.status_code == 200, r.text
        assert r.json() == {"form": {"k": "v", "f": {"filename": "a.bin", "size": 100_000}}}


def test_json_post(server, client):
    r = client.post("/json", json={"name": "widget", "count": 3})
    assert r.status_code == 200, r.text
    assert r.json() == {"received": {"name": "widget", "count": 3}}
    if server.framework == "fastapi":
        assert client.post("/json", json={"count": 3}).status_code == 422


def test_large_json_post(client):
    name = "x" * 300_000
    r = client.post("/json", json={"name": name, "count": 1})
    assert r.status_code == 200
    assert r.json()["received"]["name"] == name


def test_streaming_response(client):
    with client.stream("GET", "/stream", params={"n": 5}) as r:
        assert r.status_code == 200
        assert r.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.headers
        body = b"".join(r.iter_bytes())
    assert body == b"".join(f"chunk {i}\n".encode() for i in range(5))


def test_not_found(client):
    r = client.get("/no/such/route")
    assert r.status_code == 404


def test_exception_handler(client):
    r = client.get("/teapot")
    assert r.status_code == 418
    assert r.json() == {"error": "teapot", "detail": "short and stout"}


def test_unhandled_exception_is_500_and_server_survives(client):
    r = client.get("/crash")
    assert r.status_code == 500
    assert client.get("/").status_code == 200


def test_keep_alive_reuses_the_connection(client):
    for _ in range(20):
        assert client.get("/").status_code == 200


def test_head_request(client):
    r = client.request("HEAD", "/")
    assert r.status_code in (200, 405)  # Starlette routes GET also answer HEAD; FastAPI's do not
    assert r.content == b""


def test_concurrent_clients(server):
    import concurrent.futures

    def one(i):
        with httpx.Client(base_url=server.url, timeout=10) as c:
            return c.get(f"/items/{i}").json()["item_id"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(one, range(32))) == list(range(32))
