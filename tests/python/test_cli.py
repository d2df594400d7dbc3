"""The ``lancet`` command, run as a subprocess: error paths (no native extension needed), --help,
and (with the extension) --version, --env-file, --app-dir, dotted attributes, --factory, port in use.
"""
from __future__ import annotations

import re
import socket
import subprocess
import textwrap

import httpx
import pytest

from conftest import APPS_DIR, PYTHON_DIR, SYSTEM_PYTHON, one_line_error, requires_native, run_lancet

USAGE, FAILURE = 2, 1


@pytest.fixture
def appdir(tmp_path):
    """A directory with broken modules, each with a name unique to this test run."""
    (tmp_path / "imports_missing_dep.py").write_text("import lancet_no_such_dependency_xyz\napp = None\n")
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('kaboom at import\\nsecond line')\n")
    (tmp_path / "syntax_error.py").write_text("def broken(:\n    pass\n")
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(7)\n")
    (tmp_path / "holder.py").write_text(textwrap.dedent("""
        async def app(scope, receive, send): pass
        class Box: pass
        box = Box()
        number = 42
        def factory(): return app
        def failing_factory(): raise ValueError('no config')
        def factory_of_nothing(): return None
    """))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    return tmp_path


# ------------------------------------------------------------------ usage errors (exit 2)
@pytest.mark.parametrize("args, expected", [
    ([], "required: APP"),
    (["--bogus", "m:app"], "unrecognized arguments: --bogus"),
    (["--port", "abc", "m:app"], "--port"),
    (["--port", "70000", "m:app"], "--port"),
    (["--port", "-1", "m:app"], "--port"),
    (["--backlog", "0", "m:app"], "--backlog"),
    (["--timeout-keep-alive", "-1", "m:app"], "--timeout-keep-alive"),
    (["--timeout-keep-alive", "soon", "m:app"], "--timeout-keep-alive"),
    (["--timeout-graceful-shutdown", "nan", "m:app"], "--timeout-graceful-shutdown"),
    (["--limit-concurrency", "0", "m:app"], "--limit-concurrency"),
    (["--max-body-size", "10X", "m:app"], "--max-body-size"),
    (["--max-head-size", "0", "m:app"], "--max-head-size"),
    (["--max-header-count", "many", "m:app"], "--max-header-count"),
    (["--lifespan", "sometimes", "m:app"], "--lifespan"),
    (["--loop", "trio", "m:app"], "--loop"),
    (["--log-level", "loud", "m:app"], "--log-level"),
    (["--header", "no-colon", "m:app"], "--header"),
    (["--header", "bad name:v", "m:app"], "--header"),
    (["--fd", "-3", "m:app"], "--fd"),
    (["--probe-path-alive", "health", "m:app"], "--probe-path-alive"),
    (["--port"], "--port"),
    (["no_colon"], '"<module>:<attribute>"'),
    (["mod:"], '"<module>:<attribute>"'),
    (["bad-name:app"], "not a module name"),
    (["m:app", "extra"], "unrecognized arguments: extra"),
    (["--ws", "sometimes", "m:app"], "--ws"),
    (["--ws-max-size", "0", "m:app"], "--ws-max-size"),
    (["--ws-max-size", "big", "m:app"], "--ws-max-size"),
    (["--ws-max-queue", "0", "m:app"], "--ws-max-queue"),
    (["--ws-ping-interval", "-1", "m:app"], "--ws-ping-interval"),
    (["--ws-ping-timeout", "soon", "m:app"], "--ws-ping-timeout"),
    (["--ws-per-message-deflate", "maybe", "m:app"], "--ws-per-message-deflate"),
    (["--http", "h11", "m:app"], "--http is a uvicorn option that Lancet does not support"),
    (["--reload", "m:app"], "--reload is a uvicorn option"),
    (["--ssl-keyfile=k.pem", "m:app"], "--ssl-keyfile is a uvicorn option"),
])
def test_usage_errors(args, expected):
    line = one_line_error(run_lancet(*args), USAGE)
    assert expected in line


# ------------------------------------------------------------------ load errors (exit 1)
@pytest.mark.parametrize("app, expected", [
    ("lancet_no_such_module_xyz:app", "could not import module 'lancet_no_such_module_xyz': no such module"),
    ("lancet_no_such_pkg_xyz.sub:app", "no module named 'lancet_no_such_pkg_xyz'"),
    ("pkg.nosub:app", "could not import module 'pkg.nosub'"),
    ("imports_missing_dep:app",
     "error while importing module 'imports_missing_dep': ModuleNotFoundError: "
     "No module named 'lancet_no_such_dependency_xyz'"),
    ("raises_on_import:app",
     "error while importing module 'raises_on_import': RuntimeError: kaboom at import second line"),
    ("syntax_error:app", "error while importing module 'syntax_error': SyntaxError"),
    ("exits_on_import:app", "error while importing module 'exits_on_import': SystemExit: 7"),
    ("holder:nope", "attribute 'nope' not found in module 'holder'"),
    ("holder:box.app", "attribute 'box.app' not found in module 'holder': holder:box (Box) has no attribute 'app'"),
    ("holder:number", "'holder:number' is not an ASGI app: it is of type int"),
    ("holder:factory", "pass --factory"),
])
def test_load_errors(appdir, app, expected):
    line = one_line_error(run_lancet("--app-dir", str(appdir), app), FAILURE)
    assert expected in line


