"""Apps for test_app_task.py: what an app sees of the task it runs in (--lifespan off)."""
import asyncio
import contextvars
import json
import os

import anyio

request_var = contextvars.ContextVar("request_var", default="unset")


async def _respond(send, payload):
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send):
    """Served with --lifespan off: HTTP scopes only."""
    path = scope["path"]
    if path == "/task":
        task = asyncio.current_task()
        var_before = request_var.get()
        request_var.set("set by an earlier request")
        await asyncio.sleep(0)
        same = asyncio.current_task() is task
        with anyio.move_on_after(0.01) as cancel_scope:
            await anyio.sleep(5)
        await _respond(send, {
            "kind": type(task).__name__,
            "same_task_after_await": same,
            "var_before": var_before,
            "moved_on": cancel_scope.cancel_called,
            "all_tasks_lists_it": task in asyncio.all_tasks(),
        })
    elif path == "/hang":
        marker = os.environ["TASK_APPS_MARKER"]
        with open(marker + ".started", "w"):
            pass
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError as e:
            with open(marker, "w") as f:
                f.write(type(e).__name__)
            raise
    else:
        await _respond(send, {"path": path})
