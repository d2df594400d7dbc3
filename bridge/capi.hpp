// Small CPython C-API helpers shared by the bridge's HTTP and WebSocket exchanges: owning
// references, errors into Python exceptions, the small Python object an exchange lives in, and
// the C entry points bound to it.
//
// Layer: bridge/. Called with the GIL held.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <exception>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backends/port.hpp"
#include "bridge/names.hpp"
#include "protocol/asgi/http_cycle.hpp"
#include "protocol/core/error.hpp"
#include "protocol/http1/connection.hpp"

namespace lancet::bridge::capi {

namespace py = pybind11;

/// Owns a new reference; a null one means a Python error is set, which is thrown.
inline py::object steal(PyObject* o) {
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

inline py::object call1(PyObject* f, PyObject* arg) { return steal(PyObject_CallOneArg(f, arg)); }

/// dict[key] = value, taking the reference to `value_stolen` (null: the error is thrown).
inline void set_item(PyObject* dict, PyObject* key, PyObject* value_stolen) {
  if (value_stolen == nullptr) throw py::error_already_set();
  const int rc = PyDict_SetItem(dict, key, value_stolen);
  Py_DECREF(value_stolen);
  if (rc != 0) throw py::error_already_set();
}

inline void set_borrowed(PyObject* dict, PyObject* key, PyObject* value) {
  if (PyDict_SetItem(dict, key, value) != 0) throw py::error_already_set();
}

/// A cycle's refusal as the app sees it: ClientDisconnected when the client is gone, else
/// RuntimeError with the cycle's message (what was expected, what came).
[[noreturn]] inline void raise_cycle_error(const Error& error) {
  if (asgi::is_disconnect_error(error)) {
    PyErr_SetString(names().client_disconnected, error.detail);
  } else {
    PyErr_SetString(PyExc_RuntimeError, error.detail);
  }
  throw py::error_already_set();
}

/// Header views copied into the port's owned headers.
inline std::vector<backend::Header> owned(std::span<const http1::Header> headers) {
  std::vector<backend::Header> out;
  out.reserve(headers.size());
  for (const http1::Header& h : headers) out.push_back({std::string(h.name), std::string(h.value)});
  return out;
}

/// The Python object an exchange (HTTP or WebSocket) lives in, one per request: it owns the
/// C++ object, and the app's receive/send and its app_exit are C functions bound to it (as
/// `self`). A bare type, not a pybind11 class: creating one costs an allocation, not
/// pybind11's instance registry. Not exposed by name; never created from Python.
template <class T>
struct Handle {
  PyObject_HEAD
  T* value;

  static inline PyTypeObject* type = nullptr;

  static void dealloc(PyObject* self) {
    PyTypeObject* tp = Py_TYPE(self);
    delete reinterpret_cast<Handle*>(self)->value;
    tp->tp_free(self);
    Py_DECREF(tp);  // a heap type: each instance holds a reference
  }
  /// Creates the type once (module init). False with a Python error set.
  static bool init(const char* name) {
    static PyType_Slot slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(&dealloc)}, {0, nullptr}};
    static PyType_Spec spec = {name, sizeof(Handle), 0, Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
    type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&spec));
    return type != nullptr;
  }
  /// A new object owning `value`.
  static py::object wrap(std::unique_ptr<T> value) {
    PyObject* self = type->tp_alloc(type, 0);
    if (self == nullptr) throw py::error_already_set();
    reinterpret_cast<Handle*>(self)->value = value.release();
    return py::reinterpret_steal<py::object>(self);
  }
};

/// The C++ object an app entry point (AppCalls) is bound to.
template <class T>
T& bound(PyObject* self) {
  return *reinterpret_cast<Handle<T>*>(self)->value;
}

/// The C++ object inside a pybind11 instance (the Server's scheduled callbacks are bound to it).
template <class T>
T& instance_value(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  return *static_cast<T*>(inst->get_value_and_holder().value_ptr());
}

/// Runs a C entry point's body: C++ exceptions become the Python exception set, and null.
template <class F>
PyObject* guarded(F&& f) noexcept {
  try {
    return f();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}


/// True while a receive() waits on `waiter`. A waiter the app cancelled (asyncio.wait_for
/// timing out) is forgotten here, so that what arrives next stays queued for the next
/// receive() instead of being handed to a cancelled future, and that receive() may wait.
inline bool still_waiting(py::object& waiter) {
  if (!waiter) return false;
  py::object done = steal(PyObject_CallMethodNoArgs(waiter.ptr(), names().done));
  if (done.ptr() != Py_True) return true;
  waiter = py::object();
  return false;
}

/// Completes a waiting future with `value` (borrowed) and forgets it; a future the app's task
/// already cancelled is left alone. (One call: set_result() on a cancelled future raises
/// InvalidStateError, which is rarer and cheaper than asking done() first every time.)
inline void resolve(py::object& waiter, PyObject* value) {
  if (!waiter) return;
  py::object w = std::move(waiter);
  waiter = py::object();
  PyObject* r = PyObject_CallMethodOneArg(w.ptr(), names().set_result, value);
  if (r != nullptr) {
    Py_DECREF(r);
  } else if (PyErr_ExceptionMatches(names().invalid_state_error)) {
    PyErr_Clear();  // cancelled by the app's task
  } else {
    throw py::error_already_set();
  }
}

/// The app's receive/send and the app_exit of lancet._app.call_app as plain C functions bound
/// (as `self`) to an exchange's Handle<T> (HTTP or WebSocket): no pybind11 dispatch per call.
template <class T>
struct AppCalls {
  static PyObject* receive(PyObject* self, PyObject* /*unused*/) {
    return guarded([&] { return bound<T>(self).receive().release().ptr(); });
  }
  static PyObject* send(PyObject* self, PyObject* message) {
    return guarded([&] { return bound<T>(self).send(message).release().ptr(); });
  }
  /// `exc`: None when the app returned, else what it raised (a CancelledError counts as
  /// raised, with nothing to log).
  static PyObject* app_exit(PyObject* self, PyObject* exc) {
    return guarded([&] {
      if (exc == Py_None) {
        bound<T>(self).finish(false, nullptr);
      } else if (PyErr_GivenExceptionMatches(exc, names().cancelled_error)) {
        bound<T>(self).finish(true, nullptr);
      } else {
        bound<T>(self).finish(true, exc);
      }
      Py_RETURN_NONE;
    });
  }
};

}  // namespace lancet::bridge::capi
