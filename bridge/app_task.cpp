// See app_task.hpp. The step follows CPython 3.11's Task.__step (Lib/asyncio/tasks.py), case by
// case; the comments name the case.
#include "bridge/app_task.hpp"

#include <structmember.h>

#include "bridge/names.hpp"

namespace lancet::bridge {
namespace {

enum class State : int { pending, finished, cancelled };

struct AppTask {
  PyObject_HEAD
  PyObject* coro;        // the coroutine; kept after the end (anyio reads its state); null
                         // before the first step of a task made by make_app_call_task
  PyObject* app;         // make_app_call_task: app(scope, receive, send), called by the
  PyObject* app_args[3]; // first step; null once called
  PyCFunction exit_fn;   // make_app_call_task: exit_fn(exit_self, None | exception), once
  PyObject* exit_self;
  PyObject* loop;
  PyObject* context;     // contextvars.Context every step runs in
  PyObject* name;        // str
  PyObject* fut_waiter;  // the future the task waits on, or null
  PyObject* cancel_msg;  // cancel(msg)'s msg, or null
  PyObject* exception;   // how it ended, when it raised (CancelledError included), or null
  PyObject* callbacks;   // list of (fn, context) tuples, or null
  PyObject* weakreflist;
  PyObject* dict;        // attributes others set on the task, as on an asyncio.Task (asgiref's
                         // Local keeps its storage there); made on first use
  int must_cancel;
  int cancels_requested;
  State state;
  AppTask* prev;  // the live list (not done yet)
  AppTask* next;
};

struct Hooks {
  PyTypeObject* type = nullptr;
  PyObject* enter_task = nullptr;    // asyncio.tasks._enter_task
  PyObject* leave_task = nullptr;    // asyncio.tasks._leave_task
  PyObject* current_task = nullptr;  // asyncio.current_task
  PyObject* await_app = nullptr;     // lancet._app.await_app, imported when first needed
  PyObject* s_blocking = nullptr;    // "_asyncio_future_blocking"
  PyObject* s_add_done_callback = nullptr;
  PyObject* s_get_loop = nullptr;
  PyObject* s_cancel = nullptr;
  PyObject* s_result = nullptr;
  PyObject* s_throw = nullptr;
  PyObject* s_call_soon = nullptr;
  PyObject* s_cr_frame = nullptr;
  PyObject* kw_context = nullptr;  // ("context",)
  PyObject* kw_msg = nullptr;      // ("msg",)
  AppTask* live_head = nullptr;
  AppTask* live_tail = nullptr;
};
Hooks g;

AppTask* as_task(PyObject* o) { return reinterpret_cast<AppTask*>(o); }
PyObject* as_object(AppTask* t) { return reinterpret_cast<PyObject*>(t); }

void link(AppTask* t) {
  t->prev = g.live_tail;
  t->next = nullptr;
  if (g.live_tail != nullptr) g.live_tail->next = t; else g.live_head = t;
  g.live_tail = t;
}

void unlink(AppTask* t) {
  if (t->prev == nullptr && g.live_head != t) return;  // not linked
  if (t->prev != nullptr) t->prev->next = t->next; else g.live_head = t->next;
  if (t->next != nullptr) t->next->prev = t->prev; else g.live_tail = t->prev;
  t->prev = t->next = nullptr;
}

PyObject* step_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs);
PyObject* wakeup_method(PyObject* self, PyObject* future);

PyMethodDef g_step_def = {"_step", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(step_method)),
                          METH_FASTCALL, "Runs the task's next step (with an exception to throw in)."};
PyMethodDef g_wakeup_def = {"_wakeup", wakeup_method, METH_O,
                            "The done callback of the future the task waits on."};

/// loop.call_soon(fn, arg, context=context); no arg when `arg` is null.
int call_soon(AppTask* t, PyObject* fn, PyObject* arg, PyObject* context) {
  PyObject* with_arg[] = {t->loop, fn, arg, context};
  PyObject* without[] = {t->loop, fn, context};
  PyObject* handle = arg != nullptr
                         ? PyObject_VectorcallMethod(g.s_call_soon, with_arg, 3, g.kw_context)
                         : PyObject_VectorcallMethod(g.s_call_soon, without, 2, g.kw_context);
  if (handle == nullptr) return -1;
  Py_DECREF(handle);
  return 0;
}

