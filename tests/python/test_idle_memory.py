"""--release-idle-memory (on by default): when a worker's last connection closes, the C heap's
free pages go back to the system (backends/common/idle_memory.hpp), at most once a second.

/heap-burst leaves about 16 MiB free but held by glibc (freed 64 KiB blocks between live ones,
which glibc never returns by itself). Each probe below is a request on a connection
of its own, so after it the server has no connection left: the moment it trims.
"""
import os
import sys
import time

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))

from asgi_server import LancetProcess  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

HELD_MIB = 16


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def burst_then_watch(server, seconds):
    """Runs /heap-burst, then closes a connection every 0.2 s for `seconds` (or until the RSS
    falls by half of what the burst left held). Returns (RSS after the free, lowest RSS seen)."""
    report = httpx.get(server.url + "/heap-burst", timeout=30).json()
    after_free = report["rss_kib_after_free"]
    # The burst's memory is held at first: its blocks were freed but not given back.
    assert report["rss_kib_held"] - after_free < HELD_MIB * 1024 // 4, report
    lowest = after_free
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert httpx.get(server.url + "/_health/alive", timeout=10).status_code == 200
        lowest = min(lowest, rss_kib(server.proc.pid))
        if after_free - lowest > HELD_MIB * 1024 // 2:
            break
        time.sleep(0.2)
    return after_free, lowest


@pytest.mark.parametrize("flags", [(), ("--io-thread",)], ids=["default", "io-thread"])
def test_an_idle_server_gives_a_bursts_free_heap_back(flags):
    # --io-thread: io_uring trims on its I/O thread (the other backends ignore the flag).
    with LancetProcess("asgi_apps:app", *flags) as server:
        after_free, lowest = burst_then_watch(server, seconds=5)
    # At most one trim a second: within 5 s of probes, at least one has run.
    assert after_free - lowest > HELD_MIB * 1024 // 2, (after_free, lowest)


def test_no_release_idle_memory_keeps_it():
    with LancetProcess("asgi_apps:app", "--no-release-idle-memory") as server:
        after_free, lowest = burst_then_watch(server, seconds=2.5)
    assert after_free - lowest < HELD_MIB * 1024 // 4, (after_free, lowest)
