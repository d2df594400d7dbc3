"""The embedding binary (bridge/embed_main.cpp): lancet-embed module:app serves like the CLI,
with the bridge built in and sys.executable set through PyConfig.executable."""
import glob
import os
import subprocess
import sys

import httpx
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "apps"))
from asgi_server import REPO, LancetProcess  # noqa: E402


def _find_embed():
    """LANCET_EMBED, else build/ (the README's build), else the newest build*/ one."""
    if os.environ.get("LANCET_EMBED"):
        return os.environ["LANCET_EMBED"]
    main = os.path.join(REPO, "build", "bridge", "lancet-embed")
    if os.path.exists(main):
        return main
    found = sorted(glob.glob(os.path.join(REPO, "build*", "bridge", "lancet-embed")),
                   key=os.path.getmtime, reverse=True)
    return found[0] if found else None


EMBED = _find_embed()
pytestmark = pytest.mark.skipif(EMBED is None, reason="lancet-embed is not built")


def test_embed_serves_and_sets_executable():
    with LancetProcess("asgi_apps:app", command=[EMBED]) as s:
        info = httpx.get(s.url + "/sys", timeout=10).json()
        assert info["executable"] == "/usr/bin/python3"
        assert httpx.post(s.url + "/echo", content=b"embedded", timeout=10).content == b"embedded"
        assert httpx.get(s.url + "/scope", timeout=10).json()["state"]["token"] == "from-lifespan"
    assert s.returncode == 0, s.output()


def test_embed_takes_lancets_arguments_not_pythons():
    # Regression: with PyConfig.parse_argv on, CPython parsed --version itself and aborted.
    res = subprocess.run([EMBED, "--version"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("lancet ") and "backend" in res.stdout
    bad = subprocess.run([EMBED, "no_such_module_xyz:app"], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 1
    assert "no_such_module_xyz" in bad.stderr and "Traceback" not in bad.stderr
