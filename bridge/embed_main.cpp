// lancet-embed: the bridge with the interpreter embedded. `lancet-embed module:app [flags]`
// runs lancet.cli.main(argv) in an embedded CPython, with lancet._lancet built in.
//
// PyConfig.executable is set to $VIRTUAL_ENV/bin/python when VIRTUAL_ENV is set, else
// /usr/bin/python3, so that sys.executable, multiprocessing and the venv's site-packages
// work (TOOLCHAIN.md §5a).
#include <pybind11/embed.h>

#include <cstdlib>
#include <string>

#include "bridge/module.hpp"

namespace py = pybind11;

namespace {

PyObject* init_lancet_module() { return lancet::bridge::init_embedded_module(); }

int exit_code_of(py::error_already_set& e) {
  if (!e.matches(PyExc_SystemExit)) {
    e.restore();
    PyErr_Print();
    return 1;
  }
  py::object code = e.value().attr("code");
  if (code.is_none()) return 0;
  if (py::isinstance<py::int_>(code)) return code.cast<int>();
  py::print(code, py::arg("file") = py::module_::import("sys").attr("stderr"));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* venv = std::getenv("VIRTUAL_ENV");
  const std::string executable =
      (venv != nullptr && *venv != '\0') ? std::string(venv) + "/bin/python" : "/usr/bin/python3";
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  // The arguments are lancet's, not python's: CPython must not parse them (with parse_argv on,
  // `lancet-embed --version` is taken for `python --version` and initialisation fails).
  config.parse_argv = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.executable, executable.c_str());
  if (PyStatus_Exception(status)) {
    PyConfig_Clear(&config);
    Py_ExitStatusException(status);
  }

  py::scoped_interpreter interpreter{&config, argc, argv, false};
  try {
    py::module_ sys = py::module_::import("sys");
    // Built in, not found on a path: placed in sys.modules before the package is imported
    // (BuiltinImporter would refuse a dotted name below a package anyway).
    PyObject* created = init_lancet_module();
    if (created == nullptr) throw py::error_already_set();
    py::object native = py::reinterpret_steal<py::object>(created);
    sys.attr("modules")["lancet._lancet"] = native;
    py::list args;
    for (int i = 1; i < argc; ++i) args.append(py::str(argv[i]));
    py::object lancet_pkg;
    try {
      lancet_pkg = py::module_::import("lancet");
    } catch (py::error_already_set& e) {
      if (!e.matches(PyExc_ModuleNotFoundError)) throw;
#ifdef LANCET_PYTHON_DIR
      sys.attr("path").attr("insert")(0, LANCET_PYTHON_DIR);  // running from the build tree
      lancet_pkg = py::module_::import("lancet");
#else
      throw;
#endif
    }
    py::setattr(lancet_pkg, "_lancet", native);
    py::object rc = py::module_::import("lancet.cli").attr("main")(args);
    if (rc.is_none()) return 0;
    return rc.cast<int>();
  } catch (py::error_already_set& e) {
    return exit_code_of(e);
  }
}
