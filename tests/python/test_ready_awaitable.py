"""The already-complete awaitable receive() and send() return (bridge/awaitable.cpp).

`await` takes its am_send slot (no StopIteration built to carry the value); the iterator
protocol (send(), __next__) still delivers the value through StopIteration, for code that drives
awaitables by hand.
"""
import asyncio

import pytest

from lancet import _lancet

VALUES = [
    {"type": "http.request", "body": b"x", "more_body": False},
    (1, 2),
    (),
    ValueError("a value, not raised"),
    StopIteration(7),
    None,
    0,
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_await_returns_the_value_itself(value):
    async def main():
        return await _lancet.ready(value)

    assert asyncio.run(main()) is value


def test_a_second_await_of_the_same_object_gives_none():
    value = {"type": "http.request"}

    async def main():
        ready = _lancet.ready(value)
        return await ready, await ready

    assert asyncio.run(main()) == (value, None)


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_send_and_next_finish_with_stop_iteration_carrying_the_value(value):
    for drive in (lambda it: it.send(None), next):
        it = _lancet.ready(value).__await__()
        with pytest.raises(StopIteration) as stop:
            drive(it)
        assert stop.value.value is value


def test_the_value_is_released_once_delivered():
    import weakref

    class Event(dict):
        pass

    event = Event(type="http.request")
    ref = weakref.ref(event)
    ready = _lancet.ready(event)

    async def main():
        return await ready

    got = asyncio.run(main())
    del event, got
    assert ref() is None  # the awaitable no longer holds it
    del ready
