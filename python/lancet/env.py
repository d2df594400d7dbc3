"""``--env-file``: KEY=VALUE lines loaded into ``os.environ`` before the app is imported.

The format is the common ``.env`` one (what python-dotenv reads, which uvicorn uses):

    # a comment
    export NAME=value          # "export " is allowed and ignored
    QUOTED="a \\"b\\" \\n c"     # double quotes: \\n, \\t, \\", \\\\ are unescaped
    RAW='kept as is'           # single quotes: no escapes
    EMPTY=
    PLAIN=value # trailing comment (only after whitespace, unquoted)

Like uvicorn (``load_dotenv(override=False)``), a variable already set in the environment wins
over the file. ``${VAR}`` interpolation is not done.
"""
from __future__ import annotations

import os
import re
from typing import Dict, MutableMapping, Optional

__all__ = ["EnvFileError", "parse_env_file", "load_env_file"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class EnvFileError(Exception):
    """The file is missing, unreadable or malformed; the message is one line."""


def _unescape_double(s: str) -> str:
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in _ESCAPES:
            out.append(_ESCAPES[s[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_value(raw: str, path: str, lineno: int) -> str:
    raw = raw.strip()
    if not raw:
        return ""
    quote = raw[0]
    if quote in ("'", '"'):
        # Find the closing quote (not escaped, for double quotes).
        i = 1
        while i < len(raw):
            if raw[i] == "\\" and quote == '"':
                i += 2
                continue
            if raw[i] == quote:
                break
            i += 1
        if i >= len(raw):
            raise EnvFileError(f"{path}:{lineno}: unterminated {quote} quote")
        rest = raw[i + 1:].strip()
        if rest and not rest.startswith("#"):
            raise EnvFileError(f"{path}:{lineno}: unexpected text after the closing quote: {rest!r}")
        body = raw[1:i]
        return _unescape_double(body) if quote == '"' else body
    # Unquoted: a " #" starts a comment.
    m = re.search(r"\s#", raw)
    if m:
        raw = raw[: m.start()]
    return raw.strip()


def parse_env_file(path: str) -> Dict[str, str]:
    """Reads ``path`` and returns its variables in order; raises EnvFileError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise EnvFileError(f"--env-file: file not found: {path}") from None
    except IsADirectoryError:
        raise EnvFileError(f"--env-file: is a directory, not a file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise EnvFileError(f"--env-file: cannot read {path}: {e}") from None

    result: Dict[str, str] = {}
    lines = text.splitlines()
    lineno = 0
    while lineno < len(lines):
        line = lines[lineno]
        lineno += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export ") or stripped.startswith("export\t"):
            stripped = stripped[len("export"):].lstrip()
        name, sep, value = stripped.partition("=")
        name = name.strip()
        if not sep:
            raise EnvFileError(f"--env-file {path}:{lineno}: expected NAME=VALUE, got {line.strip()!r}")
        if not _NAME.match(name):
            raise EnvFileError(f"--env-file {path}:{lineno}: invalid variable name {name!r}")
        # A quoted value may span lines.
        v = value.lstrip()
        if v[:1] in ("'", '"'):
            start = lineno
            while True:
                try:
                    parsed = _parse_value(v, path, start)
                    break
                except EnvFileError as e:
                    if "unterminated" not in str(e) or lineno >= len(lines):
                        raise EnvFileError(f"--env-file {e}") from None
                    v += "\n" + lines[lineno]
                    lineno += 1
        else:
            parsed = _parse_value(v, path, lineno)
        result[name] = parsed
    return result


def load_env_file(path: str, environ: Optional[MutableMapping[str, str]] = None,
                  override: bool = False) -> Dict[str, str]:
    """Applies the file to ``environ`` (default ``os.environ``); returns what the file held."""
    env = os.environ if environ is None else environ
    values = parse_env_file(path)
    for k, v in values.items():
        if override or k not in env:
            env[k] = v
    return values
