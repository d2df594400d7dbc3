"""AppTask (bridge/app_task.hpp): the asyncio-compatible task each request's app runs in.

Driven directly through ``lancet._lancet.create_app_task`` on asyncio's loop and on uvloop, with
asyncio.Task's behaviour as the reference: the same coroutine is run both ways where the outcome
can be compared. The server-level behaviour (current_task() in an app, anyio, contextvars between
requests, --task-impl asyncio, shutdown) is in test_app_task_server at the end.
"""
import asyncio
import contextvars
import gc
import json
import os
import socket
import sys
import time
import weakref

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))

import httpx  # noqa: E402

from asgi_server import LancetProcess  # noqa: E402
from lancet import _lancet  # noqa: E402

LOOPS = ["asyncio"]
try:
    import uvloop
    LOOPS.append("uvloop")
except ImportError:  # pragma: no cover - Debian's python3-uvloop is a test dependency
    uvloop = None


@pytest.fixture(params=LOOPS)
def loop(request):
    lp = uvloop.new_event_loop() if request.param == "uvloop" else asyncio.new_event_loop()
    asyncio.set_event_loop(lp)
    yield lp
    for task in _lancet.live_app_tasks():
        task.cancel()
    lp.run_until_complete(asyncio.sleep(0))
    asyncio.set_event_loop(None)
    lp.close()


def run_app_task(loop, coro, eager=False, turns=200):
    """Starts `coro` in an AppTask and runs the loop until it is done (bounded)."""
    task = _lancet.create_app_task(coro, loop, "t", eager=eager)

    async def wait():
        for _ in range(turns):
            if task.done():
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{task!r} did not finish")

    loop.run_until_complete(wait())
    return task


def test_current_task_is_the_app_task_in_every_step(loop):
    seen = []

    async def app():
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        await asyncio.sleep(0.001)
        seen.append(asyncio.current_task())

    task = run_app_task(loop, app())
    assert seen == [task, task, task]
    assert type(task).__name__ == "AppTask"
    assert task.done() and not task.cancelled()
    assert task.result() is None and task.exception() is None
    assert asyncio.current_task(loop) is None  # left after each step


def test_eager_start_runs_the_first_step_at_once(loop):
    order = []

    async def app():
        order.append("step 1")
        await asyncio.sleep(0)
        order.append("step 2")

    async def main():
        return None

    loop.run_until_complete(main())
    task = _lancet.create_app_task(app(), loop, eager=True)
    assert order == ["step 1"]
    loop.run_until_complete(asyncio.sleep(0.01))
    assert order == ["step 1", "step 2"] and task.done()


def test_eager_start_is_refused_inside_a_running_task(loop):
    async def app():
        return None

    async def main():
        coro = app()
        with pytest.raises(ValueError, match="a task is running"):
            _lancet.create_app_task(coro, loop, eager=True)
        coro.close()

    loop.run_until_complete(main())


def test_a_future_result_and_a_future_exception_reach_the_coroutine(loop):
    got = []

    async def app():
        fut = loop.create_future()
        loop.call_later(0.001, fut.set_result, 42)
        got.append(await fut)
        bad = loop.create_future()
        loop.call_soon(bad.set_exception, KeyError("k"))
        try:
            await bad
        except KeyError as e:
            got.append(repr(e))

    task = run_app_task(loop, app())
    assert got == [42, "KeyError('k')"]
    assert task._fut_waiter is None


def test_cancel_while_waiting_throws_cancelled_error_at_the_await(loop):
    events = []
    started = asyncio.Event()

    async def app():
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError as e:
            events.append(("cancelled", e.args))
            raise

    task = _lancet.create_app_task(app(), loop)

    async def main():
        await started.wait()
        assert isinstance(task._fut_waiter, asyncio.Future)
        assert task.cancel("stop it") is True
        assert task.cancelling() == 1
        for _ in range(100):
            if task.done():
                break
            await asyncio.sleep(0)

    loop.run_until_complete(main())
    assert events == [("cancelled", ("stop it",))]
    assert task.done() and task.cancelled()
    with pytest.raises(asyncio.CancelledError):
        task.result()
    with pytest.raises(asyncio.CancelledError):
        task.exception()
    assert task.cancel() is False  # done: nothing to cancel


def test_cancel_from_inside_lands_at_the_next_await(loop):
    events = []

    async def app():
        me = asyncio.current_task()
        me.cancel()
        assert me._must_cancel is True
        events.append("still running")
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            events.append("cancelled at the await")
            raise

    task = run_app_task(loop, app())
    assert events == ["still running", "cancelled at the await"]
    assert task.cancelled()


