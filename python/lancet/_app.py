"""The coroutine an HTTP or WebSocket exchange's task runs.

The native bridge starts one asyncio task per exchange with
``call_app(app, scope, receive, send, app_exit)`` (``--task-impl asyncio``): the exchange hears
how the app ended from the task itself, with no done callback to schedule when it finishes. An
AppTask (the default) calls the app and app_exit natively and needs neither, except
``await_app`` for an app that returns an awaitable other than a coroutine.
"""


async def call_app(app, scope, receive, send, app_exit):
    """Runs ``app(scope, receive, send)``, then tells the exchange how it ended:
    ``app_exit(None)`` when it returned, ``app_exit(exc)`` when it raised. The exchange logs
    the error and answers it (500, an aborted response, a WebSocket close).

    An ``Exception`` ends here: it has been reported, and a task that kept it would be reported
    again, as never retrieved. Cancellation, ``KeyboardInterrupt`` and ``SystemExit`` go on to
    the task after the exchange has heard of them."""
    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - reported by app_exit
        app_exit(exc)
    except BaseException as exc:
        app_exit(exc)
        raise
    else:
        app_exit(None)


async def await_app(awaitable):
    """What an AppTask runs when ``app(scope, receive, send)`` returned an awaitable that is not a
    coroutine (the task reports the app's end itself)."""
    return await awaitable
