"""``--workers N``: a supervising parent and N worker processes on one shared listening socket.

Design
------
Who binds: the parent, and it keeps every listening socket for its whole life; workers take
them over with ``--fd`` (the backends' adopt path, backends/common/listener.cpp, which dup()s).
- host:port: one socket per worker *slot*, all bound to the same port with SO_REUSEPORT (and
  SO_REUSEADDR), so the kernel spreads new connections evenly over the workers. (One socket
  shared by every worker does not spread them: with io_uring's multishot accept, the I/O thread
  of one worker takes nearly every connection.) A worker that dies, recycles or is replaced on
  SIGHUP hands its slot's socket to its successor: connections queued on it wait for the new
  worker instead of being reset. Port 0: the first socket picks the port, the others follow.
- --uds and --fd: one socket, shared by every worker (one accept queue; the balance between
  workers is whatever the kernel's wakeups give).
A draining worker must not shutdown() a socket other workers (or its successor) accept on:
_serve.py swaps the backend's dup for a private socket first (``_shield_adopted_listener``).

Spawn, not fork: each worker is a fresh interpreter, ``sys.executable -m lancet APP <flags> --fd
N --workers 1`` (``lancet-embed`` re-executes itself), started with ``subprocess.Popen(pass_fds=
...)``. Forking would copy whatever the parent had imported or started (the native extension may
start threads, uvloop, the app's own globals); a fresh interpreter has its own loop, caches and
GIL by construction and runs the normal, tested single-process path. The cost is one interpreter
start per worker (tens of ms), paid at startup and on restarts only. The worker's flags are
rebuilt from the Config (``worker_argv``), so ``lancet.run("m:app", workers=4)`` works too.

The parent never imports the app (as uvicorn's parent). It checks what it can without importing
(the APP syntax, flag values, --env-file, --log-config, uvloop, the native extension) and then
starts ONE worker first; only when that worker reports it is serving does it start the others.
If that worker fails to start (import error, exit 1; lifespan startup failure, exit 3; ...) the
worker has already printed its one clear line and the parent exits with the worker's code: no
repeated lines, no restart loop. Later, a worker that dies is restarted; if workers keep failing
before they serve (``MAX_STARTUP_FAILURES`` in a row) the parent gives up with that exit code.

Worker <-> parent, through the environment variable ``LANCET_SUPERVISOR_FDS="READY,LIFELINE"``
(read and removed by the worker before the app is imported):
- READY: a pipe the worker writes one byte to once it is serving (after lifespan startup);
- LIFELINE: the read end of a pipe whose write end only the parent holds. If the parent dies
  (even by SIGKILL), the worker reads EOF and drains like on SIGTERM: no orphaned workers.
Workers run in their own process group, so a terminal's Ctrl+C reaches only the parent, which
forwards exactly one signal (a worker that got two would skip draining).

Supervision: a worker that exits unexpectedly is logged (``lancet.error``: pid and exit status)
and restarted after a backoff (0.1 s doubling to 5 s; back to 0.1 s once a worker had stayed up
10 s). A worker that exits 0 after it served (--limit-max-requests) is a recycle: logged at info,
replaced at once.

Signals to the parent: SIGTERM/SIGINT are forwarded once to every worker (each drains, up to
--timeout-graceful-shutdown); the parent waits at most that + 5 s, then SIGKILLs what is left.
It exits 0 (3 if a worker's lifespan shutdown failed, 1 if workers had to be killed). A second
SIGTERM/SIGINT kills the workers at once and exits 1. SIGHUP restarts the workers one at a time:
a new worker is started, and once it serves the old one is told to drain.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

__all__ = ["supervise", "worker_argv", "worker_channel", "WorkerChannel", "ENV_FDS",
           "MAX_STARTUP_FAILURES"]

logger = logging.getLogger("lancet.error")

ENV_FDS = "LANCET_SUPERVISOR_FDS"
BACKOFF_FIRST = 0.1          # s before the first restart of a crashed worker
BACKOFF_MAX = 5.0            # s, the cap of the doubling
BACKOFF_RESET_AFTER = 10.0   # s a worker must have stayed up for the backoff to start over
MAX_STARTUP_FAILURES = 5     # workers in a row that die before serving: the parent gives up
KILL_GRACE = 5.0             # s after the graceful timeout before SIGKILL

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_LIFESPAN_FAILED = 3


# =========================================================================== the worker's side
class WorkerChannel:
    """The two pipes a worker shares with its supervisor (see the module docstring)."""

    def __init__(self, ready_fd: int, lifeline_fd: int) -> None:
        self.ready_fd = ready_fd
        self.lifeline_fd = lifeline_fd

    def notify_ready(self) -> None:
        """Tells the supervisor this worker serves (once; later calls do nothing)."""
        if self.ready_fd < 0:
            return
        try:
            os.write(self.ready_fd, b"R")
        except OSError:
            pass
        try:
            os.close(self.ready_fd)
        except OSError:
            pass
        self.ready_fd = -1


_channel: Optional[WorkerChannel] = None


def worker_channel() -> Optional[WorkerChannel]:
    """The channel to the supervisor when this process is a worker, else None. The first call
    removes ``LANCET_SUPERVISOR_FDS`` from the environment (the app and its children never see
    it) and makes the descriptors non-inheritable."""
    global _channel
    if _channel is None:
        text = os.environ.pop(ENV_FDS, None)
        if not text:
            return None
        try:
            ready, lifeline = (int(part) for part in text.split(","))
        except ValueError:
            return None
        for fd in (ready, lifeline):
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
        _channel = WorkerChannel(ready, lifeline)
    return _channel


# =========================================================================== worker command line
def worker_argv(config, fd: int, *, level_explicit: bool = True) -> List[str]:
    """The ``lancet`` arguments that make a worker serve ``config`` on the inherited socket
    ``fd``: every option, spelled as on the command line, with --fd instead of the address."""
    from .config import Config

    skip = {"app", "host", "port", "uds", "fd", "backlog", "workers", "env_file"}
    if not level_explicit:
        skip.add("log_level")  # keeps --log-config's levels, as in the parent
    defaults = Config()
    out = [str(config.app)]
    for f in dataclasses.fields(config):
        name = f.name
        if name in skip:
            continue
        value = getattr(config, name)
        flag = "--" + name.replace("_", "-")
        if name == "headers":
            out += [f"--header={k}:{v}" for k, v in value]
        elif name == "forwarded_allow_ips":
            out.append(f"{flag}={','.join(value)}")
        elif name == "factory":
            if value:
                out.append(flag)
        elif name == "ws_per_message_deflate":  # takes a value, as uvicorn's does
            if value != defaults.ws_per_message_deflate:
                out.append(f"{flag}={'true' if value else 'false'}")
        elif name in ("ws_ping_interval", "ws_ping_timeout") and value is None:
            out.append(f"{flag}=0")  # None: off, which the command line spells 0
        elif isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        elif value is None:
            continue
        elif value == getattr(defaults, name) and name not in ("log_level",):
            continue  # the worker's default is the same
        else:
            out.append(f"{flag}={value}")
    out += [f"--fd={fd}", "--workers=1"]
    return out


def _worker_command() -> List[str]:
    """How to start a lancet process: ``python -m lancet``, or lancet-embed again when the
    native module is built into the executable (no file on disk for ``python -m`` to find)."""
    try:
        from . import _lancet
        builtin = getattr(_lancet, "__file__", None) is None
    except ImportError:
        builtin = False
    if builtin and sys.argv and sys.argv[0]:
        exe = sys.argv[0]
        found = exe if os.sep in exe else shutil.which(exe)
        if found:
            return [os.path.abspath(found)]
    return [sys.executable, "-m", "lancet"]


def _worker_env() -> Dict[str, str]:
    env = dict(os.environ)
    # The worker must import this very lancet package, even if it was found through sys.path
    # tweaks rather than an installed distribution: put its directory on PYTHONPATH (last, so
    # nothing the user put there is shadowed).
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if here not in parts:
        parts.append(here)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


# =========================================================================== the listening socket
class BindError(Exception):
    """The parent could not bind: one line, like the backends' (``[Errno 98] address ... is
    already in use``)."""


def _errno_text(err: int) -> str:
    import errno as E
    if err == E.EADDRINUSE:
        return "is already in use"
    if err == E.EACCES:
        return "needs permission (ports below 1024 need privileges)"
    if err == E.EADDRNOTAVAIL:
        return "is not an address of this machine"
    return "failed: " + os.strerror(err)


def bind_listener(config, *, reuse_port: bool = False,
                  port: Optional[int] = None) -> Tuple[Optional[socket.socket], int, str]:
    """Returns (socket object or None for --fd, its descriptor, the address to show).
    ``reuse_port``: host:port only, SO_REUSEPORT (one socket per worker slot); ``port``
    overrides config.port (the port the first slot's socket actually got)."""
    if config.uds:
        path = config.uds
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            pass
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError as e:
            sock.close()
            raise BindError(f"[Errno {e.errno}] Unix socket {path} {_errno_text(e.errno or 0)}") from e
        shown = path
    elif config.fd is not None:
        fd = int(config.fd)
        try:
            probe = socket.socket(fileno=os.dup(fd))
        except OSError as e:
            raise BindError(f"[Errno {e.errno}] --fd {fd} is not a socket: {e.strerror}") from e
        try:
            accepting = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
            if probe.type != socket.SOCK_STREAM or not accepting:
                raise BindError(f"[Errno 22] --fd {fd} is not a listening stream socket")
            shown = _format_address(probe.getsockname())
        finally:
            probe.close()
        return None, fd, shown
    else:
        host, port = config.host, int(config.port if port is None else port)
        v6 = ":" in host
        shown = f"[{host}]:{port}" if v6 else f"{host}:{port}"
        try:
            infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                       socket.AI_PASSIVE | socket.AI_NUMERICSERV)
        except socket.gaierror as e:
            raise BindError(f"[Errno 0] cannot resolve address {shown}: {e.strerror}") from e
        family, type_, proto, _name, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind(addr)
        except OSError as e:
            sock.close()
            raise BindError(f"[Errno {e.errno}] address {shown} {_errno_text(e.errno or 0)}") from e
    try:
        sock.listen(int(config.backlog))
    except OSError as e:
        sock.close()
        raise BindError(f"[Errno {e.errno}] cannot listen on {shown}: {e.strerror}") from e
    if not config.uds:
        shown = _format_address(sock.getsockname())
    return sock, sock.fileno(), shown