/// getattr(o, name, <missing>): 1 found (new reference in *out), 0 missing, -1 error.
int lookup_attr(PyObject* o, PyObject* name, PyObject** out) {
#if PY_VERSION_HEX >= 0x030D0000
  return PyObject_GetOptionalAttr(o, name, out);
#else
  return _PyObject_LookupAttr(o, name, out);
#endif
}

/// Schedules the next step, with `exc` (borrowed, may be null) to throw in.
int schedule_step(AppTask* t, PyObject* exc) {
  PyObject* step = PyCFunction_New(&g_step_def, as_object(t));
  if (step == nullptr) return -1;
  const int rc = call_soon(t, step, exc, t->context);
  Py_DECREF(step);
  return rc;
}

/// Schedules a step that throws a new RuntimeError(message) into the coroutine.
int schedule_runtime_error(AppTask* t, PyObject* message) {
  if (message == nullptr) return -1;
  PyObject* exc = PyObject_CallOneArg(PyExc_RuntimeError, message);
  Py_DECREF(message);
  if (exc == nullptr) return -1;
  const int rc = schedule_step(t, exc);
  Py_DECREF(exc);
  return rc;
}

PyObject* make_cancelled_error(AppTask* t) {
  if (t->cancel_msg != nullptr && t->cancel_msg != Py_None) {
    return PyObject_CallOneArg(names().cancelled_error, t->cancel_msg);
  }
  return PyObject_CallNoArgs(names().cancelled_error);
}

/// The task has ended: out of the live list, done callbacks scheduled (as Future does).
int finish(AppTask* t, State state, PyObject* exception /* stolen, may be null */) {
  t->state = state;
  Py_XSETREF(t->exception, exception);
  Py_CLEAR(t->fut_waiter);
  unlink(t);
  PyObject* callbacks = t->callbacks;
  t->callbacks = nullptr;
  if (callbacks == nullptr) return 0;
  int rc = 0;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(callbacks); ++i) {
    PyObject* entry = PyList_GET_ITEM(callbacks, i);
    if (call_soon(t, PyTuple_GET_ITEM(entry, 0), as_object(t), PyTuple_GET_ITEM(entry, 1)) != 0) {
      rc = -1;
      break;
    }
  }
  Py_DECREF(callbacks);
  return rc;
}

int enter(AppTask* t) {
  PyObject* args[] = {t->loop, as_object(t)};
  PyObject* r = PyObject_Vectorcall(g.enter_task, args, 2, nullptr);
  if (r == nullptr) return -1;
  Py_DECREF(r);
  return 0;
}

int leave(AppTask* t) {
  PyObject* args[] = {t->loop, as_object(t)};
  PyObject* r = PyObject_Vectorcall(g.leave_task, args, 2, nullptr);
  if (r == nullptr) return -1;
  Py_DECREF(r);
  return 0;
}

/// Tells the exchange how its app ended (what lancet._app.call_app's app_exit did): `exc`
/// null when it returned. Called once, with no Python error set; one the report raises is
/// written as unraisable.
void report_exit(AppTask* t, PyObject* exc) {
  if (t->exit_fn == nullptr) return;
  PyCFunction fn = t->exit_fn;
  PyObject* self = t->exit_self;
  t->exit_fn = nullptr;
  t->exit_self = nullptr;
  PyObject* r = fn(self, exc != nullptr ? exc : Py_None);
  if (r == nullptr) PyErr_WriteUnraisable(self); else Py_DECREF(r);
  Py_DECREF(self);
}

void clear_app_call(AppTask* t) {
  Py_CLEAR(t->app);
  for (PyObject*& arg : t->app_args) Py_CLEAR(arg);
}