def test_cancel_that_the_app_swallows_and_uncancel(loop):
    async def app():
        me = asyncio.current_task()
        loop.call_soon(me.cancel)
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            assert me.cancelling() == 1
            assert me.uncancel() == 0
        return None

    task = run_app_task(loop, app())
    assert task.done() and not task.cancelled() and task.cancelling() == 0


def test_cancel_when_the_coroutine_returns_in_the_same_step_ends_cancelled(loop):
    async def app():
        asyncio.current_task().cancel()

    task = run_app_task(loop, app())
    assert task.cancelled()  # as asyncio.Task: a cancel() during the last step wins


def test_asyncio_timeout_works_in_an_app_task(loop):
    outcome = []

    async def app():
        try:
            async with asyncio.timeout(0.005):
                await asyncio.sleep(5)
        except TimeoutError:
            outcome.append("timed out")
        outcome.append(asyncio.current_task().cancelling())

    task = run_app_task(loop, app(), turns=2000)
    assert outcome == ["timed out", 0]
    assert task.done() and not task.cancelled()


def test_asyncio_task_group_works_in_an_app_task(loop):
    outcome = []

    async def child(n):
        await asyncio.sleep(0.001)
        outcome.append(n)

    async def fails():
        await asyncio.sleep(0)
        raise ValueError("child failed")

    async def app():
        async with asyncio.TaskGroup() as tg:
            tg.create_task(child(1))
            tg.create_task(child(2))
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fails())
                await asyncio.sleep(5)  # cancelled by the group when the child fails
        except ExceptionGroup as eg:
            outcome.append(("group", [type(e).__name__ for e in eg.exceptions]))
        outcome.append(("cancelling", asyncio.current_task().cancelling()))

    task = run_app_task(loop, app(), turns=2000)
    assert sorted(outcome[:2]) == [1, 2]
    assert outcome[2:] == [("group", ["ValueError"]), ("cancelling", 0)]
    assert task.done() and not task.cancelled()


def test_anyio_cancel_scope_and_task_group_work_in_an_app_task(loop):
    anyio = pytest.importorskip("anyio")
    outcome = []

    async def child(n):
        await anyio.sleep(0.001)
        outcome.append(n)

    async def app():
        with anyio.move_on_after(0.005) as scope:
            await anyio.sleep(5)
        outcome.append(("moved on", scope.cancel_called))
        async with anyio.create_task_group() as tg:
            tg.start_soon(child, 1)
            tg.start_soon(child, 2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.sleep, 5)
            await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
        outcome.append("group cancelled")

    task = run_app_task(loop, app(), turns=2000)
    assert outcome[0] == ("moved on", True)
    assert sorted(outcome[1:3]) == [1, 2]
    assert outcome[3] == "group cancelled"
    assert task.done() and not task.cancelled(), task.exception()


def test_asgiref_sync_to_async_and_local_work_in_an_app_task(loop):
    """Django's path: asgiref keys its thread map and Local storage on current_task()."""
    sync = pytest.importorskip("asgiref.sync")
    from asgiref.local import Local

    local = Local()
    out = []

    async def async_part():
        out.append(("async again", local.value))
        return 42

    def sync_part():
        out.append(("sync", local.value))
        return sync.async_to_sync(async_part)()

    async def app():
        local.value = "set in the task"
        out.append(await sync.sync_to_async(sync_part, thread_sensitive=True)())

    task = run_app_task(loop, app(), turns=2000)
    assert task.done() and not task.cancelled(), task.exception()
    assert out == [("sync", "set in the task"), ("async again", "set in the task"), 42]


def test_each_task_runs_in_its_own_context(loop):
    var = contextvars.ContextVar("var", default="outer")
    seen = []

    async def app(value):
        seen.append(var.get())
        var.set(value)
        await asyncio.sleep(0)
        seen.append(var.get())

    var.set("at creation")
    a = _lancet.create_app_task(app("a"), loop)
    b = _lancet.create_app_task(app("b"), loop)
    var.set("later")
    loop.run_until_complete(asyncio.sleep(0.01))
    assert a.done() and b.done()
    assert sorted(seen) == sorted(["at creation", "at creation", "a", "b"])
    assert var.get() == "later"
    assert a.get_context()[var] == "a" and b.get_context()[var] == "b"


def test_bad_yields_raise_runtime_error_inside_the_coroutine(loop):
    import types

    @types.coroutine
    def yield_value(v):
        yield v

    other = asyncio.new_event_loop()
    errors = []

    async def app():
        try:
            await yield_value(123)
        except RuntimeError as e:
            errors.append(str(e))
        try:
            await other.create_future()  # Future.__await__ marks it blocking
        except RuntimeError as e:
            errors.append(str(e))
        fut = loop.create_future()
        fut._asyncio_future_blocking = False
        try:
            await yield_value(fut)
        except RuntimeError as e:
            errors.append(str(e))

    try:
        task = run_app_task(loop, app())
    finally:
        other.close()
    assert task.done() and not task.cancelled()
    assert errors[0].startswith("Task got bad yield: 123")
    assert "attached to a different loop" in errors[1]
    assert "yield was used instead of yield from" in errors[2]


