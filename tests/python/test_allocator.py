"""The lancet command's allocator tuning (python/lancet/allocator.py): it re-executes itself
once with glibc's tcache count raised, in the same process, unless told not to."""
import os
import sys

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))

from asgi_server import LancetProcess  # noqa: E402
from lancet import allocator  # noqa: E402

TUNED = f"{allocator.TUNABLE}={allocator.COUNT}"


def test_the_tunable_is_added_to_an_empty_environment():
    env = allocator.tuned_environment({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": TUNED, allocator.DONE: "1"}


def test_other_tunables_are_kept():
    env = allocator.tuned_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert env["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:" + TUNED


def test_a_count_already_set_is_left_alone_and_nothing_is_re_executed():
    # This is also what stops a second re-execution.
    assert allocator.tuned_environment({"GLIBC_TUNABLES": TUNED}) is None
    assert allocator.tuned_environment(
        {"GLIBC_TUNABLES": f"{allocator.TUNABLE}=7"}) is None


def test_a_re_executed_process_whose_tunables_glibc_dropped_does_not_re_execute_again():
    # A "secure" process (file capabilities, setuid) loses GLIBC_TUNABLES: the marker stops a loop.
    assert allocator.tuned_environment({allocator.DONE: "1"}) is None


def test_the_opt_out_leaves_the_environment_alone():
    assert allocator.tuned_environment({allocator.OPT_OUT: "0"}) is None
    assert allocator.tuned_environment({allocator.OPT_OUT: "1"})["GLIBC_TUNABLES"] == TUNED


def started_environment(extra):
    with LancetProcess("asgi_apps:app", env=extra) as server:
        report = httpx.get(server.url + "/process", timeout=10).json()
        # The process the test started is the one serving: the re-execution kept its PID.
        assert report["pid"] == server.proc.pid
        return report["environ"]


@pytest.fixture(autouse=True)
def no_inherited_tunables(monkeypatch):
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.delenv(allocator.OPT_OUT, raising=False)
    monkeypatch.delenv(allocator.DONE, raising=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tunables are Linux's")
def test_the_command_serves_with_the_count_raised_in_the_process_it_started():
    env = started_environment({})
    assert env.get("GLIBC_TUNABLES") == TUNED
    assert env.get(allocator.DONE) == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tunables are Linux's")
def test_the_command_keeps_the_users_tunables_and_adds_the_count():
    env = started_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert env.get("GLIBC_TUNABLES") == "glibc.malloc.arena_max=2:" + TUNED


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tunables are Linux's")
def test_the_command_with_the_opt_out_runs_untuned():
    env = started_environment({allocator.OPT_OUT: "0"})
    assert "GLIBC_TUNABLES" not in env