/// The first step of a make_app_call_task task: calls app(scope, receive, send) as the current
/// task, in its context, as the first line of call_app did. A result that is not a coroutine
/// (an awaitable object) is awaited by lancet._app.await_app. False with an error set when the
/// call raised.
bool call_app_now(AppTask* t) {
  PyObject* awaitable = PyObject_Vectorcall(t->app, t->app_args, 3, nullptr);
  clear_app_call(t);
  if (awaitable == nullptr) return false;
  if (!PyCoro_CheckExact(awaitable)) {
    if (g.await_app == nullptr) {
      PyObject* module = PyImport_ImportModule("lancet._app");
      if (module != nullptr) {
        g.await_app = PyObject_GetAttrString(module, "await_app");
        Py_DECREF(module);
      }
      if (g.await_app == nullptr) {
        Py_DECREF(awaitable);
        return false;
      }
    }
    Py_SETREF(awaitable, PyObject_CallOneArg(g.await_app, awaitable));
    if (awaitable == nullptr) return false;
  }
  t->coro = awaitable;
  return true;
}

/// What the coroutine yielded (`result`, a new reference this takes): wait on it, reschedule,
/// or throw a RuntimeError back in.
int on_yield(AppTask* t, PyObject* result) {
  if (result == Py_None) {  // a bare yield: run again at the next turn
    Py_DECREF(result);
    return schedule_step(t, nullptr);
  }
  PyObject* blocking = nullptr;
  if (lookup_attr(result, g.s_blocking, &blocking) < 0) {
    Py_DECREF(result);
    return -1;
  }
  if (blocking == nullptr) {  // not a future
    PyObject* message = PyUnicode_FromFormat("Task got bad yield: %R", result);
    Py_DECREF(result);
    return schedule_runtime_error(t, message);
  }
  const int is_blocking = PyObject_IsTrue(blocking);
  Py_DECREF(blocking);
  if (is_blocking < 0) {
    Py_DECREF(result);
    return -1;
  }
  if (is_blocking == 0) {
    PyObject* message = PyUnicode_FromFormat(
        "yield was used instead of yield from in task %R with %R", as_object(t), result);
    Py_DECREF(result);
    return schedule_runtime_error(t, message);
  }
  PyObject* loop = PyObject_CallMethodNoArgs(result, g.s_get_loop);
  if (loop == nullptr) {
    Py_DECREF(result);
    return -1;
  }
  Py_DECREF(loop);  // only compared
  if (loop != t->loop) {
    PyObject* message = PyUnicode_FromFormat(
        "Task %R got Future %R attached to a different loop", as_object(t), result);
    Py_DECREF(result);
    return schedule_runtime_error(t, message);
  }
  if (PyObject_SetAttr(result, g.s_blocking, Py_False) < 0) {
    Py_DECREF(result);
    return -1;
  }
  PyObject* wakeup = PyCFunction_New(&g_wakeup_def, as_object(t));
  if (wakeup == nullptr) {
    Py_DECREF(result);
    return -1;
  }
  PyObject* args[] = {result, wakeup, t->context};
  PyObject* r = PyObject_VectorcallMethod(g.s_add_done_callback, args, 2, g.kw_context);
  Py_DECREF(wakeup);
  if (r == nullptr) {
    Py_DECREF(result);
    return -1;
  }
  Py_DECREF(r);
  Py_XSETREF(t->fut_waiter, result);
  if (t->must_cancel) {
    // cancel() while the task was running: cancel what it now waits on instead.
    PyObject* cargs[] = {t->fut_waiter, t->cancel_msg != nullptr ? t->cancel_msg : Py_None};
    PyObject* cancelled = PyObject_VectorcallMethod(g.s_cancel, cargs, 1, g.kw_msg);
    if (cancelled == nullptr) return -1;
    const int yes = PyObject_IsTrue(cancelled);
    Py_DECREF(cancelled);
    if (yes < 0) return -1;
    if (yes) t->must_cancel = 0;
  }
  return 0;
}