def test_done_callbacks_get_the_task(loop):
    called = []

    async def app():
        await asyncio.sleep(0)

    task = _lancet.create_app_task(app(), loop)
    task.add_done_callback(lambda t: called.append(("first", t)))
    dropped = lambda t: called.append(("dropped", t))  # noqa: E731
    task.add_done_callback(dropped)
    assert task.remove_done_callback(dropped) == 1
    loop.run_until_complete(asyncio.sleep(0.01))
    assert called == [("first", task)]
    task.add_done_callback(lambda t: called.append(("late", t)))  # already done: soon
    loop.run_until_complete(asyncio.sleep(0))
    assert called == [("first", task), ("late", task)]


def test_keyboard_interrupt_ends_the_task_and_is_raised_from_the_step(loop):
    async def app():
        raise KeyboardInterrupt

    async def main():
        return None

    loop.run_until_complete(main())
    with pytest.raises(KeyboardInterrupt):
        _lancet.create_app_task(app(), loop, eager=True)
    assert _lancet.live_app_tasks() == []


def test_live_app_tasks_lists_pending_tasks_only(loop):
    gate = loop.create_future()

    async def waits():
        await gate

    async def quick():
        return None

    a = _lancet.create_app_task(waits(), loop, name="waits")
    b = _lancet.create_app_task(quick(), loop, name="quick")
    loop.run_until_complete(asyncio.sleep(0.01))
    assert b.done() and not a.done()
    assert _lancet.live_app_tasks() == [a]
    assert a.get_name() == "waits"
    a.set_name(7)
    assert a.get_name() == "7"
    assert "pending" in repr(a) and "name='7'" in repr(a)
    assert len(a.get_stack()) == 1 and a.get_stack(limit=0) == []
    assert a.get_loop() is loop and asyncio.iscoroutine(a.get_coro())
    gate.set_result(None)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert _lancet.live_app_tasks() == []


def test_a_task_in_a_reference_cycle_is_collected(loop):
    gate = loop.create_future()
    holder = {}

    async def app():
        holder["me"] = asyncio.current_task()  # the coroutine's frame reaches the task
        await gate

    task = _lancet.create_app_task(app(), loop)
    loop.run_until_complete(asyncio.sleep(0.01))
    ref = weakref.ref(task)
    hash(task)
    gate.cancel()
    loop.run_until_complete(asyncio.sleep(0.01))
    assert task.cancelled()
    del task, holder["me"]
    gc.collect()
    assert ref() is None


# ---- tasks that call the app (what the server makes) ---------------------------------------------

def call_task(loop, app, exits, eager=False):
    # A scope with a list in it, as the server's: the GC tracks it (a dict of strings only is
    # not tracked), so a collection walks it through the task.
    scope = {"type": "http", "headers": [(b"host", b"x")]}
    return _lancet.create_app_call_task(app, scope, "receive", "send", exits.append, loop,
                                        eager=eager)


def test_the_first_step_calls_the_app_as_the_current_task_in_its_context(loop):
    var = contextvars.ContextVar("var", default="unset")
    seen = []
    exits = []

    class App:  # a __call__ that does work before its coroutine exists
        def __call__(self, scope, receive, send):
            seen.append(("call", asyncio.current_task(), scope["type"], receive, send))
            var.set("set in __call__")
            return self.run()

        async def run(self):
            await asyncio.sleep(0)
            seen.append(("run", asyncio.current_task(), var.get()))

    box = {}

    def start():  # a loop callback, as the server's reader callback: no task is running
        box["task"] = call_task(loop, App(), exits, eager=True)
        box["seen at once"] = list(seen)
        box["var after"] = var.get()

    loop.call_soon(start)
    loop.run_until_complete(asyncio.sleep(0.01))
    task = box["task"]
    assert box["seen at once"] == [("call", task, "http", "receive", "send")]
    assert box["var after"] == "unset"  # the app's context is the task's, not the caller's
    assert seen[1] == ("run", task, "set in __call__")
    assert exits == [None] and task.done() and not task.cancelled()
    assert task.get_context()[var] == "set in __call__"


def test_an_app_exception_is_reported_once_and_ends_the_task_quietly(loop):
    exits = []
    error = ValueError("boom")

    async def raises(scope, receive, send):
        await asyncio.sleep(0)
        raise error

    def raises_at_call(scope, receive, send):
        raise KeyError("at call")

    task = call_task(loop, raises, exits)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert exits == [error] and error.__traceback__ is not None
    assert task.done() and not task.cancelled() and task.exception() is None
    other = []
    task = call_task(loop, raises_at_call, other)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert len(other) == 1 and isinstance(other[0], KeyError)
    assert task.done() and task.exception() is None


