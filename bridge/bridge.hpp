// The bridge: the asyncio side of the port. One Bridge per worker process (exposed to Python as
// lancet._lancet.Server), one Exchange per HTTP request (its bound receive/send are what the
// app gets).
//
// Layer: bridge/. Threads: backend threads only touch the Mailbox (no GIL). Everything else
// runs on the Python loop thread with the GIL held: the eventfd wakes the loop (add_reader),
// on_wakeup() drains the whole queue in one GIL hold, builds scopes, starts app tasks and
// resolves waiting futures. ServerPort calls (submit, body_consumed) only queue and wake the
// backend, so they are made with the GIL held; make_server() and join() release it.
//
// Running the app: one AppTask per request (bridge/app_task.hpp: asyncio.current_task() is
// right, so anyio cancel scopes and Starlette work), whose first step runs once the whole batch
// has been dispatched: it calls app(scope, receive, send) and calls the exchange's app_exit when
// the app returns or raises, which applies HttpCycle::on_app_exit. With --task-impl asyncio,
// lancet._app.call_app(app, scope, receive, send, app_exit) does that inside an
// asyncio.Task(coro, loop=loop), or inside loop.create_task when a task factory is set. Either
// way there is no done callback, which would cost a loop.call_soon per request.
// receive/send/app_exit are C functions bound to the Exchange object (no pybind11 dispatch on
// the hot path).
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/server.hpp"
#include "bridge/convert.hpp"
#include "bridge/mailbox.hpp"
#include "protocol/asgi/http_cycle.hpp"

namespace lancet::bridge {

namespace py = pybind11;
class Bridge;
class WebSocketExchanges;  // bridge/websocket.hpp

/// The C functions an exchange type gives its app (capi::AppCalls<T>), bound per exchange.
struct AppEntryPoints {
  PyMethodDef* receive;
  PyMethodDef* send;
  PyMethodDef* app_exit;
};

/// One HTTP exchange on the app side: the HttpCycle, the waiting futures, flow control.
class Exchange {
 public:
  Exchange(Bridge& bridge, backend::RequestStarted& started);
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  // One Exchange is made and freed per request, always with the GIL held: their memory goes
  // back to a short free list (at most kFreeExchanges blocks) rather than to malloc, whose
  // bins are slow for a block this size (about 2 KiB, past glibc's per-thread cache).
  static void* operator new(std::size_t size);
  static void operator delete(void* block, std::size_t size) noexcept;
  static constexpr std::size_t kFreeExchanges = 256;

  /// The app's receive(): an awaitable for the next http.request / http.disconnect.
  py::object receive();
  /// The app's send(message): validates, submits, returns an awaitable (waits above the
  /// outbound high-water mark). Raises RuntimeError / ClientDisconnected.
  py::object send(py::handle message);
  /// The app ended (app_exit, capi::AppCalls), raising `exc` (null: it returned, or was
  /// cancelled when `raised`): ends the cycle (500 / abort), logs, forgets the exchange.
  void finish(bool raised, PyObject* exc);
  /// The app's task could not be started (building the scope or creating the task raised).
  void on_app_failed(py::handle exc);

  // From the mailbox (loop thread).
  void on_body(backend::BodyReceived& body);
  void on_client_gone();
  void on_drained();

  backend::ExchangeId id() const noexcept { return id_; }

 private:
  /// `body`: the message's 'body' object, if any: a large immutable bytes body is lent to a
  /// caller-driven backend instead of copied.
  void submit(const asgi::Actions& actions, PyObject* body = nullptr);
  void after_progress();
  PyObject* receive_event(asgi::ReceiveParts&& event);  // new reference

  Bridge* bridge_;
  py::object bridge_ref_;  // keeps the Bridge alive while the app holds send/receive
  backend::ExchangeId id_;
  std::shared_ptr<backend::ExchangeFlow> flow_;
  asgi::HttpCycle cycle_;
  bool expects_continue_;
  bool consumed_reported_ = false;
  bool logged_ = false;
  bool finished_ = false;
  std::uint16_t status_ = 0;
  py::object receive_waiter_;
  py::object drain_waiter_;
  // access log (filled only when it is on)
  std::string client_;
  std::string method_;
  std::string target_;
  std::string http_version_;
};

/// lancet._lancet.Server: the native server plus the app side of the port.
class Bridge {
 public:
  Bridge(const py::dict& native_config, py::object app, py::object loop, py::object state,
         bool access_log);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  /// Binds and starts the backend. None on success, else (errno, message).
  py::object start(py::handle self);
  /// What the loop watches: the caller-driven server's poll_fd(), else the mailbox's eventfd.
  int fileno() const noexcept { return caller_driven_ ? server_->poll_fd() : mailbox_.fd(); }
  /// The loop's reader callback: pumps a caller-driven server, then drains the mailbox in one
  /// GIL hold.
  void on_wakeup();
  /// Scheduled (call_soon) when a caller-driven server has queued work: one on_wakeup() after
  /// the callbacks already queued (the app steps that submitted, or that the batch woke).
  void flush();
  /// Scheduled (call_soon) by on_wakeup after the batch's tasks: wakes the backend once for
  /// everything they submitted.
  void release_wakeups();