/// One step: send None (or throw `exc`, borrowed) into the coroutine as the current task, in
/// its context: entered here when `enter_context` (the first step, run at once), else already
/// entered by the loop, which runs every scheduled step and wake-up with context=task.context.
/// 0, or -1 with an error set (the coroutine's own, for KeyboardInterrupt and the like, after
/// the task has ended with it).
int step(AppTask* t, PyObject* exc, bool enter_context = false) {
  if (t->state != State::pending || (t->coro == nullptr && t->app == nullptr)) {  // GC-cleared
    PyErr_SetString(names().invalid_state_error, "step(): the app task is already done");
    return -1;
  }
  PyObject* owned_exc = nullptr;
  if (t->must_cancel) {
    if (exc == nullptr || !PyErr_GivenExceptionMatches(exc, names().cancelled_error)) {
      owned_exc = make_cancelled_error(t);
      if (owned_exc == nullptr) return -1;
      exc = owned_exc;
    }
    t->must_cancel = 0;
  }
  Py_CLEAR(t->fut_waiter);
  Py_INCREF(as_object(t));  // alive through the step, whatever the app drops
  if (enter(t) != 0) {
    Py_XDECREF(owned_exc);
    Py_DECREF(as_object(t));
    return -1;
  }
  if (enter_context && PyContext_Enter(t->context) != 0) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (leave(t) != 0) PyErr_Clear();
    PyErr_Restore(type, value, tb);
    Py_XDECREF(owned_exc);
    Py_DECREF(as_object(t));
    return -1;
  }
  PyObject* result = nullptr;
  PySendResult sent;
  if (t->coro == nullptr && exc != nullptr) {
    // Cancelled before its first step: the app is never called.
    clear_app_call(t);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc)), exc);
    sent = PYGEN_ERROR;
  } else if (t->coro == nullptr && !call_app_now(t)) {
    sent = PYGEN_ERROR;
  } else if (exc == nullptr) {
    sent = PyIter_Send(t->coro, Py_None, &result);
  } else {
    result = PyObject_CallMethodOneArg(t->coro, g.s_throw, exc);
    if (result != nullptr) {
      sent = PYGEN_NEXT;
    } else if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      Py_XDECREF(type);
      Py_XDECREF(value);
      Py_XDECREF(tb);
      result = Py_NewRef(Py_None);  // the return value is not kept (result() is None)
      sent = PYGEN_RETURN;
    } else {
      sent = PYGEN_ERROR;
    }
  }
  Py_XDECREF(owned_exc);

  PyObject *etype = nullptr, *evalue = nullptr, *etb = nullptr;
  if (sent == PYGEN_ERROR) {
    PyErr_Fetch(&etype, &evalue, &etb);
    PyErr_NormalizeException(&etype, &evalue, &etb);
    if (etb != nullptr && evalue != nullptr) PyException_SetTraceback(evalue, etb);
  }
  // The app has ended: its exchange hears how while the task is still current, in its context,
  // where call_app's app_exit ran. An Exception ends there, reported, as in call_app; the
  // task ends as if the app had returned.
  if (sent != PYGEN_NEXT && t->exit_fn != nullptr) {
    report_exit(t, sent == PYGEN_ERROR ? evalue : nullptr);
    if (sent == PYGEN_ERROR && evalue != nullptr &&
        PyErr_GivenExceptionMatches(evalue, PyExc_Exception)) {
      Py_CLEAR(etype);
      Py_CLEAR(evalue);
      Py_CLEAR(etb);
      result = Py_NewRef(Py_None);
      sent = PYGEN_RETURN;
    }
  }
  // Out of the context and the current-task slot.
  int rc = 0;
  if (enter_context && PyContext_Exit(t->context) != 0) rc = -1;
  if (leave(t) != 0) rc = -1;
  if (rc != 0) {  // asyncio's bookkeeping failed: report that, not the app's outcome
    Py_XDECREF(etype);
    Py_XDECREF(evalue);
    Py_XDECREF(etb);
    Py_XDECREF(result);
    Py_DECREF(as_object(t));
    return -1;
  }

  switch (sent) {
    case PYGEN_RETURN:  // StopIteration
      Py_DECREF(result);
      if (t->must_cancel) {
        t->must_cancel = 0;
        PyObject* cancelled = make_cancelled_error(t);
        if (cancelled == nullptr) rc = -1;
        else rc = finish(t, State::cancelled, cancelled);
      } else {
        rc = finish(t, State::finished, nullptr);
      }
      break;
    case PYGEN_ERROR:
      Py_XDECREF(etype);
      Py_XDECREF(etb);
      if (evalue != nullptr && PyErr_GivenExceptionMatches(evalue, names().cancelled_error)) {
        rc = finish(t, State::cancelled, evalue);
      } else {
        // KeyboardInterrupt, SystemExit (or anything else that got past call_app): the task
        // ends with it and the step re-raises it, as Task.__step does.
        Py_XINCREF(evalue);
        if (finish(t, State::finished, evalue) != 0) PyErr_Clear();
        if (evalue != nullptr) {
          PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(evalue)), evalue);
          Py_DECREF(evalue);
        } else {
          PyErr_SetString(PyExc_SystemError, "app task step failed without an exception");
        }
        rc = -1;
      }
      break;
    case PYGEN_NEXT:
      rc = on_yield(t, result);
      break;
  }
  Py_DECREF(as_object(t));
  return rc;
}

