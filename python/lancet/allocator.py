"""glibc's allocator, tuned for a server's loop turns (the ``lancet`` command only).

Each loop turn handles a batch of requests: their native and Python objects are allocated
together and freed together. glibc keeps at most 7 freed blocks of each size in its per-thread
cache (tcache); a batch of more requests than that sends the rest through the slower bins, and a
request body of 1 KiB or more then consolidates them. Raising the cache's count to 64 blocks
per size (glibc.malloc.tcache_count) removes most of that work: about 4 % of the user-space
instructions per request on a 1 KiB echo, 1 % on hello (BENCHMARKS.md). Only blocks of up to
1 KiB are cached, so the memory it can hold is bounded: measured, about 0.2 MiB more RSS at
start and after a load (128 per size saved a little more on echo and held a little more; 32
saved less on echo).

glibc reads its tunables when a process starts, so the ``lancet`` command re-executes itself
once (same PID, same arguments) with ``GLIBC_TUNABLES`` extended (and LANCET_MALLOC_TUNED=1,
so that it happens once). It does not when the variable already sets the count (set it
yourself to choose another value), when ``LANCET_MALLOC_TUNING=0``, off glibc, when the script
came from stdin, or when Lancet is used as a library (``lancet.run()``).
"""
from __future__ import annotations

import os
import platform
import sys
from typing import Mapping, Optional

TUNABLE = "glibc.malloc.tcache_count"
COUNT = 64
OPT_OUT = "LANCET_MALLOC_TUNING"
# Set in the re-executed process: glibc may drop GLIBC_TUNABLES there (a "secure" process: a
# python with file capabilities, or started through setuid), and without this the new process
# would re-execute again, forever.
DONE = "LANCET_MALLOC_TUNED"


def tuned_environment(env: Mapping[str, str]) -> Optional[dict]:
    """The environment to re-execute with, or None when nothing is to be done."""
    if env.get(OPT_OUT, "1") == "0" or DONE in env:
        return None
    current = env.get("GLIBC_TUNABLES", "")
    if TUNABLE in current:
        return None  # already tuned: by the re-execution before, or by the user
    tuned = dict(env)
    tuned["GLIBC_TUNABLES"] = (current + ":" if current else "") + f"{TUNABLE}={COUNT}"
    tuned[DONE] = "1"
    return tuned


def reexec_tuned() -> None:
    """Replaces this process with the same command under the tuned allocator; returns only when
    it does not (see the module comment), or when exec fails (then Lancet runs untuned)."""
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return
    if not sys.executable:
        return
    env = tuned_environment(os.environ)
    if env is None:
        return
    command = list(getattr(sys, "orig_argv", ()))
    if not command or sys.argv[:1] in (["-"], [""]):
        return  # a script read from stdin (or an interactive session) cannot be run again
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, command, env)
    except OSError:
        return
