// See bridge.hpp.
#include "bridge/bridge.hpp"

#include <cstring>
#include <type_traits>
#include <variant>

#include "bridge/app_callable.hpp"
#include "bridge/app_task.hpp"
#include "bridge/awaitable.hpp"
#include "bridge/capi.hpp"
#include "bridge/names.hpp"
#include "bridge/websocket.hpp"

namespace lancet::bridge {
namespace {

using capi::call1;
using capi::guarded;
using capi::owned;
using capi::raise_cycle_error;
using capi::resolve;
using capi::set_borrowed;
using capi::set_item;
using capi::steal;

/// Lends a bytes object to the backend: released (with the GIL, which a caller-driven backend
/// already holds when it writes) once its bytes are written or dropped.
struct ReleaseBytes {
  void operator()(const void* p) const noexcept {
    const PyGILState_STATE gil = PyGILState_Ensure();
    Py_DECREF(static_cast<PyObject*>(const_cast<void*>(p)));
    PyGILState_Release(gil);
  }
};

/// backend::AppPort::body_block() for a server this thread drives: an uninitialised bytes
/// object of `n` bytes, which the backend fills and the app then gets as the request's body.
/// Takes the GIL (join() pumps without it); an empty block when Python cannot allocate.
backend::BodyBlock make_body_block(std::size_t n) noexcept {
  backend::BodyBlock block;
  const PyGILState_STATE gil = PyGILState_Ensure();
  PyObject* bytes = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
  if (bytes == nullptr) {
    PyErr_Clear();
  } else {
    try {
      block.owner = std::shared_ptr<const void>(bytes, ReleaseBytes{});  // releases on throw
      block.data = PyBytes_AS_STRING(bytes);
      block.size = n;
    } catch (...) {
      block = {};
    }
  }
  PyGILState_Release(gil);
  return block;
}

/// Below this a copy costs less than the shared hold (allocation, GIL check on release).
constexpr std::size_t kLendMinBytes = 4096;

using Calls = capi::AppCalls<Exchange>;
PyMethodDef g_receive_def = {"receive", Calls::receive, METH_NOARGS,
                             "The next http.request / http.disconnect event (awaitable)."};
PyMethodDef g_send_def = {"send", Calls::send, METH_O, "Sends an ASGI event (awaitable)."};
PyMethodDef g_app_exit_def = {"app_exit", Calls::app_exit, METH_O,
                               "How the app ended: None, or what it raised."};
AppEntryPoints g_calls{&g_receive_def, &g_send_def, &g_app_exit_def};

PyObject* c_release(PyObject* self, PyObject* /*unused*/) {
  return guarded([&] {
    capi::instance_value<Bridge>(self).release_wakeups();
    Py_RETURN_NONE;
  });
}
PyMethodDef g_release_def = {"release_wakeups", c_release, METH_NOARGS,
                             "Wakes the backend once for the batch's responses."};

PyObject* c_flush(PyObject* self, PyObject* /*unused*/) {
  return guarded([&] {
    capi::instance_value<Bridge>(self).flush();
    Py_RETURN_NONE;
  });
}
PyMethodDef g_flush_def = {"flush", c_flush, METH_NOARGS,
                           "Runs the caller-driven server once for what the app queued."};

}  // namespace

// ---- Exchange ----------------------------------------------------------------------------------

Exchange::Exchange(Bridge& bridge, backend::RequestStarted& started)
    : bridge_(&bridge),
      bridge_ref_(bridge.self_ref()),
      id_(started.id),
      flow_(std::move(started.flow)),
      cycle_(asgi::CycleOptions{started.scope.method == "HEAD", true}),
      expects_continue_(started.expects_continue) {
  if (bridge.access_log()) {
    const asgi::HttpScope& s = started.scope;
    if (s.client) client_ = s.client->host + ":" + std::to_string(s.client->port);
    method_ = s.method;
    target_ = s.root_path + s.raw_path;
    if (!s.query_string.empty()) target_ += "?" + s.query_string;
    http_version_ = s.http_version;
  }
}

PyObject* Exchange::receive_event(asgi::ReceiveParts&& event) {
  const Names& n = names();
  PyObject* d = PyDict_New();
  if (d == nullptr) throw py::error_already_set();
  py::object guard = py::reinterpret_steal<py::object>(d);
  if (auto* req = std::get_if<asgi::RequestParts>(&event)) {
    if (PyDict_SetItem(d, n.type, n.http_request) != 0) throw py::error_already_set();
    PyObject* body = nullptr;
    if (req->held) {
      // A block from make_body_block(): the bytes object itself, filled by the backend.
      body = static_cast<PyObject*>(const_cast<void*>(req->held.get()));
      Py_INCREF(body);
    } else {
      // The pieces are copied once, straight into the bytes object the app gets.
      body = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(req->bytes));
      if (body == nullptr) throw py::error_already_set();
      char* out = PyBytes_AS_STRING(body);
      for (const std::string& piece : req->pieces) {
        std::memcpy(out, piece.data(), piece.size());
        out += piece.size();
      }
    }
    set_item(d, n.body, body);
    if (PyDict_SetItem(d, n.more_body, req->more_body ? Py_True : Py_False) != 0) {
      throw py::error_already_set();
    }
    if (req->bytes != 0 || (expects_continue_ && !consumed_reported_)) {
      consumed_reported_ = true;
      bridge_->port().body_consumed(id_, req->bytes);
      bridge_->port_used();
    }
  } else {
    if (PyDict_SetItem(d, n.type, n.http_disconnect) != 0) throw py::error_already_set();
  }
  return guard.release().ptr();
}