// ---- Python-visible methods ---------------------------------------------------------------

PyObject* step_method(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs > 1) {
    PyErr_Format(PyExc_TypeError, "_step() takes at most 1 argument (%zd given)", nargs);
    return nullptr;
  }
  PyObject* exc = nargs == 1 && args[0] != Py_None ? args[0] : nullptr;
  if (step(as_task(self), exc) != 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* wakeup_method(PyObject* self, PyObject* future) {
  AppTask* t = as_task(self);
  if (t->state != State::pending) Py_RETURN_NONE;  // ended meanwhile (cannot happen in asyncio)
  PyObject* r = PyObject_CallMethodNoArgs(future, g.s_result);
  int rc;
  if (r == nullptr) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
    rc = step(t, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
  } else {
    Py_DECREF(r);
    rc = step(t, nullptr);
  }
  if (rc != 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* task_done(PyObject* self, PyObject*) {
  return PyBool_FromLong(as_task(self)->state != State::pending);
}

PyObject* task_cancelled(PyObject* self, PyObject*) {
  return PyBool_FromLong(as_task(self)->state == State::cancelled);
}

PyObject* task_result(PyObject* self, PyObject*) {
  AppTask* t = as_task(self);
  if (t->state == State::pending) {
    PyErr_SetString(names().invalid_state_error, "Result is not set.");
    return nullptr;
  }
  if (t->exception != nullptr) {
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(t->exception)), t->exception);
    return nullptr;
  }
  Py_RETURN_NONE;
}

PyObject* task_exception(PyObject* self, PyObject*) {
  AppTask* t = as_task(self);
  if (t->state == State::pending) {
    PyErr_SetString(names().invalid_state_error, "Exception is not set.");
    return nullptr;
  }
  if (t->state == State::cancelled) {
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(t->exception)), t->exception);
    return nullptr;
  }
  return Py_NewRef(t->exception != nullptr ? t->exception : Py_None);
}

PyObject* task_cancel(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"msg", nullptr};
  PyObject* msg = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:cancel", const_cast<char**>(keywords), &msg)) {
    return nullptr;
  }
  AppTask* t = as_task(self);
  if (t->state != State::pending) Py_RETURN_FALSE;
  ++t->cancels_requested;
  if (t->fut_waiter != nullptr) {
    PyObject* cargs[] = {t->fut_waiter, msg};
    PyObject* r = PyObject_VectorcallMethod(g.s_cancel, cargs, 1, g.kw_msg);
    if (r == nullptr) return nullptr;
    const int yes = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (yes < 0) return nullptr;
    if (yes) Py_RETURN_TRUE;  // the wake-up throws the CancelledError in
  }
  t->must_cancel = 1;
  Py_XSETREF(t->cancel_msg, Py_NewRef(msg));
  Py_RETURN_TRUE;
}

PyObject* task_cancelling(PyObject* self, PyObject*) {
  return PyLong_FromLong(as_task(self)->cancels_requested);
}

PyObject* task_uncancel(PyObject* self, PyObject*) {
  AppTask* t = as_task(self);
  if (t->cancels_requested > 0) --t->cancels_requested;
  return PyLong_FromLong(t->cancels_requested);
}

