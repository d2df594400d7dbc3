"""Builds Lancet's native extension with CMake for setuptools (no scikit-build on Debian 12).

Metadata lives in pyproject.toml; this file only adds the ``_lancet`` extension and a build_ext
that runs:

    cmake -S <repo> -B <repo>/build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DPython3_EXECUTABLE=<LANCET_PYTHON or /usr/bin/python3>
    cmake --build <repo>/build --target _lancet -j <LANCET_BUILD_JOBS or 2>

The CMake target writes python/lancet/_lancet.<EXT_SUFFIX>; build_ext copies it to where
setuptools wants it (build/lib... for a wheel; nothing to copy for an editable install, where the
file already is in place).

Environment:
  LANCET_PYTHON=PATH      interpreter CMake builds against (default /usr/bin/python3: the pyenv
                          python3 first on PATH cannot see Debian's packages; TOOLCHAIN.md §5)
  LANCET_BUILD_DIR=DIR    CMake build directory (default <repo>/build)
  LANCET_BUILD_JOBS=N     parallel build jobs (default 2)
  LANCET_CMAKE_ARGS="..." extra arguments for the configure step (e.g. -DLANCET_BACKEND=libevent)
  LANCET_SKIP_NATIVE=1    do not build the extension (a pure-Python install; serving then fails
                          with "the native extension is not built")
"""
from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
PKG_DIR = os.path.join(ROOT, "python", "lancet")


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def _python_for_cmake() -> str:
    explicit = os.environ.get("LANCET_PYTHON")
    if explicit:
        return explicit
    return "/usr/bin/python3"


class CMakeBuild(build_ext):
    def run(self) -> None:
        if _truthy("LANCET_SKIP_NATIVE"):
            self.announce("LANCET_SKIP_NATIVE is set: not building the _lancet extension", level=3)
            return
        if shutil.which("cmake") is None:
            raise SystemExit("lancet: cmake not found; install it (tools/setup.sh) "
                             "or set LANCET_SKIP_NATIVE=1 for a pure-Python install")
        super().run()

    def build_extension(self, ext: Extension) -> None:
        build_dir = os.environ.get("LANCET_BUILD_DIR") or os.path.join(ROOT, "build")
        jobs = os.environ.get("LANCET_BUILD_JOBS", "2")
        configure = [
            "cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
            f"-DPython3_EXECUTABLE={_python_for_cmake()}",
        ] + shlex.split(os.environ.get("LANCET_CMAKE_ARGS", ""))
        build = ["cmake", "--build", build_dir, "--target", "_lancet", "-j", jobs]
        for cmd in (configure, build):
            print("lancet:", " ".join(shlex.quote(c) for c in cmd), flush=True)
            subprocess.check_call(cmd, cwd=ROOT)

        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        candidates = glob.glob(os.path.join(PKG_DIR, "_lancet" + suffix)) or \
            glob.glob(os.path.join(PKG_DIR, "_lancet*.so"))
        if not candidates:
            raise SystemExit(f"lancet: CMake target _lancet built, but no {PKG_DIR}/_lancet*.so "
                             "appeared (the target should write the module into python/lancet/)")
        built = max(candidates, key=os.path.getmtime)
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.abspath(built) != os.path.abspath(dest):
            self.copy_file(built, dest)


# setuptools' own scratch space (and lancet.egg-info) goes under build/setuptools, away from
# CMake's files in build/ and out of python/, which holds only the package's sources.
SCRATCH = os.path.join("build", "setuptools")
os.makedirs(os.path.join(ROOT, SCRATCH), exist_ok=True)
setup(
    ext_modules=[CMakeExtension("lancet._lancet")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": SCRATCH}, "egg_info": {"egg_base": SCRATCH}},
)
