// See websocket.hpp.
#include "bridge/websocket.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>
#include <vector>

#include "bridge/awaitable.hpp"
#include "bridge/bridge.hpp"
#include "bridge/capi.hpp"
#include "bridge/convert.hpp"
#include "bridge/names.hpp"

namespace lancet::bridge {
namespace {

using capi::owned;
using capi::raise_cycle_error;
using capi::resolve;
using capi::set_borrowed;
using capi::set_item;
using capi::steal;

using Calls = capi::AppCalls<WebSocketExchange>;
PyMethodDef g_receive_def = {"receive", Calls::receive, METH_NOARGS,
                             "The next websocket.connect / .receive / .disconnect (awaitable)."};
PyMethodDef g_send_def = {"send", Calls::send, METH_O,
                          "Sends an ASGI websocket event (awaitable)."};
PyMethodDef g_app_exit_def = {"app_exit", Calls::app_exit, METH_O,
                               "How the app ended: None, or what it raised."};
AppEntryPoints g_calls{&g_receive_def, &g_send_def, &g_app_exit_def};

}  // namespace

// ---- WebSocketExchange -------------------------------------------------------------------------

WebSocketExchange::WebSocketExchange(WebSocketExchanges& owner,
                                     backend::WebSocketRequested& requested)
    : owner_(&owner),
      bridge_ref_(owner.bridge().self_ref()),
      id_(requested.id),
      flow_(std::move(requested.flow)) {
  if (owner.bridge().access_log()) {
    const asgi::HttpScope& s = requested.scope;
    if (s.client) client_ = s.client->host + ":" + std::to_string(s.client->port);
    target_ = s.root_path + s.raw_path;
    if (!s.query_string.empty()) target_ += "?" + s.query_string;
  }
}

PyObject* WebSocketExchange::receive_event(asgi::WebSocketReceiveEvent&& event) {
  const Names& n = names();
  PyObject* d = PyDict_New();
  if (d == nullptr) throw py::error_already_set();
  py::object guard = py::reinterpret_steal<py::object>(d);
  if (auto* message = std::get_if<asgi::WebSocketReceive>(&event)) {
    set_borrowed(d, n.type, n.websocket_receive);
    const auto size = static_cast<Py_ssize_t>(message->data.size());
    if (message->text) {
      // protocol/websocket checked the UTF-8 already; CPython checks again while decoding.
      set_item(d, n.text, PyUnicode_DecodeUTF8(message->data.data(), size, "strict"));
    } else {
      set_item(d, n.bytes, PyBytes_FromStringAndSize(message->data.data(), size));
    }
  } else if (auto* gone = std::get_if<asgi::WebSocketDisconnect>(&event)) {
    set_borrowed(d, n.type, n.websocket_disconnect);
    set_item(d, n.code, PyLong_FromLong(gone->code));
    set_item(d, n.reason,
             PyUnicode_DecodeUTF8(gone->reason.data(), static_cast<Py_ssize_t>(gone->reason.size()),
                                  "replace"));
  } else {
    set_borrowed(d, n.type, n.websocket_connect);
  }
  return guard.release().ptr();
}

py::object WebSocketExchange::receive() {
  std::optional<asgi::WebSocketReceiveEvent> event = cycle_.next_receive();
  if (event) {
    py::object value = steal(receive_event(std::move(*event)));
    report_consumed(false);
    return steal(make_ready(value.ptr()));
  }
  if (capi::still_waiting(receive_waiter_)) {
    PyErr_SetString(PyExc_RuntimeError, "receive() called while another receive() is waiting");
    throw py::error_already_set();
  }
  report_consumed(true);  // the app waits: let the backend read everything it may
  receive_waiter_ = owner_->bridge().create_future();
  return receive_waiter_;
}

void WebSocketExchange::report_consumed(bool all) {
  const std::size_t n = cycle_.consumed();
  if (n == 0 || (!all && n < owner_->credit_batch())) return;
  cycle_.take_consumed();
  if (!cycle_.is_done()) {
    owner_->bridge().port().messages_consumed(id_, n);
    owner_->bridge().port_used();
  }
}

void WebSocketExchange::after_progress() {
  if (!capi::still_waiting(receive_waiter_)) return;
  std::optional<asgi::WebSocketReceiveEvent> event = cycle_.next_receive();
  if (!event) return;
  py::object value = steal(receive_event(std::move(*event)));
  resolve(receive_waiter_, value.ptr());
  report_consumed(false);
}

void WebSocketExchange::log_answer(const char* what) {
  if (owner_->bridge().access_log()) owner_->log_access(client_, target_, what);
}

void WebSocketExchange::submit(const asgi::WebSocketActions& actions) {
  if (actions.empty()) return;
  std::vector<backend::Outbound> ops;
  ops.reserve(actions.size());
  std::size_t data_bytes = 0;
  for (const asgi::WebSocketAction& action : actions) {
    std::visit(
        [&](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, asgi::AcceptWebSocket>) {
            log_answer("[accepted]");
            ops.emplace_back(backend::WsAccept{std::string(a.subprotocol), owned(a.headers)});
          } else if constexpr (std::is_same_v<A, asgi::SendWebSocketMessage>) {
            data_bytes += a.data.size();
            ops.emplace_back(backend::WsSend{std::string(a.data), a.text});
          } else if constexpr (std::is_same_v<A, asgi::CloseWebSocket>) {
            ops.emplace_back(backend::WsClose{a.code, std::string(a.reason)});
          } else if constexpr (std::is_same_v<A, asgi::SendHead>) {
            log_answer(std::to_string(a.status).c_str());
            ops.emplace_back(backend::SendHead{a.status, owned(a.headers)});
          } else if constexpr (std::is_same_v<A, asgi::SendData>) {
            data_bytes += a.bytes.size();
            ops.emplace_back(backend::SendData{std::string(a.bytes)});
          } else if constexpr (std::is_same_v<A, asgi::SendEnd>) {
            ops.emplace_back(backend::SendEnd{});
          } else {
            ops.emplace_back(backend::Abort{});
          }
        },
        action);
  }
  // Count before submitting: the backend subtracts as it writes.
  if (data_bytes != 0 && flow_) flow_->unsent_bytes.fetch_add(data_bytes);
  owner_->bridge().port().submit(id_, std::move(ops));
  owner_->bridge().port_used();
}

