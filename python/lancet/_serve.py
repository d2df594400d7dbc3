"""The serve loop: lifespan, the native server, signals, graceful shutdown.

``serve(config)`` runs in the calling (main) thread until the server stops and returns the
process exit code:

- 0 after a clean shutdown;
- 1 when the server could not start (e.g. the port is in use: one line through ``lancet.error``);
- 3 when lifespan startup (or shutdown) failed (the app's message through ``lancet.error``).

The hot path is native (``lancet._lancet.Server``): the backend posts requests to a mailbox whose
eventfd is registered with ``loop.add_reader``; ``Server.on_wakeup`` drains it in one GIL hold,
builds scopes and starts one task per request. This module only wires that up. The lifespan
protocol runs here, in Python, validated by the native ``LifespanCycle`` (protocol/lifespan).
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import threading
from typing import Any, Callable, Dict, Optional

from . import _lancet
from .supervisor import worker_channel

__all__ = ["serve", "EXIT_OK", "EXIT_START_FAILED", "EXIT_LIFESPAN_FAILED"]

EXIT_OK = 0
EXIT_START_FAILED = 1
EXIT_LIFESPAN_FAILED = 3

logger = logging.getLogger("lancet.error")


def _new_loop(mode: str) -> asyncio.AbstractEventLoop:
    if mode in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if mode == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class _Lifespan:
    """ASGI lifespan 2.0 around the native cycle: the cycle decides, this class awaits."""

    def __init__(self, app: Any, mode: str, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.mode = mode
        self.loop = loop
        self.cycle = _lancet.LifespanCycle(mode)
        self.state: Dict[str, Any] = {}
        self.ran = False                 # startup completed through the protocol
        self.failed = False
        self.task: Optional[asyncio.Task] = None
        self._sent = False               # the app sent at least one event
        self._startup: asyncio.Future = loop.create_future()
        self._shutdown: asyncio.Future = loop.create_future()
        self._wakeup: Optional[asyncio.Future] = None

    # -- the app's receive/send ----------------------------------------------------------------
    async def receive(self) -> Dict[str, Any]:
        while True:
            event = self.cycle.next_receive()
            if event is not None:
                return event
            self._wakeup = self.loop.create_future()
            await self._wakeup

    async def send(self, message: Dict[str, Any]) -> None:
        self._sent = True
        self._apply(self.cycle.on_app_send(message))  # RuntimeError for a wrong event

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": self.state}
        raised = False
        try:
            await self.app(scope, self.receive, self.send)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: B902 - the cycle decides what it means
            raised = True
            # uvicorn: an app that does not speak lifespan (auto) is only reported at info.
            if self.mode != "auto" or self._sent:
                logger.error("Exception in 'lifespan' protocol", exc_info=exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self._apply(self.cycle.on_app_exit(True))
                raise
        self._apply(self.cycle.on_app_exit(raised))

    # -- steps -----------------------------------------------------------------------------------
    def _apply(self, step) -> None:
        action, reason, message, description = step
        if action == "none":
            return
        if action == "serve":
            if description:
                logger.info(description)
            self.ran = reason == "startup_complete"
            _set(self._startup, True)
        elif action == "stop":
            if reason != "shutdown_skipped" and description:
                logger.info(description)
            _set(self._startup, False)  # startup interrupted by shutdown: not serving
            _set(self._shutdown, True)
        elif action == "exit_failure":
            self.failed = True
            if message:
                logger.error(message)
            if not self._startup.done():
                logger.error("Application startup failed. Exiting.")
                _set(self._startup, False)
            else:
                logger.error("Application shutdown failed. Exiting.")
            _set(self._shutdown, False)

    # -- the server's side -----------------------------------------------------------------------
    async def startup(self) -> bool:
        action, _reason, _message, _description = self.cycle.initial_step()
        if action == "serve":  # --lifespan off
            return True
        logger.info("Waiting for application startup.")
        self.task = self.loop.create_task(self._run())
        return await self._startup

    async def shutdown(self) -> bool:
        if self.task is None:
            return True
        self._apply(self.cycle.begin_shutdown())
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
        if not self._shutdown.done():
            logger.info("Waiting for application shutdown.")
        ok = await self._shutdown
        if not self.task.done():
            self.task.cancel()
        return ok


def _set(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _limit_requests(app: Any, limit: int, on_limit: Callable[[], None]) -> Any:
    """``app``, counting the requests it is called for: the ``limit``-th one calls ``on_limit``
    (a graceful stop: it and the other in-flight requests finish). Only used with
    --limit-max-requests, so the hot path has no extra frame otherwise. Probes answered natively
    are not requests to the app and do not count."""
    count = 0

    async def counted(scope, receive, send):
        nonlocal count
        count += 1
        if count == limit:
            logger.warning("Maximum request limit of %d exceeded. Terminating process.", limit)
            on_limit()
        return await app(scope, receive, send)

    return counted



async def _serve(config, loop: asyncio.AbstractEventLoop) -> int:
    stop = asyncio.Event()
    signals = {"count": 0}

    def on_signal() -> None:
        signals["count"] += 1
        stop.set()

    # Under --workers: the supervisor's lifeline; EOF means the parent is gone: drain and exit.
    channel = worker_channel()
    lifeline = channel.lifeline_fd if channel is not None else -1

    def on_lifeline() -> None:
        try:
            data = os.read(lifeline, 64)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(lifeline)
            logger.error("The supervising process is gone; shutting down.")
            on_signal()

    if lifeline >= 0:
        os.set_blocking(lifeline, False)
        loop.add_reader(lifeline, on_lifeline)

    installed = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
    try:
        return await _run(config, loop, stop, signals)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if lifeline >= 0:
            loop.remove_reader(lifeline)


async def _run(config, loop, stop: asyncio.Event, signals: Dict[str, int]) -> int:
    lifespan = _Lifespan(config.app, config.lifespan, loop)
    startup = loop.create_task(lifespan.startup())
    stop_wait = loop.create_task(stop.wait())
    await asyncio.wait({startup, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not startup.done():
        # A signal during startup: stop waiting for the app.
        startup.cancel()
        if lifespan.task is not None:
            lifespan.task.cancel()
        return EXIT_OK
    if not startup.result():
        stop_wait.cancel()
        return EXIT_LIFESPAN_FAILED if lifespan.failed else EXIT_OK

    state = lifespan.state if lifespan.ran else None
    app = config.app
    if config.limit_max_requests:
        limit = int(config.limit_max_requests) + random.randint(
            0, max(0, int(config.limit_max_requests_jitter or 0)))
        app = _limit_requests(app, limit, stop.set)
    server = _lancet.Server(config.to_native(), app, loop, state,
                            bool(config.access_log))
    error = server.start()
    if error is not None:
        stop_wait.cancel()
        _errno, message = error
        logger.error("lancet: %s", message)
        await lifespan.shutdown()
        return EXIT_START_FAILED

    fd = server.fileno()
    loop.add_reader(fd, server.on_wakeup)
    try:
        server.set_ready(True)
        address = server.bound_address()
        if address.startswith("/"):
            where = f"unix socket {address}"
        else:
            where = f"http://{address}"
        backend = server.backend_name()
        if backend == "io_uring":
            backend += (", I/O on the loop thread" if server.io_on_loop_thread()
                        else ", I/O thread")
        channel = worker_channel()
        if channel is not None:
            logger.info("Lancet worker [%d] serving on %s (backend: %s)",
                        os.getpid(), where, backend)
            channel.notify_ready()
        else:
            logger.info("Lancet running on %s (backend: %s; Press CTRL+C to quit)",
                        where, backend)
        await stop_wait

        # Graceful shutdown: stop accepting, let in-flight exchanges finish.
        logger.info("Shutting down")
        server.set_ready(False)
        timeout = float(config.timeout_graceful_shutdown)
        server.shutdown(timeout)
        deadline = loop.time() + timeout + 1.0
        seen = signals["count"]
        while server.active_exchanges() or server.live_exchanges():
            if signals["count"] > seen or loop.time() > deadline:
                server.shutdown(0.0)
                break
            await asyncio.sleep(0.02)
        join = loop.run_in_executor(None, server.join)
        while not join.done():
            if signals["count"] > seen:
                server.shutdown(0.0)
            await asyncio.wait({join}, timeout=0.05)
        server.on_wakeup()  # whatever the backend posted while stopping
    finally:
        loop.remove_reader(fd)

    # App tasks still running (the client left, a background task): cancel them. Requests run
    # in AppTasks (--task-impl native), which asyncio.all_tasks() does not list.
    current = asyncio.current_task()
    for task in asyncio.all_tasks(loop):
        if task is not current and task is not lifespan.task and task is not stop_wait:
            task.cancel()
    for task in _lancet.live_app_tasks():
        task.cancel()
    # Lifespan shutdown, bounded by the graceful timeout; a further signal stops waiting.
    seen = signals["count"]
    shutdown = loop.create_task(lifespan.shutdown())
    deadline = loop.time() + float(config.timeout_graceful_shutdown)
    while not shutdown.done():
        if signals["count"] > seen or loop.time() > deadline:
            shutdown.cancel()
            if lifespan.task is not None:
                lifespan.task.cancel()
            logger.error("Application shutdown did not finish; exiting anyway.")
            return EXIT_LIFESPAN_FAILED
        await asyncio.wait({shutdown}, timeout=0.05)
    return EXIT_OK if shutdown.result() else EXIT_LIFESPAN_FAILED


async def _settle(tasks, turns: int = 100) -> None:
    """Lets cancelled AppTasks (not futures: gather() cannot wait on them) run their
    cancellation, for at most `turns` loop turns."""
    for _ in range(turns):
        if all(task.done() for task in tasks):
            return
        await asyncio.sleep(0)


def serve(config) -> int:
    """Serves ``config.app`` (already loaded) until SIGINT/SIGTERM; returns the exit code."""
    loop = _new_loop(config.loop)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(config, loop))
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            app_tasks = _lancet.live_app_tasks()
            for task in app_tasks:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if app_tasks:
                loop.run_until_complete(_settle(app_tasks))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
