// See module.hpp.
#include "bridge/module.hpp"

#include <string>

#include "bridge/app_task.hpp"
#include "bridge/app_callable.hpp"
#include "bridge/awaitable.hpp"
#include "bridge/bridge.hpp"
#include "bridge/capi.hpp"
#include "bridge/convert.hpp"
#include "bridge/names.hpp"
#include "bridge/websocket.hpp"
#include "protocol/lifespan/cycle.hpp"

#ifndef LANCET_VERSION
#define LANCET_VERSION "0.0.0"
#endif
#ifndef LANCET_BACKEND_NAME
#define LANCET_BACKEND_NAME "unknown"
#endif

namespace py = pybind11;

namespace lancet::bridge {
namespace {

/// create_app_call_task's exit_fn: the exit callable given from Python, called with the outcome.
PyObject* call_exit(PyObject* exit, PyObject* outcome) { return PyObject_CallOneArg(exit, outcome); }

/// Starts `task` now when `eager` (refused while a task runs on `loop`), else at the next turn.
void start_or_schedule(py::handle task, py::handle loop, bool eager) {
  if (eager) {
    const int running = task_running(loop.ptr());
    if (running < 0) throw py::error_already_set();
    if (running) throw py::value_error("eager=True: a task is running on this loop");
  }
  if ((eager ? start_app_task(task.ptr()) : schedule_app_task(task.ptr())) != 0) {
    throw py::error_already_set();
  }
}

py::tuple step_tuple(const lifespan::Step& step) {
  return py::make_tuple(std::string(lifespan::to_string(step.action)),
                        std::string(lifespan::to_string(step.reason)), step.message,
                        std::string(lifespan::describe(step.reason)));
}

void define_lifespan(py::module_& m) {
  py::class_<lifespan::LifespanCycle>(m, "LifespanCycle",
                                      "protocol/lifespan's cycle; steps are (action, reason, "
                                      "message, description) tuples")
      .def(py::init([](const std::string& mode) {
             auto parsed = lifespan::parse_mode(mode);
             if (!parsed) {
               throw py::value_error("invalid value for --lifespan: expected auto | on | off, got '" +
                                     mode + "'");
             }
             return lifespan::LifespanCycle(*parsed);
           }),
           py::arg("mode"))
      .def("initial_step", [](const lifespan::LifespanCycle& c) { return step_tuple(c.initial_step()); })
      .def("next_receive",
           [](lifespan::LifespanCycle& c) -> py::object {
             lifespan::Receive r = c.next_receive();
             if (r == lifespan::Receive::pending) return py::none();
             py::dict d;
             d["type"] = py::str(std::string(lifespan::type_name(r)));
             return d;
           })
      .def("on_app_send",
           [](lifespan::LifespanCycle& c, py::handle message) {
             lifespan::SendEvent event = to_lifespan_event(message.ptr());
             Result<lifespan::Step> step = c.on_app_send(event);
             if (!step) {
               PyErr_SetString(PyExc_RuntimeError, step.error().detail);
               throw py::error_already_set();
             }
             return step_tuple(*step);
           })
      .def("on_app_exit",
           [](lifespan::LifespanCycle& c, bool raised) { return step_tuple(c.on_app_exit(raised)); })
      .def("begin_shutdown", [](lifespan::LifespanCycle& c) { return step_tuple(c.begin_shutdown()); })
      .def_property_readonly("state", [](const lifespan::LifespanCycle& c) {
        return std::string(lifespan::to_string(c.state()));
      });
}

}  // namespace

void define_module(py::module_& m) {
  if (!init_names() || !init_ready_type() || !init_app_task_type() || !init_app_callable_type()) {
    throw py::error_already_set();
  }
  m.attr("AppTask") = py::reinterpret_borrow<py::object>(app_task_type());
  m.def("live_app_tasks", [] { return capi::steal(live_app_tasks()); },
        "The app tasks (AppTask) not done yet, oldest first: what shutdown cancels.");
  m.def(
      "create_app_task",
      [](py::handle coro, py::handle loop, py::str name, bool eager) {
        py::object task = capi::steal(make_app_task(coro.ptr(), loop.ptr(), name.ptr()));
        start_or_schedule(task, loop, eager);
        return task;
      },
      py::arg("coro"), py::arg("loop"), py::arg("name") = "lancet.app", py::arg("eager") = false,
      "Runs `coro` in an AppTask on `loop`: its first step now when `eager` (no task may be "
      "running), else at the loop's next turn. For tests and embedding.");
  m.def(
      "create_app_call_task",
      [](py::handle app, py::handle scope, py::handle receive, py::handle send, py::handle exit,
         py::handle loop, py::str name, bool eager) {
        py::object task = capi::steal(make_app_call_task(app.ptr(), scope.ptr(), receive.ptr(),
                                                            send.ptr(), loop.ptr(), name.ptr(),
                                                            call_exit, exit.ptr()));
        start_or_schedule(task, loop, eager);
        return task;
      },
      py::arg("app"), py::arg("scope"), py::arg("receive"), py::arg("send"), py::arg("exit"),
      py::arg("loop"), py::arg("name") = "lancet.app", py::arg("eager") = false,
      "Runs app(scope, receive, send) in an AppTask on `loop` as the server does, calling "
      "exit(None) when the app returns and exit(exc) when it raises. For tests.");
  m.def("ready", [](py::handle value) { return capi::steal(make_ready(value.ptr())); },
        py::arg("value"),
        "An awaitable already complete with `value`, as receive() returns when an event is "
        "waiting. For tests.");
  m.doc() = "Lancet's native bridge: the server, the ASGI receive/send, the lifespan cycle.";
  m.def("backend_name", [] { return std::string(LANCET_BACKEND_NAME); },
        "The I/O backend compiled in (blocking, io_uring, libevent).");
  m.def("version", [] { return std::string(LANCET_VERSION); }, "Lancet's version.");
  m.attr("ClientDisconnected") = py::reinterpret_borrow<py::object>(names().client_disconnected);
  m.attr("SEND_HIGH_WATER") = backend::kSendHighWater;

  if (!capi::Handle<Exchange>::init("lancet._lancet.Exchange") ||
      !capi::Handle<WebSocketExchange>::init("lancet._lancet.WebSocketExchange")) {
    throw py::error_already_set();
  }

  py::class_<Bridge>(m, "Server", "The native server and the app side of its port.")
      .def(py::init<const py::dict&, py::object, py::object, py::object, bool>(),
           py::arg("config"), py::arg("app"), py::arg("loop"), py::arg("state") = py::none(),
           py::arg("access_log") = true)
      .def("start", [](py::object self) { return self.cast<Bridge&>().start(self); },
           "Binds and starts serving. None on success, else (errno, message).")
      .def("fileno", &Bridge::fileno)
      .def("on_wakeup", &Bridge::on_wakeup)
      .def("bound_address", &Bridge::bound_address)
      .def("set_ready", &Bridge::set_ready, py::arg("ready"))
      .def("shutdown", &Bridge::shutdown, py::arg("timeout"))
      .def("join", &Bridge::join)
      .def("active_exchanges", &Bridge::active_exchanges)
      .def("live_exchanges", &Bridge::live_exchanges)
      .def("backend_name", &Bridge::backend_name)
      .def("io_on_loop_thread", &Bridge::caller_driven,
           "True when the backend's I/O runs on the event loop's thread (io_uring without "
           "--io-thread).");

  define_lifespan(m);
}

PyObject* init_embedded_module() {
  static py::module_::module_def def;
  try {
    py::module_ m = py::module_::create_extension_module("lancet._lancet", nullptr, &def);
    define_module(m);
    return m.release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
    return nullptr;
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_ImportError, e.what());
    return nullptr;
  }
}

}  // namespace lancet::bridge
