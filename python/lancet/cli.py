"""The ``lancet`` command (also ``python -m lancet``).

Flags are spelled like uvicorn's where the meaning is the same. Every error the user can cause
(a bad flag or value, a missing module or attribute, an import error in the app, a bad
``--log-config`` or ``--env-file``, a port in use) gives ONE line on stderr starting with
``lancet: `` and a non-zero exit code: 2 for usage errors (bad flag, bad value, malformed APP),
1 for everything else. ``--log-level debug`` adds the traceback, when there is one.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import traceback
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

from . import __version__
from .allocator import reexec_tuned
from .config import LIFESPAN_MODES, LOG_LEVELS, LOOP_MODES, TASK_IMPLS, WS_MODES, Config
from .env import EnvFileError, load_env_file
from .loader import AppLoadError, AppStringError, load_app
from .loader import _parse as parse_app_string
from .logs import LogConfigError, configure_logging

__all__ = ["main", "build_parser", "serve_config", "config_from_args", "UsageError",
           "NativeMissingError", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

NATIVE_MISSING = "the native extension is not built: run tools/quickstart.sh"

_D = Config()  # the defaults, shown in --help
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


class UsageError(ValueError):
    """A bad flag or value (exit code 2)."""


class NativeMissingError(ImportError):
    """``lancet._lancet`` cannot be imported."""


# --------------------------------------------------------------------------- value parsers
def _size(text: str) -> int:
    """Bytes: an integer, optionally with K, M, G (binary: KiB, MiB, GiB; the 'iB'/'B' is optional)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: expected bytes, e.g. 1048576, 64K, 10M or 1G")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}")
    return v


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None


def _fd(text: str) -> int:
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"invalid file descriptor {text!r}: expected an integer >= 0")
    return v


def _header(text: str) -> Tuple[str, str]:
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"invalid header {text!r}: expected NAME:VALUE")
    if not _TOKEN.match(name):
        raise argparse.ArgumentTypeError(f"invalid header name {name!r}: not an HTTP token")
    if any(c in value for c in "\r\n\0"):
        raise argparse.ArgumentTypeError(f"invalid header value for {name!r}: contains CR, LF or NUL")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"invalid header value for {name!r}: not Latin-1") from None
    return name, value


