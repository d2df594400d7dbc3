"""--workers N (a supervising parent, python/lancet/supervisor.py) and --limit-max-requests.

Every server binds 127.0.0.1 on a free port; every wait is bounded. Processes are only ever
signalled by the pid the test started (the parent) or a pid a worker reported about itself.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest

from conftest import (APPS_DIR, NATIVE_MISSING, one_line_error, requires_native, run_lancet)

APP = "worker_apps:app"


def _get(server, path, timeout=10.0):
    # A fresh connection per request: the kernel hands each new connection to some worker.
    with httpx.Client(timeout=timeout) as client:
        return client.get(server.url + path, headers={"connection": "close"})


def _get_retry(server, path, tries=5):
    """A request that tolerates a connection closed by a worker that is recycling."""
    last = None
    for _ in range(tries):
        try:
            return _get(server, path)
        except httpx.TransportError as e:
            last = e
            time.sleep(0.1)
    raise AssertionError(f"{path}: no answer after {tries} tries: {last!r}")


def _wait_for(predicate, timeout, what, server=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    extra = f"\n{server.describe_output()}" if server is not None else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}{extra}")


def _serving(server):
    """Pids of the workers that logged they serve."""
    return re.findall(r"Lancet worker \[(\d+)\] serving", server.stderr())


def _started(server):
    return [int(p) for p in re.findall(r"Started worker \[(\d+)\]", server.stderr())]


def _pids_answering(server, want, timeout=30.0):
    """Hits /pid with fresh connections until ``want`` distinct pids answered (bounded)."""
    seen = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(seen) < want:
        # A few requests at once, so that a worker busy with one leaves the next to another.
        results = []

        def one():
            try:
                r = _get(server, "/pid")
                if r.status_code == 200:
                    results.append(int(r.text))
            except httpx.TransportError:
                pass

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        seen.update(results)
    return seen


def _gone(pid):
    """The process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _start(lancet_server, *flags, workers=2, ready=None, **kw):
    server = lancet_server(APP, "--no-access-log", "--workers", str(workers), *flags, **kw)
    want = workers if ready is None else ready
    _wait_for(lambda: len(_serving(server)) >= want, 40, f"{want} workers serving", server)
    return server


# ------------------------------------------------------------------ no native extension needed
def test_workers_zero_is_a_usage_error():
    line = one_line_error(run_lancet("--workers", "0", "m:app"), 2)
    assert "--workers" in line and ">= 1" in line


@pytest.mark.parametrize("flag", ["--limit-max-requests", "--limit-max-requests-jitter"])
def test_bad_limit_values_are_usage_errors(flag):
    line = one_line_error(run_lancet(flag, "-1", "m:app"), 2)
    assert flag in line


def test_help_documents_the_new_flags():
    out = run_lancet("--help", env={"COLUMNS": "200"}).stdout
    for flag, default in (("--workers", "(default: 1)"),
                          ("--limit-max-requests", "(default: no limit)"),
                          ("--limit-max-requests-jitter", "(default: 0)")):
        entry = re.search(rf"\n  {re.escape(flag)} N\s.*?(?=\n  -|\Z)", out, re.S)
        assert entry, flag
        assert default in " ".join(entry.group(0).split()), entry.group(0)


def test_worker_argv_round_trips_every_option():
    from lancet.cli import build_parser, config_from_args
    from lancet.config import Config
    from lancet.supervisor import worker_argv

    config = Config(app="m:app", host="::1", port=9, backlog=7, root_path="-x/y",
                    proxy_headers=False, forwarded_allow_ips=["10.0.0.1", "10.0.0.2"],
                    server_header=False, date_header=False, headers=[("x-a", "1:2"), ("x-b", "")],
                    timeout_keep_alive=1.5, timeout_header=2.5, timeout_graceful_shutdown=3.5,
                    limit_concurrency=11, max_body_size=12, max_head_size=13, max_header_count=14,
                    lifespan="on", loop="asyncio", log_level="debug", log_config="l.json",
                    access_log=False, factory=True, app_dir="/tmp/apps", env_file="e.env",
                    probes=False, probe_path_alive="/a", probe_path_ready="/r", workers=3,
                    limit_max_requests=15, limit_max_requests_jitter=16, ws="none",
                    ws_max_size=17, ws_max_queue=18, ws_ping_interval=19.5, ws_ping_timeout=0.0,
                    ws_per_message_deflate=False)
    argv = worker_argv(config, 42)
    back = config_from_args(build_parser().parse_args(argv))
    expected = Config(**{**vars(config), "host": Config.host, "port": Config.port,
                         "backlog": Config.backlog, "fd": 42, "workers": 1, "env_file": None})
    assert back == expected
    # Defaults stay defaults; the log level is only passed when it was given explicitly.
    plain = worker_argv(Config(app="m:app", workers=2), 3, level_explicit=False)
    back = config_from_args(build_parser().parse_args(plain))
    assert back == Config(app="m:app", fd=3, workers=1)
    assert not any(a.startswith("--log-level") for a in plain)
    # None turns WebSocket pings off; the command line spells that 0.
    off = worker_argv(Config(app="m:app", ws_ping_interval=None, ws_ping_timeout=None), 3)
    back = config_from_args(build_parser().parse_args(off))
    assert (back.ws_ping_interval, back.ws_ping_timeout) == (0.0, 0.0)


# ------------------------------------------------------------------ with the native extension
def test_two_workers_answer(lancet_server):
    server = _start(lancet_server)
    pids = _pids_answering(server, 2)
    assert len(pids) == 2, (pids, server.describe_output())
    assert server.proc.pid not in pids
    assert pids <= set(_started(server))
    assert f"Started parent process [{server.proc.pid}]" in server.stderr()


