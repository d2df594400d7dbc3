// The app's task: what runs one exchange's app on the loop, in place of an asyncio.Task around
// lancet._app.call_app (--task-impl native, the default). It calls app(scope, receive, send)
// itself and tells the exchange how the app ended (make_app_call_task).
//
// Why: on Python 3.11 an asyncio.Task costs about 6,000 instructions a request before the app
// runs a line: its constructor calls loop.get_debug(), adds the task to asyncio's WeakSet of
// all tasks (a Python-level call that makes a weakref with a Python callback, which runs again
// when the task dies) and schedules its first step with loop.call_soon. Lancet's hello costs
// about 35,000 in all. An AppTask is a small native object: its first step runs at the end of
// the loop callback that dispatched the request (the batch's events are all delivered first,
// so a body that came with the head is already there for receive()), and it is in no registry
// but Lancet's own list of live tasks.
//
// What stays as with asyncio.Task (its 3.11 __step/__wakeup, followed line by line):
// - asyncio.current_task() is the AppTask while the app runs (asyncio._enter_task and
//   _leave_task around each step), so anyio cancel scopes, asyncio.timeout() and TaskGroup work;
// - each step runs in the task's own contextvars.Context, copied when the task is made;
// - the task waits on the futures the app awaits (add_done_callback), a bare `yield` reschedules
//   it, and a foreign-loop future, a bad yield or awaiting the task itself raise RuntimeError
//   inside the app, as they would in a Task;
// - cancel(msg), cancelling(), uncancel(), done(), cancelled(), result(), exception(),
//   add_done_callback(), remove_done_callback(), get_coro(), get_loop(), get_name(),
//   set_name(), get_context(), get_stack(), and the _must_cancel / _fut_waiter attributes that
//   anyio reads; it is weak-referenceable, hashable by identity, and takes attributes of
//   others' (asgiref's Local, which Django uses, keeps its storage on the current task).
// What differs: it is not an asyncio.Future (so not awaitable and not accepted by gather() or
// wait()), and asyncio.all_tasks() does not list it: Lancet cancels live app tasks at shutdown
// through live_app_tasks(). --task-impl asyncio (or a task factory on the loop) runs each app in
// a real asyncio.Task instead.
//
// A step that ends in an exception other than CancelledError re-raises it to the step's caller,
// as Task.__step does for KeyboardInterrupt and SystemExit. For an app (make_app_call_task)
// only those get that far: an Exception is reported to the exchange and ends the task quietly.
//
// Layer: bridge/. Loop thread only, GIL held.
#pragma once

#include <Python.h>

namespace lancet::bridge {

/// Creates the type and looks up asyncio's hooks once (module init, GIL held). False with a
/// Python error set on failure.
bool init_app_task_type();

/// The type (borrowed), to publish as lancet._lancet.AppTask.
PyObject* app_task_type();

/// A new AppTask (new reference, null with an error set) that will run `coro` on `loop`; its
/// name is `name` (a str). Nothing runs until start_app_task() or schedule_app_task().
PyObject* make_app_task(PyObject* coro, PyObject* loop, PyObject* name);

/// A new AppTask whose first step calls app(scope, receive, send) and runs what it returns
/// (a coroutine; another awaitable through lancet._app.await_app). When the app has ended,
/// `exit_fn(exit_self, None)` if it returned, `exit_fn(exit_self, exc)` if it raised: the
/// METH_O app_exit of lancet._app.call_app, called directly, with the task current and in its
/// context, as call_app did. An Exception ends there (reported); the task ends as if the app
/// had returned. Cancelled before its first step, the app is never called and exit_fn hears
/// of the CancelledError. All arguments borrowed; a new reference, or null with an error set.
PyObject* make_app_call_task(PyObject* app, PyObject* scope, PyObject* receive, PyObject* send,
                             PyObject* loop, PyObject* name, PyCFunction exit_fn,
                             PyObject* exit_self);

/// Runs the task's first step now. Call it only when no task is running on the loop (see
/// task_running()). 0, or -1 with the step's exception set.
int start_app_task(PyObject* task);

/// Schedules the task's first step with loop.call_soon. 0, or -1 with an error set.
int schedule_app_task(PyObject* task);

/// 1 when a task (of any kind) is running on `loop` now, 0 when none, -1 with an error set.
int task_running(PyObject* loop);

/// A new list of the AppTasks not done yet, oldest first.
PyObject* live_app_tasks();

}  // namespace lancet::bridge