def _format_address(name) -> str:
    if isinstance(name, str):
        return name
    if isinstance(name, bytes):
        return name.decode(errors="replace")
    host, port = name[0], name[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# =========================================================================== the parent
class _Worker:
    def __init__(self, proc: subprocess.Popen, ready_r: int, slot: int) -> None:
        self.slot = slot                      # index into Supervisor.sockets
        self.proc = proc
        self.pid = proc.pid
        self.ready_r = ready_r
        self.started = time.monotonic()
        self.ready = False
        self.retiring = False                 # told to stop by the parent: not restarted
        self.replaces: Optional["_Worker"] = None   # SIGHUP: the old worker this one replaces
        self.replaced_by: Optional["_Worker"] = None


def _describe_status(rc: int) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        return f"killed by signal {name}"
    return f"exit code {rc}"


class Supervisor:
    def __init__(self, config, *, level_explicit: bool = True) -> None:
        self.config = config
        self.level_explicit = level_explicit
        self.workers: Dict[int, _Worker] = {}
        self.restarts: List[Tuple[float, int]] = []   # (monotonic time, slot) to start a worker
        self.sockets: List[Optional[socket.socket]] = []  # per slot (SO_REUSEPORT) or one shared
        self.fds: List[int] = []
        self.sel = selectors.DefaultSelector()
        self.signals: List[int] = []
        self.stopping = False
        self.stop_deadline = 0.0
        self.ever_ready = False
        self.startup_failures = 0
        self.backoff = BACKOFF_FIRST
        self.rolling: List[_Worker] = []      # SIGHUP: old workers still to replace
        self.exit_code = EXIT_OK
        self.killed = False

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> int:
        config = self.config
        logger.info("Started parent process [%d]", os.getpid())
        try:
            # host:port: one SO_REUSEPORT socket per worker slot (see _slot_fd); --uds, --fd:
            # one socket shared by every worker.
            self.reuse_port = (config.uds is None and config.fd is None
                               and hasattr(socket, "SO_REUSEPORT"))
            sock, fd, shown = bind_listener(config, reuse_port=self.reuse_port)
        except BindError as e:
            logger.error("lancet: %s", e)
            return EXIT_FAILURE
        self.sockets, self.fds = [sock], [fd]
        self.port = sock.getsockname()[1] if self.reuse_port and sock is not None else None
        self.command = _worker_command()
        self.env = _worker_env()
        self.lifeline_r, self.lifeline_w = os.pipe()   # both non-inheritable; pass_fds opens one
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self.sel.register(wake_r, selectors.EVENT_READ, None)
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD)
        previous = {s: signal.signal(s, self._on_signal) for s in handled}
        where = f"unix socket {shown}" if config.uds else f"http://{shown}"
        if config.fd is not None:
            where = f"--fd {config.fd} ({shown})"
        logger.info("Lancet running on %s with %d workers (Press CTRL+C to quit)",
                    where, config.workers)
        try:
            self._spawn(0)   # one worker first; the others once it serves (module docstring)
            return self._loop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            signal.set_wakeup_fd(old_wakeup)
            for fd in (wake_r, wake_w, self.lifeline_r, self.lifeline_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            for w in list(self.workers.values()):   # only after an internal error
                if w.proc.poll() is None:
                    w.proc.kill()
                    w.proc.wait()
            for sock in self.sockets:
                if sock is not None:
                    sock.close()
            if config.uds:
                try:
                    if stat.S_ISSOCK(os.lstat(config.uds).st_mode):
                        os.unlink(config.uds)
                except OSError:
                    pass

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002
        if signum != signal.SIGCHLD:
            self.signals.append(signum)

    def _loop(self) -> int:
        while True:
            now = time.monotonic()
            timeout = 0.25
            if self.restarts and not self.stopping:
                timeout = max(0.0, min(timeout, min(t for t, _ in self.restarts) - now))
            for key, _ in self.sel.select(timeout):
                if key.data is None:
                    try:
                        while os.read(key.fd, 512):
                            pass
                    except (BlockingIOError, InterruptedError):
                        pass
                else:
                    self._on_ready_pipe(key.data)
            while self.signals:
                code = self._handle_signal(self.signals.pop(0))
                if code is not None:
                    return code
            code = self._reap()
            if code is not None:
                return code
            if self.stopping:
                if not self.workers:
                    if self.killed:
                        return EXIT_FAILURE
                    return self.exit_code
                if time.monotonic() > self.stop_deadline:
                    logger.error("Workers did not stop within %.1f s; killing them",
                                 float(self.config.timeout_graceful_shutdown) + KILL_GRACE)
                    self._kill_all()
                    self.killed = True
                continue
            now = time.monotonic()
            due = [slot for t, slot in self.restarts if t <= now]
            if due:
                self.restarts = [(t, slot) for t, slot in self.restarts if t > now]
                for slot in due:
                    self._spawn(slot)
            self._roll()

    # -- workers -------------------------------------------------------------------------------
    def _slot_fd(self, slot: int) -> int:
        """The listening socket of worker slot ``slot``. With SO_REUSEPORT each slot has its own,
        so the kernel spreads new connections evenly over the workers (a shared socket does not:
        with io_uring's multishot accept one worker's I/O thread takes nearly every connection).
        The parent keeps every slot's socket: a slot's replacement worker (after a crash, a
        recycle, SIGHUP) takes over the same socket, with the connections queued on it."""
        while len(self.fds) <= slot:
            if not self.reuse_port:
                self.sockets.append(None)
                self.fds.append(self.fds[0])
                continue
            try:
                sock, fd, _ = bind_listener(self.config, reuse_port=True, port=self.port)
            except BindError as e:
                logger.error("lancet: %s; worker slot %d shares the first socket", e, len(self.fds))
                sock, fd = None, self.fds[0]
            self.sockets.append(sock)
            self.fds.append(fd)
        return self.fds[slot]

    def _spawn(self, slot: int) -> _Worker:
        fd = self._slot_fd(slot)
        argv = self.command + worker_argv(self.config, fd, level_explicit=self.level_explicit)
        ready_r, ready_w = os.pipe()
        env = dict(self.env)
        env[ENV_FDS] = f"{ready_w},{self.lifeline_r}"
        group = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
        try:
            proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                    pass_fds=(fd, ready_w, self.lifeline_r),
                                    **group)  # type: ignore[arg-type]
        finally:
            os.close(ready_w)
        os.set_blocking(ready_r, False)
        worker = _Worker(proc, ready_r, slot)
        self.workers[worker.pid] = worker
        self.sel.register(ready_r, selectors.EVENT_READ, worker)
        logger.info("Started worker [%d]", worker.pid)
        return worker

    def _close_ready(self, worker: _Worker) -> None:
        if worker.ready_r >= 0:
            self.sel.unregister(worker.ready_r)
            os.close(worker.ready_r)
            worker.ready_r = -1

    def _on_ready_pipe(self, worker: _Worker) -> None:
        try:
            data = os.read(worker.ready_r, 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._on_ready(worker)
        self._close_ready(worker)

    def _on_ready(self, worker: _Worker) -> None:
        worker.ready = True
        self.startup_failures = 0
        if not self.ever_ready:
            self.ever_ready = True
            if not self.stopping:
                for slot in range(1, int(self.config.workers)):
                    self._spawn(slot)
        old = worker.replaces
        if old is not None:
            worker.replaces = None
            old.replaced_by = None
            if old.pid in self.workers and not self.stopping:
                old.retiring = True
                self._signal(old, signal.SIGTERM)

    def _reap(self) -> Optional[int]:
        for worker in list(self.workers.values()):
            rc = worker.proc.poll()
            if rc is None:
                continue
            if worker.ready_r >= 0:          # a ready byte may still be in the pipe
                self._on_ready_pipe(worker)
            del self.workers[worker.pid]
            code = self._on_exit(worker, rc)
            if code is not None:
                return code
        return None

    def _on_exit(self, worker: _Worker, rc: int) -> Optional[int]:
        up = time.monotonic() - worker.started
        if self.stopping:
            if rc == EXIT_LIFESPAN_FAILED:
                self.exit_code = EXIT_LIFESPAN_FAILED
            if rc == 0 or self.killed:
                logger.info("Worker [%d] stopped", worker.pid)
            else:
                logger.error("Worker [%d] stopped with %s", worker.pid, _describe_status(rc))
            return None
        if worker.retiring:                   # SIGHUP: replaced on purpose
            logger.info("Worker [%d] stopped (replaced)", worker.pid)
            return None
        new = worker.replaced_by
        if new is not None:                   # died while its replacement was starting
            new.replaces = None
        if rc == 0 and worker.ready:          # --limit-max-requests
            logger.info("Worker [%d] finished (exit code 0, request limit); starting a new one",
                        worker.pid)
            if new is None:
                self._spawn(worker.slot)
            return None
        if worker.replaces is not None:       # a SIGHUP replacement failed: keep the old one
            logger.error("Worker [%d] (restart) failed to start (%s); keeping worker [%d], "
                         "SIGHUP restart abandoned", worker.pid, _describe_status(rc),
                         worker.replaces.pid)
            worker.replaces.replaced_by = None
            self.rolling.clear()
            return None
        if not worker.ready:
            self.startup_failures += 1
            if not self.ever_ready or self.startup_failures >= MAX_STARTUP_FAILURES:
                logger.error("Worker [%d] failed to start (%s)%s; giving up.", worker.pid,
                             _describe_status(rc),
                             "" if not self.ever_ready else
                             f", {self.startup_failures} workers in a row")
                return self._give_up(rc)
        if up >= BACKOFF_RESET_AFTER:
            self.backoff = BACKOFF_FIRST
        delay = self.backoff
        self.backoff = min(BACKOFF_MAX, self.backoff * 2)
        logger.error("Worker [%d] died unexpectedly (%s); restarting it in %.1f s",
                     worker.pid, _describe_status(rc), delay)
        if new is None:
            self.restarts.append((time.monotonic() + delay, worker.slot))
        return None

    def _give_up(self, rc: int) -> int:
        code = rc if rc > 0 else EXIT_FAILURE
        self._begin_stop(signal.SIGTERM, announce=False)
        self.exit_code = code
        # Wait for the others (bounded by the stop deadline) before returning.
        while self.workers and time.monotonic() <= self.stop_deadline and not self.signals:
            time.sleep(0.05)
            for w in list(self.workers.values()):
                if w.proc.poll() is not None:
                    self._close_ready(w)
                    del self.workers[w.pid]
        self._kill_all()
        return code

    def _signal(self, worker: _Worker, signum: int) -> None:
        try:
            worker.proc.send_signal(signum)
        except OSError:
            pass

    def _kill_all(self) -> None:
        for w in list(self.workers.values()):
            if w.proc.poll() is None:
                self._signal(w, signal.SIGKILL)
        for w in list(self.workers.values()):
            try:
                w.proc.wait(2.0)
            except subprocess.TimeoutExpired:
                pass
            self._close_ready(w)
            self.workers.pop(w.pid, None)

    # -- signals -------------------------------------------------------------------------------
    def _handle_signal(self, signum: int) -> Optional[int]:
        if signum in (signal.SIGINT, signal.SIGTERM):
            if self.stopping:
                logger.info("Second signal: killing the workers")
                self._kill_all()
                return EXIT_FAILURE
            self._begin_stop(signum)
        elif signum == signal.SIGHUP and not self.stopping:
            logger.info("Received SIGHUP: restarting the workers one by one")
            self.rolling = [w for w in self.workers.values() if not w.retiring]
        return None

    def _begin_stop(self, signum: int, announce: bool = True) -> None:
        if announce:
            logger.info("Shutting down: stopping %d workers", len(self.workers))
        self.stopping = True
        self.restarts.clear()
        self.rolling.clear()
        self.stop_deadline = (time.monotonic() + float(self.config.timeout_graceful_shutdown)
                              + KILL_GRACE)
        for w in self.workers.values():
            self._signal(w, signum)

    def _roll(self) -> None:
        if not self.rolling or any(w.replaces is not None for w in self.workers.values()):
            return
        while self.rolling:
            old = self.rolling.pop(0)
            if old.pid in self.workers and not old.retiring:
                new = self._spawn(old.slot)   # the same socket: both accept for a moment
                new.replaces = old
                old.replaced_by = new
                return


def supervise(config, *, level_explicit: bool = True) -> int:
    """Runs ``config.workers`` workers under this (parent) process; returns the exit code."""
    return Supervisor(config, level_explicit=level_explicit).run()