PyObject* task_add_done_callback(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"", "context", nullptr};
  PyObject* fn = nullptr;
  PyObject* context = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$O:add_done_callback",
                                   const_cast<char**>(keywords), &fn, &context)) {
    return nullptr;
  }
  AppTask* t = as_task(self);
  PyObject* ctx = context == Py_None ? PyContext_CopyCurrent() : Py_NewRef(context);
  if (ctx == nullptr) return nullptr;
  if (t->state != State::pending) {
    const int rc = call_soon(t, fn, self, ctx);
    Py_DECREF(ctx);
    if (rc != 0) return nullptr;
    Py_RETURN_NONE;
  }
  PyObject* entry = PyTuple_Pack(2, fn, ctx);
  Py_DECREF(ctx);
  if (entry == nullptr) return nullptr;
  if (t->callbacks == nullptr) {
    t->callbacks = PyList_New(0);
    if (t->callbacks == nullptr) {
      Py_DECREF(entry);
      return nullptr;
    }
  }
  const int rc = PyList_Append(t->callbacks, entry);
  Py_DECREF(entry);
  if (rc != 0) return nullptr;
  Py_RETURN_NONE;
}

PyObject* task_remove_done_callback(PyObject* self, PyObject* fn) {
  AppTask* t = as_task(self);
  if (t->callbacks == nullptr) return PyLong_FromLong(0);
  PyObject* kept = PyList_New(0);
  if (kept == nullptr) return nullptr;
  long removed = 0;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(t->callbacks); ++i) {
    PyObject* entry = PyList_GET_ITEM(t->callbacks, i);
    const int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(entry, 0), fn, Py_EQ);
    if (same < 0) {
      Py_DECREF(kept);
      return nullptr;
    }
    if (same) {
      ++removed;
    } else if (PyList_Append(kept, entry) != 0) {
      Py_DECREF(kept);
      return nullptr;
    }
  }
  Py_SETREF(t->callbacks, kept);
  return PyLong_FromLong(removed);
}

PyObject* or_none(PyObject* o) { return Py_NewRef(o != nullptr ? o : Py_None); }

PyObject* task_get_coro(PyObject* self, PyObject*) { return or_none(as_task(self)->coro); }
PyObject* task_get_loop(PyObject* self, PyObject*) { return Py_NewRef(as_task(self)->loop); }
PyObject* task_get_name(PyObject* self, PyObject*) { return Py_NewRef(as_task(self)->name); }
PyObject* task_get_context(PyObject* self, PyObject*) { return or_none(as_task(self)->context); }

PyObject* task_set_name(PyObject* self, PyObject* value) {
  PyObject* name = PyObject_Str(value);
  if (name == nullptr) return nullptr;
  Py_SETREF(as_task(self)->name, name);
  Py_RETURN_NONE;
}

/// As asyncio's Task.get_stack() for a suspended coroutine: its frame, or nothing.
PyObject* task_get_stack(PyObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"limit", nullptr};
  PyObject* limit = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$O:get_stack", const_cast<char**>(keywords), &limit)) {
    return nullptr;
  }
  PyObject* frames = PyList_New(0);
  if (frames == nullptr) return nullptr;
  PyObject* frame = nullptr;
  if (as_task(self)->coro != nullptr && lookup_attr(as_task(self)->coro, g.s_cr_frame, &frame) < 0) {
    Py_DECREF(frames);
    return nullptr;
  }
  if (frame != nullptr && frame != Py_None && !(PyLong_Check(limit) && PyLong_AsLong(limit) == 0)) {
    if (PyList_Append(frames, frame) != 0) Py_CLEAR(frames);
  }
  Py_XDECREF(frame);
  return frames;
}

PyObject* task_must_cancel(PyObject* self, void*) { return PyBool_FromLong(as_task(self)->must_cancel); }

PyObject* task_repr(PyObject* self) {
  AppTask* t = as_task(self);
  const char* state = t->state == State::pending ? "pending"
                      : t->state == State::cancelled ? "cancelled"
                                                     : "finished";
  return PyUnicode_FromFormat("<AppTask %s name=%R coro=%R>", state, t->name,
                              t->coro != nullptr ? t->coro : Py_None);
}

int task_traverse(PyObject* self, visitproc visit, void* arg) {
  AppTask* t = as_task(self);
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(t->coro);
  Py_VISIT(t->app);
  for (PyObject* app_arg : t->app_args) Py_VISIT(app_arg);  // not "arg": Py_VISIT uses it
  Py_VISIT(t->exit_self);
  Py_VISIT(t->loop);
  Py_VISIT(t->context);
  Py_VISIT(t->name);
  Py_VISIT(t->fut_waiter);
  Py_VISIT(t->cancel_msg);
  Py_VISIT(t->exception);
  Py_VISIT(t->callbacks);
  Py_VISIT(t->dict);
  return 0;
}