  std::string bound_address() const;
  void set_ready(bool ready);
  void shutdown(double timeout_seconds);
  /// Waits for the backend threads (GIL released).
  void join();
  std::size_t active_exchanges() const;
  /// App tasks still running: HTTP and WebSocket exchanges.
  std::size_t live_exchanges() const noexcept;
  std::string backend_name() const;

  // For Exchange.
  backend::ServerPort& port() noexcept { return *server_; }
  /// After submit() / body_consumed(): a caller-driven server writes at the next flush().
  void port_used() {
    if (caller_driven_) schedule_flush();
  }
  bool caller_driven() const noexcept { return caller_driven_; }
  /// What the app's send() returns, for HTTP and WebSocket alike: a ready awaitable, or (more
  /// than kSendHighWater of the exchange's output unwritten while it is not done) the drain
  /// future in `drain_waiter`, created if needed. A caller-driven server first tries to write,
  /// as a transport write would: the socket usually takes it all. Only a send() that waits asks
  /// the backend for a Drained (ExchangeFlow::drain_wanted).
  py::object send_result(backend::ExchangeFlow* flow, bool done, py::object& drain_waiter);
  py::object create_future() const;
  py::object self_ref() const { return py::reinterpret_borrow<py::object>(self_); }
  SendScratch& scratch() noexcept { return scratch_; }
  std::vector<backend::Outbound>& ops_scratch() noexcept { return ops_scratch_; }
  bool access_log() const noexcept { return access_log_; }
  void log_access(const Exchange& ex, const std::string& client, const std::string& method,
                  const std::string& target, const std::string& version, std::uint16_t status);
  void log_error(const char* text, PyObject* exc);
  py::object forget(backend::ExchangeId id);

 private:
  friend class WebSocketExchanges;  // shares the task setup, scope building and loggers
  void on_request(backend::RequestStarted& started);
  void dispatch_batch();  // batch_ to the exchanges (loop thread, GIL held)
  /// The first steps of the AppTasks the batch made, in order (scheduled instead when a task
  /// is running, as in _serve's last on_wakeup()). A KeyboardInterrupt or SystemExit one of
  /// them raised is returned, to raise once the batch's work is scheduled.
  py::object start_tasks();
  PyObject* build_scope(const asgi::HttpScope& scope);  // new reference
  /// Starts the app's task, named `task_name`, for the exchange in `handle` (see the file
  /// comment), with `calls` bound to it. Raises py::error_already_set when it cannot.
  void start_app(py::handle handle, py::handle scope, const AppEntryPoints& calls,
                 py::handle task_name);
  /// The scope's method: a str cached per standard method (RFC 9110 §9), else a new one.
  PyObject* method_object(const std::string& method);  // new reference
  void schedule_flush();
  /// loop.call_soon(fn, context=<the server's context>): the bridge's own callbacks (flush,
  /// release_wakeups) are often scheduled from inside an app's send(); in that task's context
  /// they would hand it to every request they dispatch, as each new task copies the context
  /// it is made in.
  void call_soon_in_server_context(py::handle fn);
  Exchange* find(backend::ExchangeId id);

  backend::ServerConfig config_;
  Mailbox mailbox_;
  std::unique_ptr<backend::Server> server_;
  bool joined_ = false;

  py::handle self_;
  py::object app_;
  py::object call_app_;       // lancet._app.call_app
  std::vector<backend::Outbound> ops_scratch_;  // Exchange::submit's, reused
  py::object loop_;
  py::object create_future_;  // loop.create_future, bound once
  py::object create_task_;    // loop.create_task, bound once
  py::object call_soon_;       // loop.call_soon, bound once
  py::object context_;        // the context the Server was made in (_serve's): see above
  py::object context_kwnames_;  // ("context",)
  bool release_scheduled_ = false;
  bool caller_driven_ = false;   // the server runs on this thread (ServerConfig::io_thread off)
  bool flush_scheduled_ = false;
  py::object task_type_;      // asyncio.Task when the loop has no task factory, else unset
  bool native_tasks_ = false;  // AppTasks (--task-impl native and no task factory)
  std::vector<py::object> starting_;  // AppTasks made by the batch, not stepped yet
  py::object task_kwnames_;   // ("loop", "name")
  py::object task_name_;      // one shared name: no per-task name formatting
  py::object state_;          // lifespan state (None: lifespan did not run)
  bool access_log_;
  py::object error_logger_;
  py::object access_info_;    // logging.getLogger("lancet.access").info
  // The prebuilt scope dict. Its method is "GET", its query_string b"" and its server the
  // listener's address once seen: a request with those values sets nothing for them.
  py::object template_;
  py::object extensions_;     // shared scope["extensions"]
  std::optional<asgi::Address> server_address_;  // what template_'s server says (none: None)
  std::vector<std::pair<std::string, py::object>> methods_;  // standard methods' str
  // The last request's path and raw_path, and their objects (immutable: shared by scopes).
  std::string last_path_;
  std::string last_raw_path_;
  py::object last_path_object_;
  py::object last_raw_path_object_;

  struct Entry {
    Exchange* exchange;
    py::object object;
  };
  std::unordered_map<backend::ExchangeId, Entry> exchanges_;
  std::vector<backend::Inbound> batch_;
  SendScratch scratch_;
  std::unique_ptr<WebSocketExchanges> websockets_;  // 'websocket' scopes (bridge/websocket.cpp)
};

}  // namespace lancet::bridge