py::object Exchange::receive() {
  std::optional<asgi::ReceiveParts> event = cycle_.next_receive_parts();
  if (event) {
    py::object value = steal(receive_event(std::move(*event)));
    return steal(make_ready(value.ptr()));
  }
  if (capi::still_waiting(receive_waiter_)) {
    PyErr_SetString(PyExc_RuntimeError, "receive() called while another receive() is waiting");
    throw py::error_already_set();
  }
  if (expects_continue_ && !consumed_reported_) {
    consumed_reported_ = true;  // the backend answers 100 Continue now
    bridge_->port().body_consumed(id_, 0);
    bridge_->port_used();
  }
  receive_waiter_ = bridge_->create_future();
  return receive_waiter_;
}

void Exchange::after_progress() {
  // Give a waiting receive() what is now available (body, or disconnect once done/gone).
  if (capi::still_waiting(receive_waiter_)) {
    std::optional<asgi::ReceiveParts> event = cycle_.next_receive_parts();
    if (event) {
      py::object value = steal(receive_event(std::move(*event)));
      resolve(receive_waiter_, value.ptr());
    }
  }
  if (cycle_.is_done() && !logged_) {
    logged_ = true;
    if (bridge_->access_log() && status_ != 0) {
      bridge_->log_access(*this, client_, method_, target_, http_version_, status_);
    }
  }
}

namespace {
// Exchange's free list (see Exchange::operator new): used with the GIL held only. Off under
// AddressSanitizer, which could not see a use after free through it.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycleExchanges = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRecycleExchanges = false;
#else
constexpr bool kRecycleExchanges = true;
#endif
#else
constexpr bool kRecycleExchanges = true;
#endif
struct FreeBlock {
  FreeBlock* next;
};
FreeBlock* g_free_exchanges = nullptr;
std::size_t g_free_exchange_count = 0;
}  // namespace

void* Exchange::operator new(std::size_t size) {
  if (size == sizeof(Exchange) && g_free_exchanges != nullptr) {
    FreeBlock* block = g_free_exchanges;
    g_free_exchanges = block->next;
    --g_free_exchange_count;
    return block;
  }
  return ::operator new(size);
}

void Exchange::operator delete(void* block, std::size_t size) noexcept {
  if (kRecycleExchanges && size == sizeof(Exchange) && g_free_exchange_count < kFreeExchanges) {
    auto* free = static_cast<FreeBlock*>(block);
    free->next = g_free_exchanges;
    g_free_exchanges = free;
    ++g_free_exchange_count;
    return;
  }
  ::operator delete(block, size);
}

