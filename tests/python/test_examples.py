"""The README's quick start serves examples/app.py: it must keep working (JSON route, path
parameter, validation error, streaming route) and examples/hello.py must answer."""
import httpx

from conftest import REPO


def test_example_fastapi_app_serves_its_routes(lancet_server):
    server = lancet_server("examples.app:app", app_dir=REPO)
    root = httpx.get(server.url + "/", timeout=10)
    assert root.status_code == 200 and root.json()["server"] == "lancet"
    item = httpx.get(server.url + "/items/42", params={"q": "hi"}, timeout=10)
    assert item.json() == {"item_id": 42, "q": "hi"}
    assert httpx.get(server.url + "/items/not-a-number", timeout=10).status_code == 422
    stream = httpx.get(server.url + "/stream", params={"n": 3}, timeout=10)
    assert stream.text == "line 0\nline 1\nline 2\n"
    assert "content-length" not in stream.headers  # streamed: chunked


def test_example_hello_app_answers(lancet_server):
    server = lancet_server("examples.hello:app", app_dir=REPO)
    r = httpx.get(server.url + "/", timeout=10)
    assert r.status_code == 200 and r.text.startswith("Hello")