int task_clear(PyObject* self) {
  AppTask* t = as_task(self);
  Py_CLEAR(t->coro);
  clear_app_call(t);
  t->exit_fn = nullptr;
  Py_CLEAR(t->exit_self);
  Py_CLEAR(t->context);
  Py_CLEAR(t->fut_waiter);
  Py_CLEAR(t->cancel_msg);
  Py_CLEAR(t->exception);
  Py_CLEAR(t->callbacks);
  Py_CLEAR(t->dict);
  // loop and name stay: repr() and get_loop() may still be called on a cleared task
  return 0;
}

void task_dealloc(PyObject* self) {
  AppTask* t = as_task(self);
  PyTypeObject* type = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  unlink(t);
  if (t->weakreflist != nullptr) PyObject_ClearWeakRefs(self);
  task_clear(self);
  Py_CLEAR(t->loop);
  Py_CLEAR(t->name);
  type->tp_free(self);
  Py_DECREF(type);
}

PyMethodDef task_methods[] = {
    {"done", task_done, METH_NOARGS, "True once the app's coroutine has ended."},
    {"cancelled", task_cancelled, METH_NOARGS, "True if it ended by cancellation."},
    {"result", task_result, METH_NOARGS, "None; raises how it ended, or InvalidStateError."},
    {"exception", task_exception, METH_NOARGS, "The exception it ended with, or None."},
    {"cancel", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(task_cancel)),
     METH_VARARGS | METH_KEYWORDS, "Requests cancellation, as asyncio.Task.cancel(msg=None)."},
    {"cancelling", task_cancelling, METH_NOARGS, "Pending cancellation requests."},
    {"uncancel", task_uncancel, METH_NOARGS, "Takes one cancellation request back."},
    {"add_done_callback",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(task_add_done_callback)),
     METH_VARARGS | METH_KEYWORDS, "Calls fn(task) (call_soon) once it has ended."},
    {"remove_done_callback", task_remove_done_callback, METH_O, "Removes fn; returns how many."},
    {"get_coro", task_get_coro, METH_NOARGS, "The coroutine it runs."},
    {"get_loop", task_get_loop, METH_NOARGS, "The loop it runs on."},
    {"get_name", task_get_name, METH_NOARGS, "Its name."},
    {"set_name", task_set_name, METH_O, "Renames it."},
    {"get_context", task_get_context, METH_NOARGS, "The contextvars.Context it runs in."},
    {"get_stack", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(task_get_stack)),
     METH_VARARGS | METH_KEYWORDS, "The suspended coroutine's frame, as a list."},
    {nullptr, nullptr, 0, nullptr},
};

PyMemberDef task_members[] = {
    {"_fut_waiter", T_OBJECT, offsetof(AppTask, fut_waiter), READONLY,
     "The future it waits on, or None."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(AppTask, weakreflist), READONLY, nullptr},
    {"__dictoffset__", T_PYSSIZET, offsetof(AppTask, dict), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr},
};

PyGetSetDef task_getset[] = {
    {"_must_cancel", task_must_cancel, nullptr, "A cancellation waits for the next step.", nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyType_Slot task_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(task_dealloc)},
    {Py_tp_traverse, reinterpret_cast<void*>(task_traverse)},
    {Py_tp_clear, reinterpret_cast<void*>(task_clear)},
    {Py_tp_repr, reinterpret_cast<void*>(task_repr)},
    {Py_tp_methods, task_methods},
    {Py_tp_members, task_members},
    {Py_tp_getset, task_getset},
    {Py_tp_doc, const_cast<char*>("The task running one exchange's app (see --task-impl).")},
    {0, nullptr},
};

PyType_Spec task_spec = {
    "lancet._lancet.AppTask",
    sizeof(AppTask),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    task_slots,
};

PyObject* intern(const char* s) { return PyUnicode_InternFromString(s); }

}  // namespace