def test_an_app_that_returns_another_awaitable_is_awaited(loop):
    exits = []
    steps = []

    class Awaitable:
        def __await__(self):
            steps.append("awaited")
            yield from asyncio.sleep(0).__await__()
            steps.append("resumed")

    task = call_task(loop, lambda scope, receive, send: Awaitable(), exits)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert steps == ["awaited", "resumed"] and exits == [None] and task.done()
    not_awaitable = []
    call_task(loop, lambda scope, receive, send: None, not_awaitable)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert len(not_awaitable) == 1 and isinstance(not_awaitable[0], TypeError)


def test_cancelled_before_its_first_step_the_app_is_never_called(loop):
    exits = []
    called = []

    async def app(scope, receive, send):
        called.append(True)

    task = call_task(loop, app, exits)  # first step scheduled, not run
    assert task.cancel() is True
    loop.run_until_complete(asyncio.sleep(0.01))
    assert called == [] and len(exits) == 1
    assert isinstance(exits[0], asyncio.CancelledError)
    assert task.cancelled()


def test_the_garbage_collector_walks_tasks_not_started_yet(loop):
    """The app and its arguments are held until the first step: a collection in between walks
    them (this crashed when the walk passed the wrong argument)."""
    exits = []

    async def app(scope, receive, send):
        return None

    tasks = [call_task(loop, app, exits) for _ in range(50)]
    for generation in (0, 1, 2):
        gc.collect(generation)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert all(t.done() for t in tasks) and exits == [None] * 50


# ---- in the server ------------------------------------------------------------------------------

def test_app_task_server_current_task_context_and_anyio():
    """Per request: current_task() is an AppTask that stays the same across awaits, a context
    variable set by one request is not seen by the next on the same connection, and an anyio
    cancel scope times out. --task-impl asyncio runs the same app in asyncio.Task."""
    for impl, kind in (("native", "AppTask"), ("asyncio", "Task")):
        with LancetProcess("task_apps:app", "--lifespan", "off", "--task-impl", impl) as s:
            with httpx.Client(base_url=s.url, timeout=10.0) as c:
                first = c.get("/task").json()
                second = c.get("/task").json()
                assert first["kind"] == kind and second["kind"] == kind
                assert first["same_task_after_await"] is True
                assert first["var_before"] == "unset" and second["var_before"] == "unset", (
                    impl, first, second)
                assert first["moved_on"] is True
                assert first["all_tasks_lists_it"] is (impl == "asyncio")


def _read_responses(sock, count, timeout=10.0):
    """The JSON bodies of `count` responses (with Content-Length) read from `sock`."""
    sock.settimeout(timeout)
    data = b""
    bodies = []
    while len(bodies) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end].decode("latin-1").lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0])
            if len(data) >= head_end + 4 + length:
                bodies.append(json.loads(data[head_end + 4:head_end + 4 + length]))
                data = data[head_end + 4 + length:]
                continue
        piece = sock.recv(65536)
        assert piece, f"closed after {len(bodies)} responses"
        data += piece
    return bodies


def test_app_task_server_a_request_never_sees_the_context_of_the_one_before():
    """Pipelined requests: the second is parsed once the first response is written, which the
    first request's send() schedules from inside its task. Each request must start from the
    server's context, not from the context of the task that was running (both --task-impl)."""
    for impl in ("native", "asyncio"):
        with LancetProcess("task_apps:app", "--lifespan", "off", "--task-impl", impl) as s:
            with socket.create_connection((s.host, s.port), timeout=10) as sock:
                sock.sendall(b"GET /task HTTP/1.1\r\nhost: x\r\n\r\n" * 4)
                bodies = _read_responses(sock, 4)
            assert [b["var_before"] for b in bodies] == ["unset"] * 4, (impl, bodies)


def test_app_task_server_shutdown_cancels_a_request_still_in_the_app(tmp_path):
    marker = tmp_path / "cancelled"
    with LancetProcess("task_apps:app", "--lifespan", "off", "--timeout-graceful-shutdown", "0.5",
                       env={"TASK_APPS_MARKER": str(marker)}) as s:
        sock = socket.create_connection((s.host, s.port), timeout=5)
        sock.sendall(b"GET /hang HTTP/1.1\r\nhost: x\r\n\r\n")
        for _ in range(100):
            if (tmp_path / "cancelled.started").exists():
                break
            time.sleep(0.02)
        assert (tmp_path / "cancelled.started").exists()
        s.stop()
        sock.close()
    assert marker.read_text() == "CancelledError"
