// Completed awaitables: what receive() and send() return when no wait is needed (granian's
// try_send). Raw CPython C API on purpose: `await x` on one of these calls am_await (returns
// itself) and am_send (returns the value, no StopIteration) with no dispatcher in between;
// send() and tp_iternext finish with StopIteration(value) for code that drives it by hand.
//
// Layer: bridge/. Objects are created and awaited on the loop thread only.
#pragma once

#include <Python.h>

namespace lancet::bridge {

/// Creates the type once (call from module init, with the GIL). Returns false with a Python
/// error set on failure.
bool init_ready_type();

/// A new reference to a one-shot awaitable that completes at once with `value` (borrowed;
/// the awaitable takes its own reference). None when `value` is null.
PyObject* make_ready(PyObject* value);

/// A shared awaitable that completes at once with None (a new reference). Stateless, so one
/// object serves every send().
PyObject* ready_none();

}  // namespace lancet::bridge