void Exchange::submit(const asgi::Actions& actions, PyObject* body) {
  if (actions.empty()) return;
  // The bridge's vector, reused: the io_uring backend on this thread moves the ops out and
  // leaves it its capacity (the other ports take the vector itself).
  std::vector<backend::Outbound>& ops = bridge_->ops_scratch();
  ops.clear();
  ops.reserve(actions.size());
  std::size_t data_bytes = 0;
  for (const asgi::Action& action : actions) {
    std::visit(
        [&](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, asgi::SendHead>) {
            status_ = a.status;
            ops.emplace_back(backend::SendHead{a.status, owned(a.headers)});
          } else if constexpr (std::is_same_v<A, asgi::SendData>) {
            data_bytes += a.bytes.size();
            if (body != nullptr && bridge_->caller_driven() && a.bytes.size() >= kLendMinBytes &&
                PyBytes_CheckExact(body) && PyBytes_AS_STRING(body) == a.bytes.data()) {
              backend::SendData lent;
              lent.view = a.bytes;
              Py_INCREF(body);
              lent.hold = std::shared_ptr<const void>(body, ReleaseBytes{});
              ops.emplace_back(std::move(lent));
            } else {
              ops.emplace_back(backend::SendData{std::string(a.bytes)});
            }
          } else if constexpr (std::is_same_v<A, asgi::SendEnd>) {
            ops.emplace_back(backend::SendEnd{owned(a.trailers)});
          } else if constexpr (std::is_same_v<A, asgi::SendFile>) {
            ops.emplace_back(backend::SendFile{std::string(a.path)});
          } else {
            ops.emplace_back(backend::Abort{});
          }
        },
        action);
  }
  // Count before submitting: the backend subtracts as it writes.
  if (data_bytes != 0 && flow_) flow_->unsent_bytes.fetch_add(data_bytes);
  bridge_->port().submit(id_, std::move(ops));
  ops.clear();  // what a gone exchange's port left: held app bytes are released now
  bridge_->port_used();
}

py::object Exchange::send(py::handle message) {
  SendScratch& scratch = bridge_->scratch();
  scratch.reset();
  struct Reset {
    SendScratch& s;
    ~Reset() { s.reset(); }
  } reset_after{scratch};
  asgi::SendEvent event = to_send_event(message.ptr(), scratch);
  Result<asgi::Actions> actions = cycle_.on_app_send(event);
  if (!actions) raise_cycle_error(actions.error());
  PyObject* body = PyDict_Check(message.ptr()) ? PyDict_GetItem(message.ptr(), names().body)
                                                : nullptr;  // borrowed; bytes are immutable
  submit(*actions, body);
  after_progress();
  return bridge_->send_result(flow_.get(), cycle_.is_done(), drain_waiter_);
}

void Exchange::finish(bool raised, PyObject* exc) {
  if (finished_) return;
  finished_ = true;
  const bool was_done = cycle_.is_done();
  const bool gone = cycle_.is_disconnected();
  if (raised && exc != nullptr && !PyErr_GivenExceptionMatches(exc, names().client_disconnected)) {
    bridge_->log_error("Exception in ASGI application", exc);
  } else if (!raised && !was_done && !gone) {
    bridge_->log_error("ASGI callable returned without completing response", nullptr);
  }
  asgi::Actions actions = cycle_.on_app_exit(raised ? asgi::Outcome::raised : asgi::Outcome::returned);
  submit(actions);
  after_progress();
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
  if (receive_waiter_) {
    py::object value = steal(receive_event(asgi::ReceiveParts{asgi::HttpDisconnect{}}));
    resolve(receive_waiter_, value.ptr());
  }
  py::object keep = bridge_->forget(id_);  // released at the end of this scope
}

void Exchange::on_app_failed(py::handle exc) { finish(true, exc.ptr()); }

void Exchange::on_body(backend::BodyReceived& body) {
  if (body.block.owner) {
    cycle_.take_held(std::string_view(body.block.data, body.block.size),
                     std::move(body.block.owner), body.more_body);
  } else {
    cycle_.take_body(std::move(body.bytes), body.more_body);
  }
  after_progress();
}

void Exchange::on_client_gone() {
  cycle_.on_disconnect();
  after_progress();
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
}

void Exchange::on_drained() {
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
}

// ---- Bridge ------------------------------------------------------------------------------------

