"""Logging setup, like uvicorn's.

Loggers:
- ``lancet.error``: the server's own messages ("Started server process", "Application startup
  complete", errors from the app). Goes to stderr as ``INFO:     message``.
- ``lancet.access``: one line per request, to stdout, when ``access_log`` is on. With
  ``--no-access-log`` it has no handlers, does not propagate and its level is above CRITICAL, so
  ``logger.isEnabledFor(logging.INFO)`` is False and the bridge can skip formatting entirely.

``--log-config FILE``: ``.json`` and ``.yaml``/``.yml`` go to ``logging.config.dictConfig``;
anything else (``.ini``, ``.conf``, ...) to ``logging.config.fileConfig``. ``--log-level``, when
given explicitly, still sets the level of ``lancet.error`` and ``lancet.access`` afterwards
(uvicorn does the same).
"""
from __future__ import annotations

import json
import logging
import logging.config
import os
import sys
from typing import Any, Dict, Optional

__all__ = ["TRACE", "LEVELS", "LogConfigError", "LancetFormatter", "default_logging_config",
           "configure_logging"]

TRACE = 5
LEVELS: Dict[str, int] = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}


class LogConfigError(Exception):
    """``--log-config`` is missing or malformed; the message is one line."""


class LancetFormatter(logging.Formatter):
    """Adds ``%(levelprefix)s``: ``INFO:`` padded to 9 columns (uvicorn's look), the level name
    coloured when ``use_colors`` is true. ``use_colors=None`` (the default) means: colour when
    ``stream`` ("stderr" or "stdout") is a terminal and NO_COLOR is not set."""

    _COLOURS = {
        TRACE: "\x1b[34m", logging.DEBUG: "\x1b[36m", logging.INFO: "\x1b[32m",
        logging.WARNING: "\x1b[33m", logging.ERROR: "\x1b[31m", logging.CRITICAL: "\x1b[91m",
    }

    def __init__(self, fmt: Optional[str] = None, datefmt: Optional[str] = None,
                 style: str = "%", use_colors: Optional[bool] = None, stream: str = "stderr"):
        if use_colors is None:
            s = sys.stdout if stream == "stdout" else sys.stderr
            use_colors = bool(getattr(s, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
        self.use_colors = use_colors
        super().__init__(fmt=fmt or "%(levelprefix)s %(message)s", datefmt=datefmt, style=style)

    def formatMessage(self, record: logging.LogRecord) -> str:
        levelname = record.levelname
        pad = " " * max(0, 8 - len(levelname))
        if self.use_colors:
            colour = self._COLOURS.get(record.levelno, "")
            levelname = f"{colour}{levelname}\x1b[0m" if colour else levelname
        record.__dict__["levelprefix"] = f"{levelname}:{pad}"
        return super().formatMessage(record)


def default_logging_config(log_level: str = "info", access_log: bool = True) -> Dict[str, Any]:
    level = logging.getLevelName(LEVELS[log_level])
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": "lancet.logs.LancetFormatter",
                        "fmt": "%(levelprefix)s %(message)s", "stream": "stderr"},
            "access": {"()": "lancet.logs.LancetFormatter",
                       "fmt": "%(levelprefix)s %(message)s", "stream": "stdout"},
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler",
                       "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "lancet": {"handlers": ["default"], "level": level, "propagate": False},
            "lancet.error": {"level": level},
            "lancet.access": {"handlers": ["access"] if access_log else [], "level": level,
                              "propagate": False},
        },
    }


def _load_file_config(path: str) -> None:
    if not os.path.exists(path):
        raise LogConfigError(f"--log-config: file not found: {path}")
    if os.path.isdir(path):
        raise LogConfigError(f"--log-config: is a directory, not a file: {path}")
    lower = path.lower()
    try:
        if lower.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                try:
                    data = json.load(f)
                except json.JSONDecodeError as e:
                    raise LogConfigError(f"--log-config {path}: invalid JSON: {e}") from None
            _dict_config(path, data)
        elif lower.endswith((".yaml", ".yml")):
            try:
                import yaml  # python3-yaml
            except ImportError:
                raise LogConfigError(
                    f"--log-config {path}: YAML needs PyYAML (apt install python3-yaml)") from None
            with open(path, encoding="utf-8") as f:
                try:
                    data = yaml.safe_load(f)
                except yaml.YAMLError as e:
                    raise LogConfigError(
                        f"--log-config {path}: invalid YAML: {' '.join(str(e).split())}") from None
            _dict_config(path, data)
        else:
            try:
                logging.config.fileConfig(path, disable_existing_loggers=False)
            except Exception as e:
                raise LogConfigError(
                    f"--log-config {path}: not a valid logging config file "
                    f"({type(e).__name__}: {' '.join(str(e).split())})") from None
    except OSError as e:
        raise LogConfigError(f"--log-config: cannot read {path}: {e.strerror or e}") from None


def _dict_config(path: str, data: Any) -> None:
    if not isinstance(data, dict):
        raise LogConfigError(
            f"--log-config {path}: expected a mapping (a dictConfig schema), got {type(data).__name__}")
    data.setdefault("version", 1)
    try:
        logging.config.dictConfig(data)
    except Exception as e:
        raise LogConfigError(
            f"--log-config {path}: invalid logging configuration: {' '.join(str(e).split())}") from None


def configure_logging(log_level: str = "info", access_log: bool = True,
                      log_config: "Optional[str | os.PathLike | Dict[str, Any]]" = None,
                      level_explicit: bool = True) -> None:
    """Configures the ``lancet.*`` loggers; raises LogConfigError for a bad ``log_config`` (a
    file path, or a dictConfig dict when called from ``lancet.run``)."""
    logging.addLevelName(TRACE, "TRACE")
    if log_level not in LEVELS:
        raise ValueError(f"invalid log level {log_level!r}")
    if log_config is None:
        logging.config.dictConfig(default_logging_config(log_level, access_log))
    else:
        if isinstance(log_config, dict):  # lancet.run(log_config={...}), like uvicorn
            _dict_config("log_config", log_config)
        else:
            _load_file_config(os.fspath(log_config))
        if level_explicit:
            for name in ("lancet.error", "lancet.access"):
                logging.getLogger(name).setLevel(LEVELS[log_level])
    if not access_log:
        access = logging.getLogger("lancet.access")
        access.handlers = []
        access.propagate = False
        access.setLevel(logging.CRITICAL + 10)
