"""Lancet: a C++20 ASGI server for Python apps.

    import lancet
    lancet.run("main:app", port=8000)      # or lancet.run(app, ...)

The command line is ``lancet main:app`` (or ``python -m lancet main:app``); see ``lancet --help``.
This package is pure Python; the server itself is the ``lancet._lancet`` extension, imported only
when serving (so ``--help`` works without it).
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .config import Config  # noqa: E402

__all__ = ["Config", "run", "__version__"]


def run(app_or_path: Any, **options: Any) -> None:
    """Serves ``app_or_path`` (an ASGI app, or ``"module:attr"``) until shut down.

    ``options`` are :class:`Config` field names (``host``, ``port``, ``factory``, ``log_level``,
    ...); an unknown one raises TypeError naming it. A bad value raises ValueError; an app that
    cannot be loaded raises ``lancet.loader.AppLoadError``; a bad ``env_file`` or ``log_config``
    raise ``lancet.env.EnvFileError`` / ``lancet.logs.LogConfigError``. If the server exits with a
    non-zero code (1: could not start, e.g. port in use; 3: lifespan startup failed) this raises
    ``SystemExit(code)``, like ``uvicorn.run``.
    """
    import dataclasses

    names = {f.name for f in dataclasses.fields(Config)} - {"app"}
    unknown = sorted(set(options) - names)
    if unknown:
        raise TypeError(
            f"lancet.run() got unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}; known: {', '.join(sorted(names))}")
    config = Config(app=app_or_path, **options)

    from .cli import serve_config

    code = serve_config(config, level_explicit="log_level" in options)
    if code:
        raise SystemExit(code)