Bridge::Bridge(const py::dict& native_config, py::object app, py::object loop, py::object state,
               bool access_log)
    : config_(config_from_native(native_config)),
      app_(std::move(app)),
      loop_(std::move(loop)),
      state_(std::move(state)),
      access_log_(access_log) {
  const Names& n = names();
  create_future_ = loop_.attr("create_future");
  context_ = steal(PyContext_CopyCurrent());
  context_kwnames_ = py::make_tuple(py::str("context"));
  create_task_ = loop_.attr("create_task");
  call_soon_ = loop_.attr("call_soon");
  call_app_ = py::module_::import("lancet._app").attr("call_app");
  // No task factory (the serve loop sets none): construct asyncio.Task directly.
  if (py::hasattr(loop_, "get_task_factory") && loop_.attr("get_task_factory")().is_none()) {
    task_type_ = py::module_::import("asyncio").attr("Task");
    task_kwnames_ = py::make_tuple(py::str("loop"), py::str("name"));
    task_name_ = py::str("lancet.http");
    native_tasks_ = !native_config.contains("task_impl") ||
                    native_config["task_impl"].cast<std::string>() != "asyncio";
  }
  py::module_ logging = py::module_::import("logging");
  error_logger_ = logging.attr("getLogger")("lancet.error");
  access_info_ = logging.attr("getLogger")("lancet.access").attr("info");

  py::dict asgi;
  asgi[n.version] = py::str("3.0");
  asgi[n.spec_version] = py::str(std::string(asgi::kHttpSpecVersion));
  py::dict ext;
  ext["http.response.trailers"] = py::dict();
  ext["http.response.pathsend"] = py::dict();
  extensions_ = ext;

  // Every key present (placeholders included) so that PyDict_Copy takes its fast path and
  // setting the per-request fields never resizes.
  py::dict t;
  t[n.type] = py::reinterpret_borrow<py::object>(n.http);
  t[n.asgi] = asgi;
  t[n.http_version] = py::reinterpret_borrow<py::object>(n.v1_1);
  t[n.server] = py::none();
  t[n.client] = py::none();
  t[n.scheme] = py::reinterpret_borrow<py::object>(n.http);
  for (const char* method : {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                             "TRACE", "PATCH"}) {
    methods_.emplace_back(method, steal(PyUnicode_InternFromString(method)));
  }
  t[n.method] = methods_.front().second;  // GET
  t[n.root_path] = py::str(config_.root_path);
  t[n.path] = py::none();
  t[n.raw_path] = py::none();
  t[n.query_string] = py::bytes();
  t[n.headers] = py::none();
  t[n.extensions] = extensions_;
  if (!state_.is_none()) t[n.state] = py::none();
  template_ = t;
  websockets_ = std::make_unique<WebSocketExchanges>(*this);
}

Bridge::~Bridge() {
  if (server_ && !joined_) {
    server_->shutdown(0.0);
    py::gil_scoped_release release;
    server_->join();
  }
}

py::object Bridge::start(py::handle self) {
  self_ = self;
  backend::StartResult result;
  {
    py::gil_scoped_release release;
    result = backend::make_server(config_, mailbox_);
  }
  if (!result.server) {
    return py::make_tuple(result.error.errno_value, result.error.message);
  }
  server_ = std::move(result.server);
  caller_driven_ = server_->poll_fd() >= 0;
  mailbox_.set_quiet(caller_driven_);  // posts now come only from pump(), on this thread
  // Request bodies straight into the app's bytes: only a backend on this thread asks.
  if (caller_driven_) mailbox_.set_body_blocks(make_body_block);
  return py::none();
}

std::string Bridge::bound_address() const { return server_ ? server_->bound_address() : ""; }
void Bridge::set_ready(bool ready) {
  if (server_) server_->set_ready(ready);
}
void Bridge::shutdown(double timeout_seconds) {
  if (server_) server_->shutdown(timeout_seconds);
}
void Bridge::join() {
  if (!server_ || joined_) return;
  {
    py::gil_scoped_release release;
    server_->join();
  }
  joined_ = true;
}
std::size_t Bridge::active_exchanges() const { return server_ ? server_->active_exchanges() : 0; }
std::size_t Bridge::live_exchanges() const noexcept {
  return exchanges_.size() + (websockets_ ? websockets_->size() : 0);
}
std::string Bridge::backend_name() const {
#ifdef LANCET_BACKEND_NAME
  return server_ ? server_->name() : LANCET_BACKEND_NAME;
#else
  return server_ ? server_->name() : "unknown";
#endif
}

py::object Bridge::create_future() const { return steal(PyObject_CallNoArgs(create_future_.ptr())); }

