"""Shared fixtures for Lancet's Python tests. Run: ``/usr/bin/python3 -m pytest tests/python``.

Serving a real app (the server runs as a subprocess, on 127.0.0.1 and a free port)::

    def test_hello(lancet_server):
        server = lancet_server("frameworks:starlette_app", "--no-access-log")  # APP, then flags
        r = httpx.get(server.url + "/")            # server.url == "http://127.0.0.1:<port>"
        assert r.status_code == 200
        # server.proc (Popen), server.port, server.stdout(), server.stderr(), server.stop() -> rc

``lancet_server(app, *flags, env=None, cwd=None, app_dir=APPS_DIR, wait=True, timeout=10.0)``
starts ``lancet APP --host 127.0.0.1 --port <free> --app-dir <app_dir> *flags`` and waits (at most
``timeout`` s) until the port accepts; if the process exits first, the test fails with its output.
``--host``/``--port`` are not added when ``flags`` already has ``--port``/``--uds``/``--fd``; with
``--uds PATH`` it waits on that socket, ``server.uds`` is the path and ``server.url`` is
``http://localhost`` (use ``httpx.Client(transport=httpx.HTTPTransport(uds=server.uds))``).
``app_dir`` defaults to ``tests/python/apps``; pass ``app_dir=None`` to leave ``--app-dir`` out.
At the end of the test each server gets SIGTERM, then SIGKILL after ``stop_timeout`` (10 s).
For a module-scoped server, use ``LancetServer(...).start()`` yourself and ``.stop()`` it.

The command is ``<repo>/.venv/bin/lancet`` if it exists, else ``/usr/bin/python3 -m lancet`` with
``PYTHONPATH=<repo>/python`` (LANCET_TEST_COMMAND, split on spaces, overrides both). Output goes to
files (no pipe can fill up). ``PYTHONUNBUFFERED=1`` is set.

Tests that need the native extension: use the ``lancet_server`` fixture (it skips, with the reason,
when ``lancet._lancet`` cannot be imported) or mark them ``@requires_native``. CI builds the
extension, so there they run. ``run_lancet(*args)`` runs the command to completion (for error
paths that never serve) and returns a CompletedProcess with text stdout/stderr.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
# LANCET_PYTHONPATH points the tests at another build of the package (e.g. one per backend).
PYTHON_DIR = Path(os.environ.get("LANCET_PYTHONPATH") or (REPO / "python"))
APPS_DIR = Path(__file__).resolve().parent / "apps"
SYSTEM_PYTHON = "/usr/bin/python3"

if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def _native_import_error() -> Optional[str]:
    try:
        import lancet._lancet  # noqa: F401
    except ImportError as e:
        return f"lancet._lancet is not importable ({e}); build it: cmake --build build --target _lancet"
    return None


NATIVE_MISSING = _native_import_error()
requires_native = pytest.mark.skipif(NATIVE_MISSING is not None, reason=NATIVE_MISSING or "")


def lancet_command() -> List[str]:
    """argv prefix that runs the ``lancet`` command."""
    override = os.environ.get("LANCET_TEST_COMMAND")
    if override:
        return shlex.split(override)
    venv = REPO / ".venv" / "bin" / "lancet"
    if venv.exists():
        return [str(venv)]
    return [SYSTEM_PYTHON, "-m", "lancet"]


def lancet_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    pp = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PYTHON_DIR) + (os.pathsep + pp if pp else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NO_COLOR", None)
    if extra:
        env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_lancet(*args: str, env: Optional[Dict[str, str]] = None, cwd: Optional[os.PathLike] = None,
               timeout: float = 30.0) -> subprocess.CompletedProcess:
    """Runs ``lancet *args`` to completion (for commands that exit on their own)."""
    return subprocess.run(lancet_command() + list(args), env=lancet_env(env), cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


class LancetServer:
    """One ``lancet`` subprocess serving on 127.0.0.1."""

    def __init__(self, app: str, *flags: str, env: Optional[Dict[str, str]] = None,
                 cwd: Optional[os.PathLike] = None, app_dir: Optional[os.PathLike] = APPS_DIR,
                 log_dir: Optional[os.PathLike] = None, stop_timeout: float = 10.0) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.uds: Optional[str] = None
        self.flags = list(flags)
        if not any(f.split("=")[0] in ("--port", "--uds", "--fd") for f in self.flags):
            self.port = free_port()
            self.flags = ["--host", self.host, "--port", str(self.port)] + self.flags
        else:
            for i, f in enumerate(self.flags):
                if f == "--port" and i + 1 < len(self.flags):
                    self.port = int(self.flags[i + 1])
                elif f.startswith("--port="):
                    self.port = int(f.split("=", 1)[1])
                elif f == "--uds" and i + 1 < len(self.flags):
                    self.uds = self.flags[i + 1]
                elif f.startswith("--uds="):
                    self.uds = f.split("=", 1)[1]
        if app_dir is not None:
            self.flags = ["--app-dir", str(app_dir)] + self.flags
        # LANCET_TEST_FLAGS: extra flags for every server of a run (tools/test.sh repeats the
        # wire-level suites with --io-thread).
        self.flags += shlex.split(os.environ.get("LANCET_TEST_FLAGS", ""))
        self.argv = lancet_command() + [app] + self.flags
        self.env = lancet_env(env)
        self.cwd = cwd
        self.stop_timeout = stop_timeout
        self._log_dir = Path(log_dir) if log_dir else None
        self.proc: Optional[subprocess.Popen] = None
        self.returncode: Optional[int] = None

    @property
    def url(self) -> str:
        """Base URL; with --uds it is http://localhost (use httpx.HTTPTransport(uds=server.uds))."""
        return "http://localhost" if self.uds else f"http://{self.host}:{self.port}"

    def start(self, wait: bool = True, timeout: float = 10.0) -> "LancetServer":
        if self._log_dir is None:
            import tempfile
            self._log_dir = Path(tempfile.mkdtemp(prefix="lancet-test-"))
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self._out_path = self._log_dir / f"server-{id(self)}.stdout"
        self._err_path = self._log_dir / f"server-{id(self)}.stderr"
        self._out = open(self._out_path, "wb")
        self._err = open(self._err_path, "wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, start_new_session=True)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Until the port accepts a connection; fails the test if the process exits or time runs out."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                pytest.fail(f"lancet exited with {rc} before accepting connections\n"
                            f"argv: {shlex.join(self.argv)}\n{self.describe_output()}")
            try:
                if self.uds:
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as u:
                        u.settimeout(0.5)
                        u.connect(self.uds)
                else:
                    with socket.create_connection((self.host, self.port), timeout=0.5):
                        pass
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"lancet did not accept connections on {self.url} within {timeout} s\n"
                            f"argv: {shlex.join(self.argv)}\n{self.describe_output()}")
            time.sleep(0.05)

    def stdout(self) -> str:
        return self._out_path.read_text(errors="replace") if self.proc else ""

    def stderr(self) -> str:
        return self._err_path.read_text(errors="replace") if self.proc else ""

    def describe_output(self) -> str:
        return f"--- stdout ---\n{self.stdout()}--- stderr ---\n{self.stderr()}"

    def stop(self, sig: int = signal.SIGTERM) -> Optional[int]:
        """SIGTERM (or ``sig``), wait ``stop_timeout`` s, then SIGKILL; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.returncode = self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait(5)
        else:
            self.returncode = self.proc.returncode
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        return self.returncode


@pytest.fixture
def lancet_server(tmp_path):
    """Factory: ``lancet_server(app, *flags, env=, cwd=, app_dir=, wait=, timeout=)`` -> LancetServer.
    Skips the test when the native extension is not importable."""
    if NATIVE_MISSING is not None:
        pytest.skip(NATIVE_MISSING)
    servers: List[LancetServer] = []

    def start(app: str, *flags: str, env: Optional[Dict[str, str]] = None,
              cwd: Optional[os.PathLike] = None, app_dir: Optional[os.PathLike] = APPS_DIR,
              wait: bool = True, timeout: float = 10.0, stop_timeout: float = 10.0) -> LancetServer:
        server = LancetServer(app, *flags, env=env, cwd=cwd, app_dir=app_dir,
                              log_dir=tmp_path / f"server{len(servers)}", stop_timeout=stop_timeout)
        servers.append(server)
        return server.start(wait=wait, timeout=timeout)

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def lancet_cli():
    """``lancet_cli(*args, env=, cwd=, timeout=)`` -> CompletedProcess (runs to completion)."""
    return run_lancet


def one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    """Asserts ``result`` failed with ``code`` and exactly one stderr line ``lancet: ...``; returns it."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("lancet: "), lines[0]
    assert result.returncode == code, (result.returncode, result.stderr)
    return lines[0]