def _bool(text: str) -> bool:
    """uvicorn's BOOLEAN values (click): true/false, 1/0, yes/no, on/off, t/f, y/n."""
    v = text.strip().lower()
    if v in ("1", "true", "t", "yes", "y", "on"):
        return True
    if v in ("0", "false", "f", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: expected true or false")


def _ips(text: str) -> List[str]:
    ips = [part.strip() for part in text.split(",") if part.strip()]
    if not ips:
        raise argparse.ArgumentTypeError(f"invalid --forwarded-allow-ips {text!r}: empty")
    return ips


def _path(text: str) -> str:
    if not text.startswith("/"):
        raise argparse.ArgumentTypeError(f"invalid path {text!r}: must start with '/'")
    return text


def _human_size(n: int) -> str:
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


# --------------------------------------------------------------------------- the parser
# uvicorn flags Lancet does not have (yet): a clearer message than "unrecognized arguments".
_UVICORN_ONLY = {
    "--reload", "--reload-dir", "--reload-include", "--reload-exclude", "--reload-delay",
    "--http", "--interface",
    "--ssl-keyfile", "--ssl-certfile", "--ssl-keyfile-password", "--ssl-version",
    "--ssl-cert-reqs", "--ssl-ca-certs", "--ssl-ciphers", "--use-colors", "--no-use-colors",
    "--h11-max-incomplete-event-size",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        message = " ".join(message.split())
        if message.startswith("unrecognized arguments:"):
            for arg in message.split(":", 1)[1].split():
                if arg.split("=")[0] in _UVICORN_ONLY:
                    self.exit(EXIT_USAGE, f"lancet: {arg.split('=')[0]} is a uvicorn option that "
                                          "Lancet does not support (see 'lancet --help')\n")
        self.exit(EXIT_USAGE, f"lancet: {message} (see 'lancet --help')\n")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            native = _import_native()
            line = (f"lancet {__version__} (native {native.version()}, backend "
                    f"{native.backend_name()}) on {platform.python_implementation()} "
                    f"{platform.python_version()}")
        except NativeMissingError:
            parser.exit(EXIT_FAILURE, f"lancet: {NATIVE_MISSING}\n")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        parser.exit(EXIT_OK)


def build_parser() -> argparse.ArgumentParser:
    env_ips = os.environ.get("FORWARDED_ALLOW_IPS")
    ips_default = env_ips if env_ips else ",".join(_D.forwarded_allow_ips)
    p = _Parser(
        prog="lancet",
        usage="lancet [OPTIONS] APP",
        description="Lancet: a C++20 ASGI server. Serves APP, an ASGI application given as "
                    "\"module:attribute\" (e.g. \"main:app\"; the attribute may be dotted).",
        epilog="Exit codes: 0 clean shutdown, 1 could not start (e.g. port in use, app not "
               "loadable), 2 bad usage, 3 lifespan startup failed.",
        argument_default=argparse.SUPPRESS,
        allow_abbrev=False,
    )
    p.add_argument("app", metavar="APP", help='the ASGI app, "module:attribute"')
    p.add_argument("--version", action=_VersionAction,
                   help="print the version and the I/O backend, then exit")

    g = p.add_argument_group("socket")
    g.add_argument("--host", metavar="ADDR", help=f"bind to this address (default: {_D.host})")
    g.add_argument("--port", metavar="N", type=_int, help=f"bind to this port; 0 picks a free one (default: {_D.port})")
    g.add_argument("--uds", metavar="PATH", help="bind to this Unix domain socket instead (default: none)")
    g.add_argument("--fd", metavar="N", type=_fd,
                   help="serve on this inherited, already-bound socket instead (default: none)")
    g.add_argument("--backlog", metavar="N", type=_int,
                   help=f"maximum number of pending connections (default: {_D.backlog})")

    g = p.add_argument_group("HTTP")
    g.add_argument("--root-path", metavar="PATH",
                   help=f"ASGI root_path, for an app mounted below a prefix (default: {_D.root_path!r})")
    g.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction,
                   help="trust X-Forwarded-Proto/X-Forwarded-For from --forwarded-allow-ips "
                        f"(default: {'on' if _D.proxy_headers else 'off'})")
    g.add_argument("--forwarded-allow-ips", metavar="IPS", type=_ips,
                   help="comma-separated addresses trusted for proxy headers, or '*' "
                        f"(default: $FORWARDED_ALLOW_IPS or {','.join(_D.forwarded_allow_ips)}; "
                        f"now: {ips_default})")
    g.add_argument("--server-header", action=argparse.BooleanOptionalAction,
                   help="send 'server: lancet' unless the app sends its own "
                        f"(default: {'on' if _D.server_header else 'off'})")
    g.add_argument("--date-header", action=argparse.BooleanOptionalAction,
                   help="send 'date: ...' unless the app sends its own "
                        f"(default: {'on' if _D.date_header else 'off'})")
    g.add_argument("--header", metavar="NAME:VALUE", dest="headers", action="append", type=_header,
                   help="add this header to every response; repeatable (default: none)")

    g = p.add_argument_group("timeouts and limits")
    g.add_argument("--timeout-keep-alive", metavar="S", type=_seconds,
                   help=f"close an idle keep-alive connection after S seconds (default: {_D.timeout_keep_alive} s)")
    g.add_argument("--timeout-header", metavar="S", type=_seconds,
                   help=f"answer 408 when a request head takes longer than S seconds (default: {_D.timeout_header} s)")
    g.add_argument("--timeout-graceful-shutdown", metavar="S", type=_seconds,
                   help="on SIGTERM/SIGINT, give in-flight requests S seconds to finish "
                        f"(default: {_D.timeout_graceful_shutdown} s)")
    g.add_argument("--limit-concurrency", metavar="N", type=_int,
                   help="answer 503 above N requests in the app at once "
                        f"(default: {_D.limit_concurrency or 'no limit'})")
    g.add_argument("--max-body-size", metavar="BYTES", type=_size,
                   help="answer 413 to a request body larger than this; K, M, G suffixes allowed "
                        f"(default: {_D.max_body_size} = {_human_size(_D.max_body_size)})")
    g.add_argument("--max-head-size", metavar="BYTES", type=_size,
                   help="answer 431 to a request line + headers larger than this "
                        f"(default: {_D.max_head_size} = {_human_size(_D.max_head_size)})")
    g.add_argument("--max-header-count", metavar="N", type=_int,
                   help=f"answer 431 to more header fields than this (default: {_D.max_header_count})")

    g = p.add_argument_group(
        "WebSocket",
        "Handshakes are validated natively (400, or 426 for a version other than 13) before the "
        "app sees them. Close codes Lancet sends: 1002 protocol error (e.g. an unmasked frame), "
        "1007 invalid UTF-8 or compressed data, 1009 message over --ws-max-size, 1011 ping "
        "timeout or app exception, 1001 server shutdown, 1000 when the app returns while open. "
        "The closing handshake waits at most 10 s for the client's close frame.")
    g.add_argument("--ws", choices=WS_MODES, metavar="{auto,none}",
                   help="auto: serve WebSocket handshakes as 'websocket' scopes; none: give them to "
                        "the app as plain HTTP requests, as later uvicorn does (0.17.6 answered "
                        "400); websockets and wsproto are accepted as aliases of auto "
                        f"(default: {_D.ws})")
    g.add_argument("--ws-max-size", metavar="BYTES", type=_size,
                   help="largest message, after decompression; a larger one is closed with 1009 "
                        f"(default: {_D.ws_max_size} = {_human_size(_D.ws_max_size)})")
    g.add_argument("--ws-max-queue", metavar="N", type=_int,
                   help="messages received and not yet taken by the app; at N, Lancet stops "
                        "reading the connection, so TCP pushes back on the client (memory per "
                        f"connection: up to N x --ws-max-size) (default: {_D.ws_max_queue})")
    g.add_argument("--ws-ping-interval", metavar="S", type=_seconds,
                   help="send a ping every S seconds; 0 turns pings off "
                        f"(default: {_D.ws_ping_interval} s)")
    g.add_argument("--ws-ping-timeout", metavar="S", type=_seconds,
                   help="close with 1011 when a ping's pong is S seconds late; 0 waits forever "
                        f"(default: {_D.ws_ping_timeout} s)")
    g.add_argument("--ws-per-message-deflate", metavar="BOOL", type=_bool,
                   help="accept the permessage-deflate extension (RFC 7692) when the client offers "
                        f"it: true or false (default: {str(_D.ws_per_message_deflate).lower()})")

    g = p.add_argument_group("application")
    g.add_argument("--lifespan", choices=LIFESPAN_MODES,
                   help="ASGI lifespan: auto (run it if the app supports it), on (require it), "
                        f"off (default: {_D.lifespan})")
    g.add_argument("--loop", choices=LOOP_MODES,
                   help=f"event loop for the app: auto (uvloop if importable), asyncio, uvloop (default: {_D.loop})")
    g.add_argument("--task-impl", choices=TASK_IMPLS,
                   help="what runs each request's app: native (an asyncio-compatible task of "
                        "Lancet's: asyncio.current_task(), anyio cancel scopes and contextvars "
                        "behave as with asyncio.Task, at a fraction of its cost per request; "
                        "asyncio.all_tasks() does not list it and it is not an asyncio.Future) or "
                        "asyncio (an asyncio.Task per request; also what a task factory set on "
                        f"the loop gets) (default: {_D.task_impl})")
    g.add_argument("--factory", action="store_true",
                   help="APP is a factory: call it with no arguments to get the app (default: off)")
    g.add_argument("--app-dir", metavar="DIR",
                   help=f"prepend DIR to sys.path before importing APP (default: {_D.app_dir!r}, "
                        "the current directory)")
    g.add_argument("--env-file", metavar="FILE",
                   help="load KEY=VALUE lines into the environment before importing APP; variables "
                        "already set win (default: none)")

    g = p.add_argument_group("processes")
    g.add_argument("--workers", metavar="N", type=_int,
                   help="run N worker processes on one shared socket, under a supervising parent "
                        "that restarts them when they die; 1 serves in this process "
                        f"(default: {_D.workers})")
    g.add_argument("--io-thread", action=argparse.BooleanOptionalAction,
                   help="io_uring backend: run the ring on an I/O thread of its own, which can use "
                        "a second core; without it the ring is driven from the event loop's "
                        "thread, which is faster when a worker has one core (default: "
                        f"{'on' if _D.io_thread else 'off'}; the libevent and blocking backends "
                        "always use their own threads)")
    g.add_argument("--release-idle-memory", action=argparse.BooleanOptionalAction,
                   help="when a worker's last connection closes, give the C heap's free pages back "
                        "to the system (glibc malloc_trim), at most once a second: a burst's "
                        "memory does not stay resident in an idle worker (default: "
                        f"{'on' if _D.release_idle_memory else 'off'})")
    g.add_argument("--limit-max-requests", metavar="N", type=_int,
                   help="a worker stops gracefully after N requests (the supervisor starts a new "
                        "one; with --workers 1 the process exits 0) (default: "
                        f"{_D.limit_max_requests or 'no limit'})")
    g.add_argument("--limit-max-requests-jitter", metavar="N", type=_int,
                   help="add random(0..N) to --limit-max-requests per worker, so workers do not "
                        f"all restart at once (default: {_D.limit_max_requests_jitter})")

    g = p.add_argument_group("health probes")
    g.add_argument("--probes", action=argparse.BooleanOptionalAction,
                   help="answer the two probe paths natively, without calling the app "
                        f"(default: {'on' if _D.probes else 'off'})")
    g.add_argument("--probe-path-alive", metavar="PATH", type=_path,
                   help=f"liveness probe path (default: {_D.probe_path_alive})")
    g.add_argument("--probe-path-ready", metavar="PATH", type=_path,
                   help=f"readiness probe path (default: {_D.probe_path_ready})")

    g = p.add_argument_group("logging")
    g.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower,
                   help=f"level of the lancet.error and lancet.access loggers (default: {_D.log_level})")
    g.add_argument("--log-config", metavar="FILE",
                   help="logging configuration: .json/.yaml/.yml (dictConfig) or .ini (fileConfig) "
                        "(default: none, uvicorn-like lines on stderr)")
    g.add_argument("--access-log", action=argparse.BooleanOptionalAction,
                   help=f"log one line per request to stdout (default: {'on' if _D.access_log else 'off'})")
    return p