py::object Bridge::forget(backend::ExchangeId id) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return py::none();
  py::object keep = std::move(it->second.object);
  exchanges_.erase(it);
  return keep;
}

Exchange* Bridge::find(backend::ExchangeId id) {
  auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second.exchange;
}

void Bridge::log_error(const char* text, PyObject* exc) {
  try {
    if (exc != nullptr) {
      error_logger_.attr("error")(text, py::arg("exc_info") = py::reinterpret_borrow<py::object>(exc));
    } else {
      error_logger_.attr("error")(text);
    }
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("lancet: logging failed");
  }
}

void Bridge::log_access(const Exchange&, const std::string& client, const std::string& method,
                        const std::string& target, const std::string& version,
                        std::uint16_t status) {
  try {
    access_info_("%s - \"%s %s HTTP/%s\" %d", client, method,
                 py::str(PyUnicode_DecodeLatin1(target.data(), static_cast<Py_ssize_t>(target.size()), "replace")),
                 version, status);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("lancet: access logging failed");
  }
}

PyObject* Bridge::method_object(const std::string& method) {
  for (const auto& [name, object] : methods_) {
    if (name == method) return py::object(object).release().ptr();
  }
  return PyUnicode_FromStringAndSize(method.data(), static_cast<Py_ssize_t>(method.size()));
}

