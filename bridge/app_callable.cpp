// See app_callable.hpp.
#include "bridge/app_callable.hpp"

#include <structmember.h>

#include <array>
#include <cstddef>

namespace lancet::bridge {
namespace {

struct AppCallable {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyMethodDef* def;
  PyObject* self;  // owned
};

PyTypeObject* g_type = nullptr;

// Freed objects kept for the next requests: two per request in flight is the steady state.
constexpr std::size_t kFreeListSize = 256;
std::array<AppCallable*, kFreeListSize> g_free{};
std::size_t g_free_count = 0;

PyObject* call(PyObject* callable, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
  auto* c = reinterpret_cast<AppCallable*>(callable);
  const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) {
    PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", c->def->ml_name);
    return nullptr;
  }
  if ((c->def->ml_flags & METH_NOARGS) != 0) {
    if (nargs != 0) {
      PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given)", c->def->ml_name,
                   nargs);
      return nullptr;
    }
    return c->def->ml_meth(c->self, nullptr);
  }
  if (nargs != 1) {
    PyErr_Format(PyExc_TypeError, "%s() takes exactly one argument (%zd given)", c->def->ml_name,
                 nargs);
    return nullptr;
  }
  return c->def->ml_meth(c->self, args[0]);
}

void dealloc(PyObject* object) {
  auto* c = reinterpret_cast<AppCallable*>(object);
  PyObject* self = c->self;
  c->self = nullptr;
  PyTypeObject* type = Py_TYPE(object);
  if (g_free_count < kFreeListSize) {
    g_free[g_free_count++] = c;
  } else {
    PyObject_Free(object);
  }
  Py_DECREF(type);  // PyObject_Init took a reference to the (heap) type
  Py_XDECREF(self);  // last: it may free the exchange, and with it other callables
}

PyObject* repr(PyObject* object) {
  return PyUnicode_FromFormat("<lancet %s>", reinterpret_cast<AppCallable*>(object)->def->ml_name);
}

PyObject* get_name(PyObject* object, void* /*closure*/) {
  return PyUnicode_FromString(reinterpret_cast<AppCallable*>(object)->def->ml_name);
}

PyMemberDef members[] = {
    {"__vectorcalloffset__", T_PYSSIZET, offsetof(AppCallable, vectorcall), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyGetSetDef getset[] = {
    {"__name__", get_name, nullptr, nullptr, nullptr},
    {"__qualname__", get_name, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(dealloc)},
    {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
    {Py_tp_repr, reinterpret_cast<void*>(repr)},
    {Py_tp_members, members},
    {Py_tp_getset, getset},
    {Py_tp_doc, const_cast<char*>("An ASGI receive or send callable bound to one request.")},
    {0, nullptr},
};

PyType_Spec spec = {
    "lancet._lancet.AppCallable",
    sizeof(AppCallable),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_HAVE_VECTORCALL |
        Py_TPFLAGS_IMMUTABLETYPE,
    slots,
};

}  // namespace

bool init_app_callable_type() {
  if (g_type != nullptr) return true;
  PyObject* type = PyType_FromSpec(&spec);
  if (type == nullptr) return false;
  g_type = reinterpret_cast<PyTypeObject*>(type);
  return true;
}

PyObject* make_app_callable(PyMethodDef* def, PyObject* self) {
  AppCallable* c = nullptr;
  if (g_free_count > 0) {
    c = g_free[--g_free_count];
  } else {
    c = static_cast<AppCallable*>(PyObject_Malloc(sizeof(AppCallable)));
    if (c == nullptr) return PyErr_NoMemory();
  }
  PyObject_Init(reinterpret_cast<PyObject*>(c), g_type);
  c->vectorcall = call;
  c->def = def;
  Py_INCREF(self);
  c->self = self;
  return reinterpret_cast<PyObject*>(c);
}

}  // namespace lancet::bridge
