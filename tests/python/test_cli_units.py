"""The pure-Python side in process, with a fake native server: flags -> Config, lancet.run(),
--env-file parsing, logging setup, the loader. Needs no native extension.
"""
from __future__ import annotations

import io
import json
import logging
import os
import sys
import types

import pytest

import lancet
from lancet import cli, env as lenv, loader, logs
from lancet.config import Config


@pytest.fixture
def fake_native(monkeypatch):
    """Replaces lancet._lancet and lancet._serve; ``served`` collects the Configs passed to serve()."""
    class Served(list):
        module: types.ModuleType

    served = Served()
    native = types.ModuleType("lancet._lancet")
    native.version = lambda: "9.9.9"
    native.backend_name = lambda: "fakebackend"
    serve_mod = types.ModuleType("lancet._serve")
    serve_mod.exit_code = 0

    def serve(config):
        served.append(config)
        return serve_mod.exit_code

    serve_mod.serve = serve
    monkeypatch.setitem(sys.modules, "lancet._lancet", native)
    monkeypatch.setitem(sys.modules, "lancet._serve", serve_mod)
    monkeypatch.setattr(lancet, "_lancet", native, raising=False)
    monkeypatch.setattr(lancet, "_serve", serve_mod, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    saved_env = dict(os.environ)
    served.module = serve_mod
    yield served
    os.environ.clear()
    os.environ.update(saved_env)
    for name in ("lancet", "lancet.error", "lancet.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.setLevel(logging.NOTSET)
        lg.propagate = True
        lg.disabled = False


@pytest.fixture
def mod_dir(tmp_path, request):
    """A module with a unique name (sys.modules caches by name) holding a trivial app."""
    name = "unit_app_" + request.node.name.replace("[", "_").replace("]", "_").replace("-", "_")
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    (tmp_path / f"{name}.py").write_text(
        "import os\n"
        "SEEN = os.environ.get('LANCET_UNIT_VAR')\n"
        "async def app(scope, receive, send): pass\n"
        "def make(): return app\n")
    yield tmp_path, name
    sys.modules.pop(name, None)


def test_flags_reach_config(fake_native, mod_dir):
    d, name = mod_dir
    rc = cli.main([
        f"{name}:app", "--app-dir", str(d), "--host", "127.0.0.2", "--port", "0", "--backlog", "10",
        "--root-path", "/api", "--no-proxy-headers", "--forwarded-allow-ips", "10.0.0.1, 10.0.0.2",
        "--no-server-header", "--no-date-header", "--header", "X-A: 1", "--header", "x-b:two:2",
        "--timeout-keep-alive", "2.5", "--timeout-header", "3", "--timeout-graceful-shutdown", "4",
        "--limit-concurrency", "7", "--max-body-size", "10M", "--max-head-size", "8K",
        "--max-header-count", "50", "--lifespan", "off", "--loop", "asyncio", "--log-level", "warning",
        "--no-access-log", "--no-probes", "--probe-path-alive", "/a", "--probe-path-ready", "/r",
        "--ws", "none", "--ws-max-size", "1M", "--ws-max-queue", "4", "--ws-ping-interval", "0",
        "--ws-ping-timeout", "7.5", "--ws-per-message-deflate", "false",
    ])
    assert rc == 0
    (c,) = fake_native
    assert callable(c.app) and c.app.__name__ == "app"
    assert (c.host, c.port, c.backlog, c.root_path) == ("127.0.0.2", 0, 10, "/api")
    assert c.proxy_headers is False and c.server_header is False and c.date_header is False
    assert c.forwarded_allow_ips == ["10.0.0.1", "10.0.0.2"]
    assert c.headers == [("X-A", "1"), ("x-b", "two:2")]
    assert (c.timeout_keep_alive, c.timeout_header, c.timeout_graceful_shutdown) == (2.5, 3.0, 4.0)
    assert (c.limit_concurrency, c.max_body_size, c.max_head_size, c.max_header_count) == (7, 10 << 20, 8192, 50)
    assert (c.lifespan, c.loop, c.log_level, c.access_log) == ("off", "asyncio", "warning", False)
    assert (c.probes, c.probe_path_alive, c.probe_path_ready) == (False, "/a", "/r")
    assert c.factory is False
    assert (c.ws, c.ws_max_size, c.ws_max_queue) == ("none", 1 << 20, 4)
    assert (c.ws_ping_interval, c.ws_ping_timeout, c.ws_per_message_deflate) == (0.0, 7.5, False)
    native = c.to_native()
    assert "app" not in native and native["limit_concurrency"] == 7
    assert (native["ws"], native["ws_ping_interval"], native["ws_per_message_deflate"]) == (
        "none", 0.0, False)


def test_defaults_are_configs(fake_native, mod_dir, monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    d, name = mod_dir
    assert cli.main([f"{name}:app", "--app-dir", str(d)]) == 0
    got = fake_native[0]
    want = Config()
    for field in ("host", "port", "backlog", "timeout_keep_alive", "max_body_size", "lifespan",
                  "loop", "log_level", "access_log", "probes", "forwarded_allow_ips", "headers",
                  "ws", "ws_max_size", "ws_max_queue", "ws_ping_interval", "ws_ping_timeout",
                  "ws_per_message_deflate"):
        assert getattr(got, field) == getattr(want, field), field


def test_forwarded_allow_ips_from_environment(fake_native, mod_dir, monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    d, name = mod_dir
    assert cli.main([f"{name}:app", "--app-dir", str(d)]) == 0
    assert fake_native[0].forwarded_allow_ips == ["*"]


def test_factory_is_applied(fake_native, mod_dir):
    d, name = mod_dir
    assert cli.main([f"{name}:make", "--factory", "--app-dir", str(d)]) == 0
    assert fake_native[0].app.__name__ == "app" and fake_native[0].factory is False


def test_env_file_before_import(fake_native, mod_dir, tmp_path):
    d, name = mod_dir
    envf = tmp_path / "x.env"
    envf.write_text("LANCET_UNIT_VAR=hello\n")
    os.environ.pop("LANCET_UNIT_VAR", None)
    assert cli.main([f"{name}:app", "--app-dir", str(d), "--env-file", str(envf)]) == 0
    assert sys.modules[name].SEEN == "hello"


@pytest.mark.parametrize("code", [1, 3])
def test_exit_code_of_serve_is_returned(fake_native, mod_dir, code):
    fake_native.module.exit_code = code
    d, name = mod_dir
    assert cli.main([f"{name}:app", "--app-dir", str(d)]) == code


def test_version(fake_native, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("lancet 0.1.0 (native 9.9.9, backend fakebackend) on ")


def test_native_missing_message(monkeypatch, mod_dir, capsys):
    monkeypatch.setitem(sys.modules, "lancet._lancet", None)  # makes the import fail
    monkeypatch.delattr(lancet, "_lancet", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    d, name = mod_dir
    assert cli.main([f"{name}:app", "--app-dir", str(d), "--log-config", os.devnull + ".json"]) == 1
    # (a missing --log-config is reported before the extension is needed)
    assert capsys.readouterr().err.startswith("lancet: --log-config: file not found")
    assert cli.main([f"{name}:app", "--app-dir", str(d)]) == 1
    assert capsys.readouterr().err == "lancet: the native extension is not built: run tools/quickstart.sh\n"
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 1


# ------------------------------------------------------------------ lancet.run()
def test_run_unknown_option():
    with pytest.raises(TypeError, match="'prot'"):
        lancet.run("x:app", prot=8000)
    with pytest.raises(TypeError, match="'app'"):
        lancet.run("x:app", app="y:app")


def test_run_bad_value():
    with pytest.raises(ValueError, match="--lifespan"):
        lancet.run("x:app", lifespan="maybe")


def test_run_with_object_and_path(fake_native, mod_dir):
    d, name = mod_dir

    async def app(scope, receive, send):
        pass

    lancet.run(app, port=0, access_log=False)
    assert fake_native[-1].app is app and fake_native[-1].port == 0
    lancet.run(f"{name}:make", factory=True, app_dir=str(d))
    assert fake_native[-1].app.__name__ == "app"


def test_run_raises_systemexit_on_failure(fake_native):
    fake_native.module.exit_code = 3

    async def app(scope, receive, send):
        pass

    with pytest.raises(SystemExit) as e:
        lancet.run(app)
    assert e.value.code == 3


def test_run_load_error():
    with pytest.raises(loader.AppLoadError, match="could not import module"):
        lancet.run("lancet_no_such_module_q:app")


# ------------------------------------------------------------------ env files
def test_env_file_parsing(tmp_path):
    p = tmp_path / ".env"
    p.write_text(
        "# comment\n\n"
        "A=1\n"
        "export B = two words \n"
        "C='single $NOT #kept'\n"
        'D="double \\"q\\" \\n line"\n'
        "E=\n"
        "F=value # trailing comment\n"
        "G=a#b\n"
        'H="multi\nline"\n'
        "I.J-K=ok\n")
    assert lenv.parse_env_file(str(p)) == {
        "A": "1", "B": "two words", "C": "single $NOT #kept", "D": 'double "q" \n line', "E": "",
        "F": "value", "G": "a#b", "H": "multi\nline", "I.J-K": "ok"}


@pytest.mark.parametrize("content, expected", [
    ("NOEQUALS\n", ":1: expected NAME=VALUE"),
    ("1BAD=x\n", "invalid variable name"),
    ("A='unterminated\n", "unterminated"),
    ('A="x" junk\n', "after the closing quote"),
])
def test_env_file_errors(tmp_path, content, expected):
    p = tmp_path / ".env"
    p.write_text(content)
    with pytest.raises(lenv.EnvFileError) as e:
        lenv.parse_env_file(str(p))
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_env_file_does_not_override():
    environ = {"A": "env"}
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        f.write("A=file\nB=file\n")
    try:
        lenv.load_env_file(f.name, environ)
    finally:
        os.unlink(f.name)
    assert environ == {"A": "env", "B": "file"}


# ------------------------------------------------------------------ logging
def _capture(monkeypatch):
    err, out = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    return err, out


def test_default_logging_format(fake_native, monkeypatch):
    err, out = _capture(monkeypatch)
    logs.configure_logging("info", access_log=True)
    logging.getLogger("lancet.error").info("Started server process [%d]", 42)
    logging.getLogger("lancet.error").debug("hidden")
    logging.getLogger("lancet.error").warning("careful")
    logging.getLogger("lancet.access").info('127.0.0.1:5000 - "GET / HTTP/1.1" 200')
    assert err.getvalue() == "INFO:     Started server process [42]\nWARNING:  careful\n"
    assert out.getvalue() == 'INFO:     127.0.0.1:5000 - "GET / HTTP/1.1" 200\n'


def test_no_access_log_and_trace(fake_native, monkeypatch):
    err, out = _capture(monkeypatch)
    logs.configure_logging("trace", access_log=False)
    access = logging.getLogger("lancet.access")
    assert not access.isEnabledFor(logging.INFO)
    access.info("nope")
    logging.getLogger("lancet.error").log(logs.TRACE, "tracing")
    assert out.getvalue() == ""
    assert err.getvalue() == "TRACE:    tracing\n"


def test_log_config_json_and_level(fake_native, tmp_path, monkeypatch):
    err, out = _capture(monkeypatch)
    cfg = {"version": 1, "disable_existing_loggers": False,
           "formatters": {"f": {"format": "CUSTOM %(name)s %(message)s"}},
           "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "f", "stream": "ext://sys.stderr"}},
           "loggers": {"lancet": {"handlers": ["h"], "level": "DEBUG", "propagate": False}}}
    p = tmp_path / "log.json"
    p.write_text(json.dumps(cfg))
    logs.configure_logging("warning", True, str(p), level_explicit=False)
    logging.getLogger("lancet.error").debug("dbg")
    assert err.getvalue() == "CUSTOM lancet.error dbg\n"
    logs.configure_logging("warning", True, str(p), level_explicit=True)
    logging.getLogger("lancet.error").info("dropped")
    assert "dropped" not in err.getvalue()


def test_log_config_yaml_and_ini(fake_native, tmp_path, monkeypatch):
    err, _ = _capture(monkeypatch)
    y = tmp_path / "log.yaml"
    y.write_text("version: 1\nformatters: {f: {format: 'Y %(message)s'}}\n"
                 "handlers: {h: {class: logging.StreamHandler, formatter: f, stream: 'ext://sys.stderr'}}\n"
                 "loggers: {lancet: {handlers: [h], level: INFO, propagate: false}}\n")
    logs.configure_logging("info", True, str(y))
    logging.getLogger("lancet.error").info("yaml")
    ini = tmp_path / "log.ini"
    ini.write_text("[loggers]\nkeys=root,lancet\n[handlers]\nkeys=h\n[formatters]\nkeys=f\n"
                   "[logger_root]\nlevel=WARNING\nhandlers=\n"
                   "[logger_lancet]\nlevel=INFO\nhandlers=h\nqualname=lancet\npropagate=0\n"
                   "[handler_h]\nclass=StreamHandler\nformatter=f\nargs=(sys.stderr,)\n"
                   "[formatter_f]\nformat=I %(message)s\n")
    logs.configure_logging("info", True, str(ini))
    logging.getLogger("lancet.error").info("ini")
    assert err.getvalue() == "Y yaml\nI ini\n"


# ------------------------------------------------------------------ loader
def test_loader_accepts_asgi2_style_class_and_callables():
    class ASGI2:
        def __init__(self, scope):
            pass

    class Callable3:
        def __call__(self, scope, receive, send):
            pass

    assert loader.load_app(ASGI2) is ASGI2
    obj = Callable3()
    assert loader.load_app(obj) is obj
    assert loader.load_app(print) is print  # signature not inspectable enough: permissive


def test_loader_rejects_async_factory():
    async def make():
        return None

    with pytest.raises(loader.AppLoadError, match="async factory"):
        loader.load_app(make, factory=True)


def test_ws_defaults_are_uvicorns_and_aliases_mean_auto():
    c = Config()
    assert (c.ws, c.ws_max_size, c.ws_max_queue) == ("auto", 16 * 1024 * 1024, 32)
    assert (c.ws_ping_interval, c.ws_ping_timeout, c.ws_per_message_deflate) == (20.0, 20.0, True)
    for alias in ("websockets", "wsproto"):
        assert Config(ws=alias).to_native()["ws"] == "auto"
    native = Config(ws_ping_interval=None, ws_ping_timeout=None).to_native()
    assert (native["ws_ping_interval"], native["ws_ping_timeout"]) == (0.0, 0.0)
    for text, want in (("true", True), ("False", False), ("1", True), ("off", False)):
        assert cli._bool(text) is want


def test_sizes():
    assert cli._size("1048576") == 1 << 20
    assert cli._size("64K") == 64 << 10
    assert cli._size("10MiB") == 10 << 20
    assert cli._size("1g") == 1 << 30


def test_run_log_config_dict(fake_native, monkeypatch):
    err, _ = _capture(monkeypatch)
    cfg = {"version": 1, "formatters": {"f": {"format": "D %(message)s"}},
           "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "f", "stream": "ext://sys.stderr"}},
           "loggers": {"lancet": {"handlers": ["h"], "level": "INFO", "propagate": False}},
           "disable_existing_loggers": False}

    async def app(scope, receive, send):
        pass

    lancet.run(app, log_config=cfg)
    logging.getLogger("lancet.error").info("from dict")
    assert err.getvalue() == "D from dict\n"
