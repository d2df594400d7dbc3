"""Loading the app: ``"module:attr"`` (attr may be dotted), ``--app-dir``, ``--factory``.

Every failure raises :class:`AppLoadError` whose message is one line suitable for
``lancet: <message>``; the original exception, if any, is kept as ``__cause__`` (and printed as a
traceback only at ``--log-level debug``/``trace``).
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any, Optional

__all__ = ["AppLoadError", "AppStringError", "import_from_string", "load_app", "describe_exception"]


class AppLoadError(Exception):
    """The app could not be loaded. ``str(err)`` is one line."""


class AppStringError(AppLoadError, ValueError):
    """The APP string itself is malformed (a usage error)."""


def describe_exception(exc: BaseException) -> str:
    """``ExcType: message`` on one line; SyntaxErrors name their file and line."""
    name = type(exc).__name__
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}:{exc.lineno}" if exc.lineno else exc.filename
        text = f"{name}: {exc.msg} ({where})"
    else:
        msg = str(exc)
        text = f"{name}: {msg}" if msg else name
    return " ".join(text.split())  # collapse newlines: one line


def _parse(import_str: str) -> "tuple[str, str]":
    module_str, sep, attrs_str = import_str.partition(":")
    module_str, attrs_str = module_str.strip(), attrs_str.strip()
    if not sep or not module_str or not attrs_str:
        raise AppStringError(
            f'APP must be "<module>:<attribute>" (e.g. "main:app"), got {import_str!r}')
    if any(not part.isidentifier() for part in module_str.split(".")):
        raise AppStringError(f"APP {import_str!r}: {module_str!r} is not a module name")
    if any(not part.isidentifier() for part in attrs_str.split(".")):
        raise AppStringError(f"APP {import_str!r}: {attrs_str!r} is not an attribute name")
    return module_str, attrs_str


def _is_missing_module(exc: ModuleNotFoundError, module_str: str) -> bool:
    """True when the module named in APP (or one of its parent packages) does not exist, as
    opposed to the module existing but itself importing something that is missing."""
    if exc.name is None:
        return False
    parts = module_str.split(".")
    return exc.name in {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def add_app_dir(app_dir: Optional[str]) -> None:
    """Prepends ``app_dir`` (absolute) to ``sys.path``, like uvicorn's ``--app-dir``."""
    if app_dir is None:
        return
    path = os.path.abspath(app_dir)
    if not os.path.isdir(path):
        raise AppLoadError(f"--app-dir: not a directory: {app_dir}")
    if sys.path[:1] != [path]:
        sys.path.insert(0, path)


def import_from_string(import_str: str, app_dir: Optional[str] = None) -> Any:
    """Imports ``"pkg.mod:obj.attr"`` and returns the object; raises AppLoadError."""
    module_str, attrs_str = _parse(import_str)
    add_app_dir(app_dir)
    try:
        module = importlib.import_module(module_str)
    except ModuleNotFoundError as exc:
        if _is_missing_module(exc, module_str):
            where = f" (searched the app dir {os.path.abspath(app_dir)} and sys.path)" if app_dir else ""
            missing = exc.name if exc.name != module_str else module_str
            detail = f"no module named {missing!r}" if missing != module_str else "no such module"
            raise AppLoadError(f"could not import module {module_str!r}: {detail}{where}") from exc
        raise AppLoadError(
            f"error while importing module {module_str!r}: {describe_exception(exc)}") from exc
    except (Exception, SystemExit) as exc:
        raise AppLoadError(
            f"error while importing module {module_str!r}: {describe_exception(exc)}") from exc

    instance: Any = module
    walked = []
    for attr in attrs_str.split("."):
        try:
            instance = getattr(instance, attr)
        except AttributeError as exc:
            if walked:
                owner = f"{module_str}:{'.'.join(walked)}"
                raise AppLoadError(
                    f"attribute {attrs_str!r} not found in module {module_str!r}: "
                    f"{owner} ({type(instance).__name__}) has no attribute {attr!r}") from exc
            raise AppLoadError(
                f"attribute {attr!r} not found in module {module_str!r}") from exc
        except Exception as exc:  # a property that raises, a module __getattr__ that fails
            raise AppLoadError(
                f"error while reading {module_str}:{attrs_str}: {describe_exception(exc)}") from exc
        walked.append(attr)
    return instance


def _takes_no_arguments(obj: Any) -> bool:
    """True when ``obj`` is callable with no arguments and not with ASGI's three: a factory, not
    an app. False whenever unsure (keep permissive, like uvicorn)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    try:
        sig.bind(None, None, None)
        return False
    except TypeError:
        pass
    try:
        sig.bind()
        return True
    except TypeError:
        return False


def load_app(app: Any, *, factory: bool = False, app_dir: Optional[str] = None) -> Any:
    """Returns the ASGI app for ``app`` (an object or an import string); raises AppLoadError."""
    name = app if isinstance(app, str) else getattr(app, "__qualname__", type(app).__name__)
    if isinstance(app, str):
        obj = import_from_string(app, app_dir)
    else:
        obj = app  # already imported: sys.path is left alone
    if obj is None:
        raise AppLoadError(f"{name!r} is None, not an ASGI app")

    if factory:
        if not callable(obj):
            raise AppLoadError(
                f"--factory: {name!r} is not callable (it is of type {type(obj).__name__})")
        try:
            result = obj()
        except Exception as exc:
            raise AppLoadError(
                f"--factory: calling {name!r} failed: {describe_exception(exc)}") from exc
        if inspect.isawaitable(result):
            if hasattr(result, "close"):
                result.close()
            raise AppLoadError(
                f"--factory: {name!r} returned an awaitable; an async factory is not supported")
        if not callable(result):
            raise AppLoadError(
                f"--factory: {name!r} returned an object of type {type(result).__name__}, "
                f"which is not callable, so not an ASGI app")
        return result

    if not callable(obj):
        raise AppLoadError(
            f"{name!r} is not an ASGI app: it is of type {type(obj).__name__}, which is not callable")
    if _takes_no_arguments(obj):
        raise AppLoadError(
            f"{name!r} takes no arguments, so it is not an ASGI app; "
            f"if it is an app factory, pass --factory")
    return obj
