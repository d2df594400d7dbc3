// See awaitable.hpp.
#include "bridge/awaitable.hpp"

namespace lancet::bridge {
namespace {

struct ReadyObject {
  PyObject_HEAD
  PyObject* value;  // owned; null once delivered (or for the shared None awaitable)
};

PyTypeObject* g_ready_type = nullptr;
PyObject* g_ready_none = nullptr;

void ready_dealloc(PyObject* self) {
  auto* r = reinterpret_cast<ReadyObject*>(self);
  Py_CLEAR(r->value);
  PyTypeObject* type = Py_TYPE(self);
  type->tp_free(self);
  Py_DECREF(type);
}

PyObject* ready_await(PyObject* self) {
  Py_INCREF(self);
  return self;
}

PyObject* ready_next(PyObject* self) {
  auto* r = reinterpret_cast<ReadyObject*>(self);
  PyObject* value = r->value;
  if (value == nullptr) return nullptr;  // StopIteration(None), no exception object needed
  r->value = nullptr;
  // _PyGen_SetStopIterationValue wraps tuples and exceptions correctly.
  _PyGen_SetStopIterationValue(value);
  Py_DECREF(value);
  return nullptr;
}

PyObject* ready_send(PyObject* self, PyObject* /*arg*/) { return ready_next(self); }

// `await` (the SEND opcode, via PyIter_Send) takes this slot: the value is returned as it is,
// without a StopIteration carrying it.
PySendResult ready_am_send(PyObject* self, PyObject* /*arg*/, PyObject** result) {
  auto* r = reinterpret_cast<ReadyObject*>(self);
  if (r->value == nullptr) {
    Py_INCREF(Py_None);
    *result = Py_None;
  } else {
    *result = r->value;  // the reference moves to the caller
    r->value = nullptr;
  }
  return PYGEN_RETURN;
}

PyMethodDef ready_methods[] = {
    {"send", ready_send, METH_O, "Completes the await (the awaitable never suspends)."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(ready_dealloc)},
    {Py_am_await, reinterpret_cast<void*>(ready_await)},
    {Py_am_send, reinterpret_cast<void*>(ready_am_send)},
    {Py_tp_iter, reinterpret_cast<void*>(ready_await)},
    {Py_tp_iternext, reinterpret_cast<void*>(ready_next)},
    {Py_tp_methods, ready_methods},
    {Py_tp_doc, const_cast<char*>("An awaitable that is already complete.")},
    {0, nullptr},
};

PyType_Spec ready_spec = {
    "lancet._lancet.Ready",
    sizeof(ReadyObject),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    ready_slots,
};

}  // namespace

bool init_ready_type() {
  if (g_ready_type != nullptr) return true;
  PyObject* type = PyType_FromSpec(&ready_spec);
  if (type == nullptr) return false;
  g_ready_type = reinterpret_cast<PyTypeObject*>(type);
  g_ready_none = make_ready(nullptr);
  return g_ready_none != nullptr;
}

PyObject* make_ready(PyObject* value) {
  ReadyObject* r = PyObject_New(ReadyObject, g_ready_type);
  if (r == nullptr) return nullptr;
  Py_XINCREF(value);
  r->value = value;
  return reinterpret_cast<PyObject*>(r);
}

PyObject* ready_none() {
  Py_INCREF(g_ready_none);
  return g_ready_none;
}

}  // namespace lancet::bridge