py::object WebSocketExchange::send(py::handle message) {
  SendScratch& scratch = owner_->bridge().scratch();
  scratch.reset();
  struct Reset {
    SendScratch& s;
    ~Reset() { s.reset(); }
  } reset_after{scratch};
  const asgi::WebSocketSendEvent event = to_websocket_event(message.ptr(), scratch);
  Result<asgi::WebSocketActions> actions = cycle_.on_app_send(event);
  if (!actions) raise_cycle_error(actions.error());
  submit(*actions);
  after_progress();  // after the app's close, a waiting receive() gets its disconnect
  return owner_->bridge().send_result(flow_.get(), cycle_.is_done(), drain_waiter_);
}

void WebSocketExchange::finish(bool raised, PyObject* exc) {
  if (finished_) return;
  finished_ = true;
  const bool answered = cycle_.state() != asgi::WebSocketState::handshake;
  if (raised && exc != nullptr && !PyErr_GivenExceptionMatches(exc, names().client_disconnected)) {
    owner_->bridge().log_error("Exception in ASGI application", exc);
  } else if (!raised && !answered && !cycle_.is_disconnected()) {
    owner_->bridge().log_error("ASGI callable returned without sending handshake", nullptr);
  }
  submit(cycle_.on_app_exit(raised ? asgi::Outcome::raised : asgi::Outcome::returned));
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
  after_progress();
  py::object keep = owner_->forget(id_);  // released at the end of this scope
}

void WebSocketExchange::on_app_failed(py::handle exc) { finish(true, exc.ptr()); }

void WebSocketExchange::on_received(backend::WebSocketReceived& message) {
  cycle_.on_message(std::move(message.data), message.text);
  after_progress();
}

void WebSocketExchange::on_closed(const backend::WebSocketClosed& closed) {
  cycle_.on_closed(closed.code, closed.reason);
  after_progress();
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
}

void WebSocketExchange::on_client_gone() {
  cycle_.on_disconnect();
  after_progress();
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
}

void WebSocketExchange::on_drained() {
  py::object none = py::none();
  resolve(drain_waiter_, none.ptr());
}

// ---- WebSocketExchanges ------------------------------------------------------------------------