def config_from_args(ns: argparse.Namespace) -> Config:
    """Only the options given on the command line override Config's defaults."""
    opts: Dict[str, Any] = dict(vars(ns))
    if "forwarded_allow_ips" not in opts and os.environ.get("FORWARDED_ALLOW_IPS"):
        opts["forwarded_allow_ips"] = _ips(os.environ["FORWARDED_ALLOW_IPS"])
    return Config(**opts)


# --------------------------------------------------------------------------- serving
def _import_native():
    try:
        from . import _lancet  # noqa: F401
    except ImportError as e:
        raise NativeMissingError(NATIVE_MISSING) from e
    return _lancet


def _check_loop(loop: str) -> None:
    if loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            raise AppLoadError("--loop uvloop: uvloop is not installed "
                               "(apt install python3-uvloop, or use --loop asyncio)") from None


def serve_config(config: Config, *, level_explicit: bool = True) -> int:
    """Validates, applies --env-file, configures logging, loads the app, serves; returns the exit
    code. Raises ValueError (bad values), EnvFileError, LogConfigError, AppLoadError or
    NativeMissingError; the server itself reports a port in use and returns 1."""
    config.validate()
    if config.workers <= 1:
        from .supervisor import worker_channel
        worker_channel()  # a worker: take the supervisor's pipes out of the environment first
    if config.workers > 1 and not isinstance(config.app, str):
        raise ValueError("workers > 1 needs the app as an import string \"module:attribute\" "
                         "(each worker imports it)")
    if config.env_file is not None:
        load_env_file(config.env_file)
    configure_logging(config.log_level, config.access_log, config.log_config,
                      level_explicit=level_explicit)
    _check_loop(config.loop)
    if config.workers > 1:
        # The parent never imports the app: it binds, spawns and supervises (supervisor.py).
        parse_app_string(config.app)
        _import_native()
        from .supervisor import supervise
        return int(supervise(config, level_explicit=level_explicit))
    config.app = load_app(config.app, factory=config.factory, app_dir=config.app_dir)
    config.factory = False  # applied
    _import_native()
    try:
        from . import _serve
    except ImportError as e:
        if getattr(e, "name", None) in ("lancet._serve", "lancet._lancet"):
            raise NativeMissingError(NATIVE_MISSING) from e
        raise
    return int(_serve.serve(config))


def _fail(message: str, code: int, exc: Optional[BaseException], debug: bool) -> int:
    sys.stderr.write(f"lancet: {' '.join(str(message).split())}\n")
    if debug and exc is not None:
        cause = exc.__cause__ or exc
        traceback.print_exception(type(cause), cause, cause.__traceback__, file=sys.stderr)
    sys.stderr.flush()
    return code


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``lancet`` console script; returns the exit code."""
    if argv is None:  # the command itself, not a call from Python: see allocator.py
        reexec_tuned()
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        config = config_from_args(ns)
    except argparse.ArgumentTypeError as e:
        return _fail(str(e), EXIT_USAGE, None, False)
    try:
        config.validate()
    except (ValueError, TypeError) as e:
        return _fail(str(e), EXIT_USAGE, None, False)
    debug = config.log_level in ("debug", "trace")
    try:
        return serve_config(config, level_explicit="log_level" in vars(ns))
    except AppStringError as e:
        return _fail(str(e), EXIT_USAGE, e, debug)
    except (EnvFileError, LogConfigError, AppLoadError, NativeMissingError) as e:
        return _fail(str(e), EXIT_FAILURE, e, debug)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