@pytest.mark.parametrize("app, expected", [
    ("holder:number", "--factory: 'holder:number' is not callable"),
    ("holder:failing_factory", "--factory: calling 'holder:failing_factory' failed: ValueError: no config"),
    ("holder:factory_of_nothing", "returned an object of type NoneType"),
])
def test_factory_errors(appdir, app, expected):
    line = one_line_error(run_lancet("--app-dir", str(appdir), "--factory", app), FAILURE)
    assert expected in line


def test_missing_module_found_via_cwd_not_app_dir(appdir, tmp_path_factory):
    # Without --app-dir, the current directory is searched (uvicorn's default '.').
    other = tmp_path_factory.mktemp("elsewhere")
    line = one_line_error(run_lancet("holder:nope", cwd=appdir), FAILURE)
    assert "attribute 'nope'" in line
    line = one_line_error(run_lancet("holder:nope", cwd=other), FAILURE)
    assert "could not import module 'holder'" in line


def test_log_level_is_case_insensitive(appdir):
    line = one_line_error(run_lancet("--app-dir", str(appdir), "--log-level", "WARNING", "holder:nope"), FAILURE)
    assert "attribute 'nope'" in line


def test_app_dir_not_a_directory(tmp_path):
    line = one_line_error(run_lancet("--app-dir", str(tmp_path / "missing"), "m:app"), FAILURE)
    assert "--app-dir: not a directory" in line


def test_debug_log_level_adds_the_traceback(appdir):
    r = run_lancet("--app-dir", str(appdir), "--log-level", "debug", "raises_on_import:app")
    assert r.returncode == FAILURE
    assert r.stderr.startswith("lancet: error while importing module 'raises_on_import'")
    assert "Traceback" in r.stderr


# ------------------------------------------------------------------ --log-config, --env-file
def test_log_config_missing(tmp_path):
    line = one_line_error(run_lancet("--log-config", str(tmp_path / "nope.json"), "cli_apps:app"), FAILURE)
    assert "--log-config: file not found" in line


