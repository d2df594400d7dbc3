// The callables an app is given as `receive` and `send` (and, under --task-impl asyncio, the
// exit call_app makes): a C entry point (PyMethodDef) bound to the request's exchange object.
//
// What PyCFunction_New makes does the same, but each request makes two and drops them when it
// ends, and a builtin method is a GC-tracked object allocated and freed each time. An
// AppCallable is not GC-tracked (it holds one reference, to an exchange object that is not
// tracked either, so it closes no cycle the collector could break) and comes from a free list.
// Called through vectorcall, with the argument checks of METH_NOARGS / METH_O.
//
// Layer: bridge/. Created and called on the loop thread only, with the GIL.
#pragma once

#include <Python.h>

namespace lancet::bridge {

/// Creates the type once (module init). False with a Python error set on failure.
bool init_app_callable_type();

/// A new reference to `def` (METH_NOARGS or METH_O) bound to `self` (borrowed; the callable
/// takes its own reference). Null with a Python error set on failure.
PyObject* make_app_callable(PyMethodDef* def, PyObject* self);

}  // namespace lancet::bridge