def test_a_killed_worker_is_restarted(lancet_server):
    server = _start(lancet_server)
    first = _started(server)
    assert len(first) == 2
    victim = first[0]
    os.kill(victim, signal.SIGKILL)   # a pid the parent we started reported as its worker
    _wait_for(lambda: len(_started(server)) >= 3, 20, "a new worker", server)
    new = _started(server)[2]
    assert new not in first
    err = server.stderr()
    assert re.search(rf"Worker \[{victim}\] died unexpectedly \(killed by signal SIGKILL\)", err), err
    _wait_for(lambda: len(_serving(server)) >= 3, 30, "the new worker serving", server)
    assert _get_retry(server, "/").text == "ok"
    pids = _pids_answering(server, 2)
    assert victim not in pids
    assert server.proc.poll() is None


def test_sigterm_drains_in_flight_and_exits_0(lancet_server):
    server = _start(lancet_server, "--timeout-graceful-shutdown", "10")
    workers = _started(server)
    result = {}

    def slow():
        try:
            r = _get(server, "/slow?s=2", timeout=20)
            result["status"], result["text"] = r.status_code, r.text
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = repr(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.7)                    # the request is with the app
    server.proc.send_signal(signal.SIGTERM)
    t.join(20)
    assert result.get("status") == 200 and result.get("text") == "slow done", \
        (result, server.describe_output())
    rc = server.proc.wait(20)
    assert rc == 0, server.describe_output()
    for pid in workers:
        assert _gone(pid), pid


def test_limit_max_requests_single_process_exits_0(lancet_server):
    server = lancet_server(APP, "--no-access-log", "--limit-max-requests", "5")
    _wait_for(lambda: "Lancet running on" in server.stderr(), 30, "serving", server)
    for i in range(5):
        r = _get(server, "/pid")
        assert r.status_code == 200, i
        assert int(r.text) == server.proc.pid
    rc = server.proc.wait(20)
    assert rc == 0, server.describe_output()
    assert "Maximum request limit of 5 exceeded" in server.stderr()


def test_limit_max_requests_recycles_workers(lancet_server):
    server = _start(lancet_server, "--limit-max-requests", "5")
    pids = set()
    for _ in range(30):
        r = _get_retry(server, "/pid")
        assert r.status_code == 200
        pids.add(int(r.text))
    assert len(pids) > 2, (pids, server.describe_output())
    assert "request limit" in server.stderr()
    assert _get_retry(server, "/").text == "ok"
    assert server.proc.poll() is None
    assert server.stop() == 0, server.describe_output()


def test_import_error_gives_one_line_and_no_restart_loop(tmp_path):
    if NATIVE_MISSING is not None:
        pytest.skip(NATIVE_MISSING)
    (tmp_path / "broken_app.py").write_text("raise RuntimeError('kaboom at import')\n")
    started = time.monotonic()
    r = run_lancet("--app-dir", str(tmp_path), "--host", "127.0.0.1", "--port", "0",
                   "--workers", "3", "broken_app:app", timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("lancet: ")]
    assert len(lines) == 1, r.stderr
    assert "kaboom at import" in lines[0]
    assert len(re.findall(r"Started worker", r.stderr)) == 1, r.stderr
    assert time.monotonic() - started < 30


@requires_native
def test_lifespan_failure_exits_3():
    r = run_lancet("--app-dir", str(APPS_DIR), "--host", "127.0.0.1", "--port", "0",
                   "--workers", "2", "worker_apps:lifespan_fails", timeout=60)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "no database" in r.stderr
    assert len(re.findall(r"Started worker", r.stderr)) == 1, r.stderr


@requires_native
def test_port_in_use_is_one_line(tmp_path):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run_lancet("--app-dir", str(APPS_DIR), "--host", "127.0.0.1", "--port", str(port),
                       "--workers", "2", APP, timeout=30)
    assert r.returncode == 1, r.stderr
    lines = [line for line in r.stderr.splitlines() if "in use" in line]
    assert len(lines) == 1 and str(port) in lines[0], r.stderr
    assert "Started worker" not in r.stderr


def test_uds_with_workers(lancet_server, tmp_path):
    path = str(tmp_path / "w.sock")
    server = lancet_server(APP, "--no-access-log", "--workers", "2", "--uds", path)
    _wait_for(lambda: len(_serving(server)) >= 2, 40, "2 workers serving", server)
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=10) as client:
        assert client.get("http://localhost/").text == "ok"
    assert server.stop() == 0, server.describe_output()
    assert not os.path.exists(path)


def test_parent_killed_workers_drain_and_exit(lancet_server):
    server = _start(lancet_server)
    workers = _started(server)
    server.proc.send_signal(signal.SIGKILL)   # the parent, which the test started
    server.proc.wait(10)
    _wait_for(lambda: all(_gone(p) for p in workers), 20, "orphaned workers to exit", server)


def test_sighup_replaces_the_workers_one_by_one(lancet_server):
    server = _start(lancet_server)
    old = set(_started(server))
    server.proc.send_signal(signal.SIGHUP)   # the parent, which the test started
    _wait_for(lambda: server.stderr().count("stopped (replaced)") >= 2, 40,
              "both workers replaced", server)
    assert _get_retry(server, "/").text == "ok"
    pids = _pids_answering(server, 2)
    assert len(pids) == 2 and not (pids & old), (pids, old)
    assert server.stop() == 0, server.describe_output()
