"""Lancet's configuration: one value with every option and its default.

The command line (``lancet.cli``), ``lancet.run(**options)`` and the native bridge all speak this
one type. ``to_native()`` gives the plain dict the ``_lancet`` extension reads; nothing else
crosses into C++.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

LIFESPAN_MODES = ("auto", "on", "off")
# --ws: "auto" serves WebSocket handshakes natively, "none" gives them to the app as plain HTTP.
# uvicorn's implementation names are accepted as aliases of "auto" (Lancet has one, native).
WS_MODES = ("auto", "none", "websockets", "wsproto")
LOOP_MODES = ("auto", "asyncio", "uvloop")
# --task-impl: what runs each request's app. "native": Lancet's AppTask (bridge/app_task.hpp),
# an asyncio-compatible task without asyncio.Task's per-request cost; "asyncio": asyncio.Task.
TASK_IMPLS = ("native", "asyncio")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@dataclass
class Config:
    """Every option of a Lancet server. Field names are uvicorn's where the meaning is the same."""

    app: Any = None                      # the ASGI app, or "module:attr"
    host: str = "127.0.0.1"
    port: int = 8000
    uds: Optional[str] = None            # Unix domain socket path
    fd: Optional[int] = None             # an inherited, already-bound listening socket
    backlog: int = 2048
    root_path: str = ""
    proxy_headers: bool = True
    forwarded_allow_ips: List[str] = field(default_factory=lambda: ["127.0.0.1"])
    server_header: bool = True           # send "server: lancet" unless the app sends its own
    date_header: bool = True             # send "date: ..." unless the app sends its own
    headers: List[Tuple[str, str]] = field(default_factory=list)   # --header NAME:VALUE
    timeout_keep_alive: float = 5.0      # seconds an idle keep-alive connection stays open
    timeout_header: float = 10.0         # seconds a request head may take to arrive (else 408)
    timeout_graceful_shutdown: float = 30.0  # seconds in-flight requests get on SIGTERM
    limit_concurrency: Optional[int] = None  # requests in the app at once; above: 503
    max_body_size: int = 1 << 30         # request body bytes; above: 413
    max_head_size: int = 16 * 1024       # request line + headers bytes; above: 431
    max_header_count: int = 100          # header fields; above: 431
    lifespan: str = "auto"               # auto | on | off
    loop: str = "auto"                   # auto (uvloop if importable) | asyncio | uvloop
    task_impl: str = "native"            # native (Lancet's AppTask) | asyncio (asyncio.Task)
    log_level: str = "info"
    log_config: Optional[str] = None     # dictConfig file (.json, .yaml/.yml)
    access_log: bool = True
    factory: bool = False                # app is a factory: call it to get the app
    app_dir: str = "."                   # prepended to sys.path before loading the app
    env_file: Optional[str] = None       # KEY=VALUE lines loaded into os.environ first
    probes: bool = True                  # answer health probes natively
    probe_path_alive: str = "/_health/alive"
    probe_path_ready: str = "/_health/ready"
    workers: int = 1                     # worker processes; > 1: a supervising parent (supervisor.py)
    io_thread: bool = False              # io_uring: run the ring on its own thread, not the loop's
    release_idle_memory: bool = True     # trim the C heap when the last connection closes (<= 1/s)
    limit_max_requests: Optional[int] = None  # a worker exits (gracefully) after this many requests
    limit_max_requests_jitter: int = 0   # ... plus random(0..jitter), so workers do not recycle at once
    ws: str = "auto"                     # auto | none (websockets, wsproto: aliases of auto)
    ws_max_size: int = 16 * 1024 * 1024  # largest message (decompressed); above: close 1009
    ws_max_queue: int = 32               # messages waiting for the app; at it, reading stops
    ws_ping_interval: Optional[float] = 20.0  # seconds between server pings; None or 0: none
    ws_ping_timeout: Optional[float] = 20.0   # close 1011 when a pong is this late; None or 0: never
    ws_per_message_deflate: bool = True  # accept permessage-deflate (RFC 7692)

    def validate(self) -> None:
        """Raises ValueError with a one-line message naming the option, what came and what is expected."""
        def bad(option: str, expected: str, got: Any) -> None:
            raise ValueError(f"invalid value for {option}: expected {expected}, got {got!r}")

        if self.lifespan not in LIFESPAN_MODES:
            bad("--lifespan", " | ".join(LIFESPAN_MODES), self.lifespan)
        if self.loop not in LOOP_MODES:
            bad("--loop", " | ".join(LOOP_MODES), self.loop)
        if self.task_impl not in TASK_IMPLS:
            bad("--task-impl", " | ".join(TASK_IMPLS), self.task_impl)
        if self.log_level not in LOG_LEVELS:
            bad("--log-level", " | ".join(LOG_LEVELS), self.log_level)
        if not (0 <= int(self.port) <= 65535):
            bad("--port", "0..65535", self.port)
        for name in ("timeout_keep_alive", "timeout_header", "timeout_graceful_shutdown"):
            if float(getattr(self, name)) < 0:
                bad("--" + name.replace("_", "-"), "a number >= 0", getattr(self, name))
        if self.limit_concurrency is not None and int(self.limit_concurrency) < 1:
            bad("--limit-concurrency", "an integer >= 1", self.limit_concurrency)
        for name in ("max_body_size", "max_head_size", "max_header_count", "backlog"):
            if int(getattr(self, name)) < 1:
                bad("--" + name.replace("_", "-"), "an integer >= 1", getattr(self, name))
        if isinstance(self.workers, bool) or int(self.workers) < 1:
            bad("--workers", "an integer >= 1", self.workers)
        if self.limit_max_requests is not None and int(self.limit_max_requests) < 1:
            bad("--limit-max-requests", "an integer >= 1", self.limit_max_requests)
        if int(self.limit_max_requests_jitter) < 0:
            bad("--limit-max-requests-jitter", "an integer >= 0", self.limit_max_requests_jitter)
        if self.ws not in WS_MODES:
            bad("--ws", "auto | none", self.ws)
        for name in ("ws_max_size", "ws_max_queue"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) < 1:
                bad("--" + name.replace("_", "-"), "an integer >= 1", value)
        for name in ("ws_ping_interval", "ws_ping_timeout"):
            value = getattr(self, name)
            if value is not None and float(value) < 0:
                bad("--" + name.replace("_", "-"), "a number >= 0", value)
        for path in (self.probe_path_alive, self.probe_path_ready):
            if not path.startswith("/"):
                bad("--probe-path-*", "a path starting with '/'", path)

    def to_native(self) -> Dict[str, Any]:
        """The plain dict the ``_lancet`` extension reads (no app, no logging objects)."""
        # Not dataclasses.asdict(): it deep-copies every field, the app included (a Starlette app's
        # State recurses forever under deepcopy).
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "app"}
        d["forwarded_allow_ips"] = list(self.forwarded_allow_ips)
        d["headers"] = [(str(k), str(v)) for k, v in self.headers]
        d["limit_concurrency"] = int(self.limit_concurrency or 0)
        d["ws"] = "none" if self.ws == "none" else "auto"
        d["ws_ping_interval"] = float(self.ws_ping_interval or 0.0)
        d["ws_ping_timeout"] = float(self.ws_ping_timeout or 0.0)
        d["ws_per_message_deflate"] = bool(self.ws_per_message_deflate)
        return d