WebSocketExchanges::WebSocketExchanges(Bridge& bridge)
    : bridge_(bridge), credit_batch_(std::max<std::size_t>(bridge.config_.ws.max_queue / 4, 1)) {
  py::dict asgi;
  asgi[names().version] = py::str("3.0");
  asgi[names().spec_version] = py::str(std::string(asgi::kWebSocketSpecVersion));
  asgi_ = asgi;
  py::dict ext;
  ext["websocket.http.response"] = py::dict();
  extensions_ = ext;
  task_name_ = py::str("lancet.websocket");
}

py::object WebSocketExchanges::forget(backend::ExchangeId id) {
  auto it = exchanges_.find(id);
  if (it == exchanges_.end()) return py::none();
  py::object keep = std::move(it->second.object);
  exchanges_.erase(it);
  return keep;
}

WebSocketExchange* WebSocketExchanges::find(backend::ExchangeId id) {
  auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second.exchange;
}

void WebSocketExchanges::log_access(const std::string& client, const std::string& target,
                                    const char* what) {
  try {
    bridge_.access_info_(
        "%s - \"WebSocket %s\" %s", client,
        py::str(PyUnicode_DecodeLatin1(target.data(), static_cast<Py_ssize_t>(target.size()),
                                       "replace")),
        what);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("lancet: access logging failed");
  }
}

bool WebSocketExchanges::dispatch(backend::Inbound& message) {
  if (auto* requested = std::get_if<backend::WebSocketRequested>(&message)) {
    on_requested(*requested);
  } else if (auto* received = std::get_if<backend::WebSocketReceived>(&message)) {
    if (WebSocketExchange* ex = find(received->id)) ex->on_received(*received);
  } else if (auto* closed = std::get_if<backend::WebSocketClosed>(&message)) {
    if (WebSocketExchange* ex = find(closed->id)) ex->on_closed(*closed);
  } else if (auto* gone = std::get_if<backend::ClientGone>(&message)) {
    WebSocketExchange* ex = find(gone->id);
    if (ex == nullptr) return false;
    ex->on_client_gone();
  } else if (auto* drained = std::get_if<backend::Drained>(&message)) {
    WebSocketExchange* ex = find(drained->id);
    if (ex == nullptr) return false;
    ex->on_drained();
  } else {
    return false;
  }
  return true;
}

// Bridge::build_scope's HTTP fields (path, raw_path, query_string, headers, client, server,
// root_path, state), then what makes it a 'websocket' scope.
PyObject* WebSocketExchanges::build_scope(const backend::WebSocketRequested& requested) {
  const Names& n = names();
  PyObject* scope = bridge_.build_scope(requested.scope);
  py::object guard = py::reinterpret_steal<py::object>(scope);
  set_borrowed(scope, n.type, n.websocket);
  set_borrowed(scope, n.asgi, asgi_.ptr());
  set_borrowed(scope, n.scheme, requested.scope.scheme == "wss" ? n.wss : n.ws);
  set_borrowed(scope, n.extensions, extensions_.ptr());
  if (PyDict_DelItem(scope, n.method) != 0) throw py::error_already_set();
  PyObject* subprotocols = PyList_New(static_cast<Py_ssize_t>(requested.subprotocols.size()));
  if (subprotocols == nullptr) throw py::error_already_set();
  py::object list_guard = py::reinterpret_steal<py::object>(subprotocols);
  Py_ssize_t i = 0;
  for (const std::string& p : requested.subprotocols) {
    PyObject* s = PyUnicode_FromStringAndSize(p.data(), static_cast<Py_ssize_t>(p.size()));
    if (s == nullptr) throw py::error_already_set();
    PyList_SET_ITEM(subprotocols, i++, s);
  }
  set_borrowed(scope, n.subprotocols, subprotocols);
  return guard.release().ptr();
}

void WebSocketExchanges::on_requested(backend::WebSocketRequested& requested) {
  auto owner = std::make_unique<WebSocketExchange>(*this, requested);
  WebSocketExchange* ex = owner.get();
  py::object object = capi::Handle<WebSocketExchange>::wrap(std::move(owner));
  const backend::ExchangeId id = requested.id;
  exchanges_.emplace(id, Entry{ex, object});

  try {
    py::object scope = steal(build_scope(requested));
    bridge_.start_app(object, scope, g_calls, task_name_);
  } catch (py::error_already_set& e) {
    ex->on_app_failed(e.value());
  }
}

}  // namespace lancet::bridge