PyObject* Bridge::build_scope(const asgi::HttpScope& s) {
  const Names& n = names();
  PyObject* scope = PyDict_Copy(template_.ptr());
  if (scope == nullptr) throw py::error_already_set();
  py::object guard = py::reinterpret_steal<py::object>(scope);

  if (s.http_version != "1.1") {
    if (s.http_version == "1.0") {
      if (PyDict_SetItem(scope, n.http_version, n.v1_0) != 0) throw py::error_already_set();
    } else {
      set_item(scope, n.http_version,
               PyUnicode_FromStringAndSize(s.http_version.data(),
                                           static_cast<Py_ssize_t>(s.http_version.size())));
    }
  }
  if (s.server != server_address_) {
    // A new server address (the first request, or another listener): later scopes copy it.
    py::object server = s.server ? py::object(py::make_tuple(s.server->host, s.server->port))
                                 : py::none();
    set_borrowed(scope, n.server, server.ptr());
    set_borrowed(template_.ptr(), n.server, server.ptr());
    server_address_ = s.server;
  }
  if (s.client) {
    PyObject* host = PyUnicode_FromStringAndSize(s.client->host.data(),
                                                 static_cast<Py_ssize_t>(s.client->host.size()));
    if (host == nullptr) throw py::error_already_set();
    PyObject* port = PyLong_FromLong(s.client->port);
    if (port == nullptr) {
      Py_DECREF(host);
      throw py::error_already_set();
    }
    PyObject* pair = PyTuple_New(2);
    if (pair == nullptr) {
      Py_DECREF(host);
      Py_DECREF(port);
      throw py::error_already_set();
    }
    PyTuple_SET_ITEM(pair, 0, host);
    PyTuple_SET_ITEM(pair, 1, port);
    set_item(scope, n.client, pair);
  }
  if (s.scheme != "http") {
    set_item(scope, n.scheme,
             PyUnicode_FromStringAndSize(s.scheme.data(), static_cast<Py_ssize_t>(s.scheme.size())));
  }
  if (s.method != "GET") set_item(scope, n.method, method_object(s.method));
  if (s.root_path != config_.root_path) {
    set_item(scope, n.root_path,
             PyUnicode_DecodeUTF8(s.root_path.data(), static_cast<Py_ssize_t>(s.root_path.size()),
                                  "replace"));
  }
  if (!last_path_object_ || s.raw_path != last_raw_path_ || s.path != last_path_) {
    py::object path = steal(
        PyUnicode_DecodeUTF8(s.path.data(), static_cast<Py_ssize_t>(s.path.size()), "replace"));
    py::object raw_path = steal(
        PyBytes_FromStringAndSize(s.raw_path.data(), static_cast<Py_ssize_t>(s.raw_path.size())));
    last_path_ = s.path;
    last_raw_path_ = s.raw_path;
    last_path_object_ = std::move(path);
    last_raw_path_object_ = std::move(raw_path);
  }
  set_borrowed(scope, n.path, last_path_object_.ptr());
  set_borrowed(scope, n.raw_path, last_raw_path_object_.ptr());
  if (!s.query_string.empty()) {
    set_item(scope, n.query_string,
             PyBytes_FromStringAndSize(s.query_string.data(),
                                       static_cast<Py_ssize_t>(s.query_string.size())));
  }
  PyObject* headers = PyList_New(static_cast<Py_ssize_t>(s.headers.size()));
  if (headers == nullptr) throw py::error_already_set();
  py::object headers_guard = py::reinterpret_steal<py::object>(headers);
  Py_ssize_t i = 0;
  for (const asgi::ScopeHeader& h : s.headers) {
    PyObject* pair = PyTuple_New(2);
    if (pair == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(headers, i++, pair);
    PyObject* name = PyBytes_FromStringAndSize(h.name.data(), static_cast<Py_ssize_t>(h.name.size()));
    if (name == nullptr) throw py::error_already_set();
    PyTuple_SET_ITEM(pair, 0, name);
    PyObject* value =
        PyBytes_FromStringAndSize(h.value.data(), static_cast<Py_ssize_t>(h.value.size()));
    if (value == nullptr) throw py::error_already_set();
    PyTuple_SET_ITEM(pair, 1, value);
  }
  if (PyDict_SetItem(scope, n.headers, headers) != 0) throw py::error_already_set();
  if (!state_.is_none()) set_item(scope, n.state, PyDict_Copy(state_.ptr()));
  return guard.release().ptr();
}

void Bridge::on_request(backend::RequestStarted& started) {
  auto owner = std::make_unique<Exchange>(*this, started);
  Exchange* ex = owner.get();
  py::object object = capi::Handle<Exchange>::wrap(std::move(owner));
  const backend::ExchangeId id = started.id;
  exchanges_.emplace(id, Entry{ex, object});

  try {
    py::object scope = steal(build_scope(started.scope));
    start_app(object, scope, g_calls, task_name_);
  } catch (py::error_already_set& e) {
    ex->on_app_failed(e.value());
  }
}

void Bridge::start_app(py::handle handle, py::handle scope, const AppEntryPoints& calls,
                       py::handle task_name) {
  py::object receive = steal(make_app_callable(calls.receive, handle.ptr()));
  py::object send = steal(make_app_callable(calls.send, handle.ptr()));
  if (native_tasks_) {
    // No call_app coroutine around the app: the task calls the app and reports its end.
    PyObject* task = make_app_call_task(app_.ptr(), scope.ptr(), receive.ptr(), send.ptr(),
                                        loop_.ptr(), task_name.ptr(), calls.app_exit->ml_meth,
                                        handle.ptr());
    if (task == nullptr) throw py::error_already_set();
    starting_.push_back(steal(task));
    return;
  }
  py::object app_exit = steal(make_app_callable(calls.app_exit, handle.ptr()));
  PyObject* args[] = {app_.ptr(), scope.ptr(), receive.ptr(), send.ptr(), app_exit.ptr()};
  py::object coro = steal(PyObject_Vectorcall(call_app_.ptr(), args, 5, nullptr));
  try {
    if (task_type_) {
      // asyncio.Task(coro, loop=loop, name=...): what create_task does without a factory,
      // minus the loop method and (3.11) the per-task "Task-<n>" name formatting.
      PyObject* targs[] = {coro.ptr(), loop_.ptr(), task_name.ptr()};
      steal(PyObject_Vectorcall(task_type_.ptr(), targs, 1, task_kwnames_.ptr()));
    } else {
      call1(create_task_.ptr(), coro.ptr());
    }
  } catch (py::error_already_set&) {
    // A task factory refused it: close the coroutine quietly (never awaited).
    PyObject* r = PyObject_CallMethod(coro.ptr(), "close", nullptr);
    if (r == nullptr) PyErr_Clear(); else Py_DECREF(r);
    throw;
  }
}

void Bridge::release_wakeups() {
  release_scheduled_ = false;
  if (server_) server_->release_wakeups();
}

void Bridge::schedule_flush() {
  if (flush_scheduled_) return;
  try {
    // Bound to the Server object (not stored: no cycle), which the handle keeps alive.
    py::object flush = steal(PyCFunction_New(&g_flush_def, self_.ptr()));
    call_soon_in_server_context(flush);
    flush_scheduled_ = true;
  } catch (py::error_already_set& e) {
    log_error("lancet: internal error scheduling a flush", e.value().ptr());
  }
}

void Bridge::call_soon_in_server_context(py::handle fn) {
  PyObject* args[] = {fn.ptr(), context_.ptr()};
  steal(PyObject_Vectorcall(call_soon_.ptr(), args, 1, context_kwnames_.ptr()));
}

void Bridge::flush() {
  flush_scheduled_ = false;
  on_wakeup();
}

py::object Bridge::send_result(backend::ExchangeFlow* flow, bool done,
                               py::object& drain_waiter) {
  const auto over = [&] {
    return !done && flow != nullptr && flow->unsent_bytes.load() > backend::kSendHighWater;
  };
  if (over() && caller_driven_ && server_) {
    server_->pump();
    schedule_flush();  // what pump() posted is handled there, not inside the app's send()
  }
  if (!over()) return steal(ready_none());
  // Ask for a Drained, then look once more: a backend on another thread that wrote the backlog
  // in between either takes the request or left a count this second look sees (port.hpp).
  flow->drain_wanted.store(true);
  if (!over()) return steal(ready_none());
  if (!drain_waiter) drain_waiter = create_future();
  return drain_waiter;
}

void Bridge::on_wakeup() {
  if (caller_driven_ && server_) server_->pump();
  mailbox_.drain(batch_);
  if (batch_.empty()) return;
  if (!caller_driven_ && server_ && !release_scheduled_) server_->hold_wakeups();
  dispatch_batch();
  py::object stop = start_tasks();
  if (caller_driven_) {
    // After the callbacks of the futures resolved above (call_soon is FIFO): what they and the
    // new tasks' first steps sent is written by one pump().
    schedule_flush();
  } else if (server_ && !release_scheduled_) {
    // The sends the batch's tasks make queue without waking the backend until
    // release_wakeups(), scheduled after those tasks' first steps.
    try {
      py::object release = steal(PyCFunction_New(&g_release_def, self_.ptr()));
      call_soon_in_server_context(release);
      release_scheduled_ = true;
    } catch (py::error_already_set& e) {
      server_->release_wakeups();
      log_error("lancet: internal error scheduling a wake-up", e.value().ptr());
    }
  }
  if (stop) {  // after the flush is scheduled: what the other tasks sent still goes out
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(stop.ptr())), stop.ptr());
    throw py::error_already_set();
  }
}