@pytest.mark.parametrize("name, content, expected", [
    ("bad.json", "{not json", "invalid JSON"),
    ("list.json", "[1, 2]", "expected a mapping"),
    ("bad.yaml", "a: [unclosed", "invalid YAML"),
    ("schema.yaml", "version: 1\nhandlers:\n  h:\n    class: no.such.Handler\n", "invalid logging configuration"),
    ("bad.ini", "[loggers]\nkeys=root\n", "not a valid logging config file"),
])
def test_log_config_malformed(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    line = one_line_error(run_lancet("--app-dir", str(APPS_DIR), "--log-config", str(path), "cli_apps:app"), FAILURE)
    assert line.startswith(f"lancet: --log-config {path}")
    assert expected in line


def test_env_file_missing(tmp_path):
    line = one_line_error(run_lancet("--env-file", str(tmp_path / "nope.env"), "cli_apps:app"), FAILURE)
    assert "--env-file: file not found" in line


def test_env_file_malformed(tmp_path):
    path = tmp_path / "bad.env"
    path.write_text("GOOD=1\nthis line has no equals sign\n")
    line = one_line_error(run_lancet("--env-file", str(path), "cli_apps:app"), FAILURE)
    assert f"{path}:2" in line and "NAME=VALUE" in line


def test_env_file_applied_before_import(tmp_path):
    # The module refuses to import unless the env file was loaded first.
    (tmp_path / "needs_env.py").write_text(
        "import os\nif os.environ.get('LANCET_TEST_NEEDED') != 'yes':\n"
        "    raise RuntimeError('env file not applied')\nnumber = 1\n")
    env = tmp_path / ".env"
    env.write_text("LANCET_TEST_NEEDED=yes\n")
    line = one_line_error(run_lancet("--app-dir", str(tmp_path), "--env-file", str(env), "needs_env:number"), FAILURE)
    assert "is not an ASGI app" in line  # got past the import


# ------------------------------------------------------------------ --help
ALL_FLAGS = [
    "--host", "--port", "--uds", "--fd", "--backlog", "--root-path", "--proxy-headers",
    "--no-proxy-headers", "--forwarded-allow-ips", "--server-header", "--no-server-header",
    "--date-header", "--no-date-header", "--header", "--timeout-keep-alive",
    "--timeout-graceful-shutdown", "--limit-concurrency", "--lifespan", "--loop", "--log-level",
    "--log-config", "--access-log", "--no-access-log", "--factory", "--app-dir", "--env-file",
    "--timeout-header", "--max-body-size", "--max-head-size", "--max-header-count",
    "--probe-path-alive", "--probe-path-ready", "--no-probes", "--version",
]


def test_help_lists_every_flag_with_its_default():
    r = run_lancet("--help", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for flag in ALL_FLAGS:
        assert re.search(rf"(^|[\s,]){re.escape(flag)}\b", out), flag
    # Every option's help (except --help/--version) states its default.
    entries = re.split(r"\n  (?=-)", out.split("options:", 1)[1])
    for entry in entries:
        if not entry.strip() or entry.lstrip().startswith(("-h, --help", "--version")):
            continue
        assert "(default:" in entry, entry
    for text in ("(default: 127.0.0.1)", "(default: 8000)", "(default: 5.0 s)", "(default: 10.0 s)",
                 "(default: 30.0 s)", "(default: 2048)", "(default: auto)", "(default: info)",
                 "(default: 100)", "(default: no limit)", "1 GiB", "16 KiB", "/_health/alive",
                 "/_health/ready"):
        assert text in out, text


def test_help_works_without_the_native_extension():
    # --help never imports lancet._lancet (nothing needs building to read the help).
    code = ("import sys, lancet.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
            "assert 'lancet._lancet' not in sys.modules, 'imported the extension'\n")
    res = subprocess.run([SYSTEM_PYTHON, "-c", code], env={"PYTHONPATH": str(PYTHON_DIR), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# ------------------------------------------------------------------ with the native extension
@requires_native
def test_version_names_the_backend():
    r = run_lancet("--version")
    assert r.returncode == 0, r.stderr
    assert re.match(r"lancet 0\.1\.0 \(native \S+, backend (io_uring|libevent|blocking)\)", r.stdout), r.stdout


def _get(server, path):
    return httpx.get(server.url + path, timeout=10)


def test_env_file_reaches_the_app(lancet_server, tmp_path):
    env = tmp_path / "app.env"
    env.write_text('# comment\nexport LANCET_T_A=from-file\nLANCET_T_B="quoted value"\n'
                   "LANCET_T_C=kept-from-environ\n")
    server = lancet_server("cli_apps:app", "--env-file", str(env),
                           env={"LANCET_T_C": "environ-wins", "LANCET_T_D": "plain environ"})
    assert _get(server, "/env/LANCET_T_A").text == "from-file"
    assert _get(server, "/env/LANCET_T_B").text == "quoted value"
    assert _get(server, "/env/LANCET_T_C").text == "environ-wins"
    assert _get(server, "/env/LANCET_T_D").text == "plain environ"
    assert _get(server, "/env/LANCET_T_UNSET").status_code == 404


def test_app_dir(lancet_server, tmp_path):
    server = lancet_server("cli_apps:app", app_dir=APPS_DIR, cwd=tmp_path)
    assert _get(server, "/whoami").text == "app"


def test_cwd_is_the_default_app_dir(lancet_server):
    server = lancet_server("cli_apps:app", app_dir=None, cwd=APPS_DIR)
    assert _get(server, "/whoami").text == "app"


def test_dotted_attribute(lancet_server):
    server = lancet_server("cli_apps:holder.inner")
    assert _get(server, "/whoami").text == "holder.inner"


def test_factory(lancet_server):
    server = lancet_server("cli_apps:create_app", "--factory")
    assert _get(server, "/whoami").text == "factory"


def test_uds(lancet_server, tmp_path):
    path = str(tmp_path / "lancet.sock")
    server = lancet_server("cli_apps:app", "--uds", path)
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), base_url=server.url, timeout=10) as c:
        assert c.get("/whoami").text == "app"


def test_response_headers_flags(lancet_server):
    server = lancet_server("cli_apps:app", "--header", "X-Deployed-By: lancet-tests",
                           "--header", "X-Second:2", "--no-server-header")
    r = _get(server, "/")
    assert r.headers["x-deployed-by"] == "lancet-tests" and r.headers["x-second"] == "2"
    assert "server" not in r.headers


def test_sigterm_exits_cleanly(lancet_server):
    server = lancet_server("cli_apps:app")
    assert _get(server, "/").text == "ok"
    assert server.stop() == 0, server.describe_output()


@requires_native
def test_port_in_use(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run_lancet("--app-dir", str(APPS_DIR), "--host", "127.0.0.1", "--port", str(port),
                       "cli_apps:app", timeout=20)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if re.search(r"in use|EADDRINUSE|Errno 98", line, re.I)]
    assert len(lines) == 1, r.stderr
    assert str(port) in lines[0], lines[0]
