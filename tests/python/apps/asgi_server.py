"""Runs a real Lancet server process for the ASGI end-to-end tests: bounded waits, kill at end.

    with LancetProcess("asgi_apps:app") as server:
        httpx.get(server.url + "/scope")
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
APPS_DIR = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
_RUNNING = re.compile(r"Lancet running on http://([0-9.]+):(\d+)")


class LancetProcess:
    def __init__(self, app, *args, env=None, start_timeout=15.0, command=None):
        self.app = app
        self.command = command or [PYTHON, "-m", "lancet"]
        self.args = list(args)
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.environ.get("LANCET_PYTHONPATH") or os.path.join(REPO, "python")
        self.env.pop("VIRTUAL_ENV", None)
        if env:
            self.env.update(env)
        self.start_timeout = start_timeout
        self.proc = None
        self.lines = []
        self._lock = threading.Lock()
        self._readers = []
        self.host = self.port = None
        self.returncode = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        cmd = [*self.command, self.app, "--app-dir", APPS_DIR, "--host", "127.0.0.1",
               "--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=REPO)
        for stream in (self.proc.stdout, self.proc.stderr):
            t = threading.Thread(target=self._read, args=(stream,), daemon=True)
            t.start()
            self._readers.append(t)
        return self

    def wait_running(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    m = _RUNNING.search(line)
                    if m:
                        self.host, self.port = m.group(1), int(m.group(2))
                        return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("lancet did not start:\n" + self.output())

    def _read(self, stream):
        for raw in iter(stream.readline, b""):
            with self._lock:
                self.lines.append(raw.decode("utf-8", "replace"))
        stream.close()

    def wait_exit(self, timeout=15.0):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait(timeout=5)
            raise
        finally:
            for t in self._readers:
                t.join(timeout=2)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.returncode = self.proc.returncode
                for t in self._readers:
                    t.join(timeout=2)
            return self.returncode
        self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def output(self):
        with self._lock:
            return "".join(self.lines)

    def wait_for_output(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            time.sleep(0.02)
        return False

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def __enter__(self):
        return self.start().wait_running()

    def __exit__(self, *exc):
        self.stop()