py::object Bridge::start_tasks() {
  if (starting_.empty()) return {};
  int running = task_running(loop_.ptr());
  if (running < 0) {
    py::error_already_set e;
    log_error("lancet: internal error looking up the current task", e.value().ptr());
    running = 1;  // schedule: always safe
  }
  py::object stop;  // a KeyboardInterrupt / SystemExit to raise after the others have run
  for (py::object& task : starting_) {
    const int rc = running ? schedule_app_task(task.ptr()) : start_app_task(task.ptr());
    if (rc == 0) continue;
    py::error_already_set e;
    if (PyErr_GivenExceptionMatches(e.type().ptr(), PyExc_Exception)) {
      log_error("lancet: internal error running an app task", e.value().ptr());
    } else if (!stop) {
      stop = e.value();
    }
  }
  starting_.clear();
  return stop;
}

void Bridge::dispatch_batch() {
  for (backend::Inbound& message : batch_) {
    try {
      if (auto* started = std::get_if<backend::RequestStarted>(&message)) {
        on_request(*started);
      } else if (websockets_->dispatch(message)) {
        // a WebSocket exchange's message: bridge/websocket.cpp
      } else if (auto* body = std::get_if<backend::BodyReceived>(&message)) {
        if (Exchange* ex = find(body->id)) ex->on_body(*body);
      } else if (auto* gone = std::get_if<backend::ClientGone>(&message)) {
        if (Exchange* ex = find(gone->id)) ex->on_client_gone();
      } else if (auto* drained = std::get_if<backend::Drained>(&message)) {
        if (Exchange* ex = find(drained->id)) ex->on_drained();
      }
    } catch (py::error_already_set& e) {
      log_error("lancet: internal error handling a request", e.value().ptr());
    } catch (const std::exception& e) {
      log_error((std::string("lancet: internal error: ") + e.what()).c_str(), nullptr);
    }
  }
  backend::reset_batch(batch_);
}

}  // namespace lancet::bridge