bool init_app_task_type() {
  if (g.type != nullptr) return true;
  PyObject* tasks = PyImport_ImportModule("asyncio.tasks");
  if (tasks == nullptr) return false;
  g.enter_task = PyObject_GetAttrString(tasks, "_enter_task");
  g.leave_task = PyObject_GetAttrString(tasks, "_leave_task");
  g.current_task = PyObject_GetAttrString(tasks, "current_task");
  Py_DECREF(tasks);
  if (g.enter_task == nullptr || g.leave_task == nullptr || g.current_task == nullptr) return false;
  g.s_blocking = intern("_asyncio_future_blocking");
  g.s_add_done_callback = intern("add_done_callback");
  g.s_get_loop = intern("get_loop");
  g.s_cancel = intern("cancel");
  g.s_result = intern("result");
  g.s_throw = intern("throw");
  g.s_call_soon = intern("call_soon");
  g.s_cr_frame = intern("cr_frame");
  g.kw_context = Py_BuildValue("(s)", "context");
  g.kw_msg = Py_BuildValue("(s)", "msg");
  if (g.s_blocking == nullptr || g.s_add_done_callback == nullptr || g.s_get_loop == nullptr ||
      g.s_cancel == nullptr || g.s_result == nullptr || g.s_throw == nullptr ||
      g.s_call_soon == nullptr || g.s_cr_frame == nullptr || g.kw_context == nullptr ||
      g.kw_msg == nullptr) {
    return false;
  }
  g.type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&task_spec));
  return g.type != nullptr;
}

PyObject* app_task_type() { return reinterpret_cast<PyObject*>(g.type); }

namespace {

AppTask* new_task(PyObject* loop, PyObject* name) {
  PyObject* context = PyContext_CopyCurrent();
  if (context == nullptr) return nullptr;
  AppTask* t = PyObject_GC_New(AppTask, g.type);
  if (t == nullptr) {
    Py_DECREF(context);
    return nullptr;
  }
  t->coro = nullptr;
  t->app = nullptr;
  t->app_args[0] = t->app_args[1] = t->app_args[2] = nullptr;
  t->exit_fn = nullptr;
  t->exit_self = nullptr;
  t->loop = Py_NewRef(loop);
  t->context = context;
  t->name = Py_NewRef(name);
  t->fut_waiter = nullptr;
  t->cancel_msg = nullptr;
  t->exception = nullptr;
  t->callbacks = nullptr;
  t->weakreflist = nullptr;
  t->dict = nullptr;
  t->must_cancel = 0;
  t->cancels_requested = 0;
  t->state = State::pending;
  return t;
}

PyObject* publish(AppTask* t) {
  link(t);
  PyObject_GC_Track(as_object(t));
  return as_object(t);
}

}  // namespace

PyObject* make_app_task(PyObject* coro, PyObject* loop, PyObject* name) {
  AppTask* t = new_task(loop, name);
  if (t == nullptr) return nullptr;
  t->coro = Py_NewRef(coro);
  return publish(t);
}

PyObject* make_app_call_task(PyObject* app, PyObject* scope, PyObject* receive, PyObject* send,
                             PyObject* loop, PyObject* name, PyCFunction exit_fn,
                             PyObject* exit_self) {
  AppTask* t = new_task(loop, name);
  if (t == nullptr) return nullptr;
  t->app = Py_NewRef(app);
  t->app_args[0] = Py_NewRef(scope);
  t->app_args[1] = Py_NewRef(receive);
  t->app_args[2] = Py_NewRef(send);
  t->exit_fn = exit_fn;
  t->exit_self = Py_NewRef(exit_self);
  return publish(t);
}

int start_app_task(PyObject* task) { return step(as_task(task), nullptr, true); }

int schedule_app_task(PyObject* task) { return schedule_step(as_task(task), nullptr); }

int task_running(PyObject* loop) {
  PyObject* current = PyObject_CallOneArg(g.current_task, loop);
  if (current == nullptr) return -1;
  const int running = current != Py_None;
  Py_DECREF(current);
  return running;
}

PyObject* live_app_tasks() {
  PyObject* list = PyList_New(0);
  if (list == nullptr) return nullptr;
  for (AppTask* t = g.live_head; t != nullptr; t = t->next) {
    if (PyList_Append(list, as_object(t)) != 0) {
      Py_DECREF(list);
      return nullptr;
    }
  }
  return list;
}

}  // namespace lancet::bridge
