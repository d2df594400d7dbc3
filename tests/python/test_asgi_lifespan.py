"""End-to-end lifespan, startup failures, graceful shutdown and exit codes (lancet._serve)."""
import os
import signal
import socket
import sys
import threading
import time

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
from asgi_server import LancetProcess  # noqa: E402


def test_startup_and_shutdown_run(tmp_path):
    marker = tmp_path / "shutdown"
    s = LancetProcess("asgi_apps:app", env={"LANCET_TEST_SHUTDOWN_FILE": str(marker)})
    with s:
        r = httpx.get(s.url + "/scope", timeout=10)
        assert r.json()["state"]["token"] == "from-lifespan"
    assert s.returncode == 0, s.output()
    assert marker.read_text() == "shutdown"
    out = s.output()
    assert "Application startup complete." in out
    assert "Application shutdown complete." in out
    assert "(backend: " in out and "Press CTRL+C to quit)" in out


def test_sigint_exits_cleanly():
    s = LancetProcess("asgi_apps:app").start().wait_running()
    assert s.stop(signal.SIGINT) == 0, s.output()


def test_startup_failed_exit_code_and_message():
    s = LancetProcess("asgi_apps:failing_startup_app").start()
    code = s.wait_exit(timeout=15)
    assert code == 3, s.output()
    assert "database is on fire" in s.output()
    assert "Application startup failed" in s.output()
    assert "Lancet running on" not in s.output()


def test_startup_raises_with_lifespan_on():
    s = LancetProcess("asgi_apps:raising_startup_app", "--lifespan", "on").start()
    assert s.wait_exit(timeout=15) == 3, s.output()
    assert "startup exploded" in s.output()


def test_lifespan_auto_unsupported_serves_without_state():
    with LancetProcess("asgi_apps:no_lifespan_app") as s:
        r = httpx.get(s.url + "/", timeout=10)
        assert r.json() == {"has_state": False}
        assert "unsupported" in s.output()
    assert s.returncode == 0


def test_lifespan_off_never_calls_app_for_lifespan():
    with LancetProcess("asgi_apps:app", "--lifespan", "off") as s:
        scope = httpx.get(s.url + "/scope", timeout=10).json()
        assert "state" not in scope
        assert "Waiting for application startup" not in s.output()
    assert s.returncode == 0


def test_port_in_use_exit_code_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        # the helper passes --port 0; a later --port wins in argparse
        s = LancetProcess("asgi_apps:app", "--port", str(port))
        s.start()
        code = s.wait_exit(timeout=15)
    assert code == 1, s.output()
    lines = [l for l in s.output().splitlines() if "lancet:" in l]
    assert len(lines) == 1, s.output()
    assert "in use" in lines[0] or "Errno 98" in lines[0]
    assert "Traceback" not in s.output()


def test_graceful_shutdown_finishes_in_flight_request():
    s = LancetProcess("asgi_apps:app").start().wait_running()
    result = {}

    def slow():
        try:
            result["r"] = httpx.get(s.url + "/slow?1.0", timeout=10)
        except Exception as exc:  # noqa: BLE001
            result["e"] = exc

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    t.join(timeout=10)
    assert s.wait_exit(timeout=15) == 0, s.output()
    assert "r" in result, result
    assert result["r"].text == "slow done"


def test_second_signal_exits_at_once():
    s = LancetProcess("asgi_apps:app", "--timeout-graceful-shutdown", "30").start().wait_running()
    def slow():
        try:
            httpx.get(s.url + "/slow?20", timeout=30)
        except httpx.HTTPError:
            pass  # aborted by the forced exit: expected

    t = threading.Thread(target=slow)
    t.daemon = True
    t.start()
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    started = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    s.wait_exit(timeout=10)
    assert time.monotonic() - started < 5, s.output()
