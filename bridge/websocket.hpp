// The WebSocket side of the bridge: one WebSocketExchange per 'websocket' scope (its bound
// receive/send are what the app gets) and WebSocketExchanges, the Bridge's registry of them.
//
// Layer: bridge/. Everything runs on the Python loop thread with the GIL held, as the HTTP
// Exchange does (bridge.hpp): the mailbox's messages for WebSocket exchanges come here through
// WebSocketExchanges::dispatch(), the only hook in Bridge::on_wakeup().
//
// Theory of operation
//   WebSocketRequested -> a scope dict (Bridge::build_scope's HTTP fields, made 'websocket':
//   type, asgi spec_version 2.5, scheme ws/wss, subprotocols, the denial-response extension, no
//   method) and one Task running app(scope, receive, send), as for HTTP.
//   receive(): asgi::WebSocketCycle::next_receive(): websocket.connect, then each message
//   (WebSocketReceived, queued in the cycle), then websocket.disconnect {code, reason}; a
//   future when nothing is there yet. Messages handed out are reported to the backend with
//   messages_consumed(), batched (a quarter of --ws-max-queue, and whenever receive() waits),
//   which keeps the backend's --ws-max-queue bound without a round trip per message.
//   send(message): to_websocket_event() (convert.hpp) then the cycle's checks; its actions
//   become port ops (WsAccept, WsSend, WsClose, or SendHead/SendData/SendEnd/Abort for an HTTP
//   answer). A wrong event raises RuntimeError naming what was expected and what came; a send
//   after the connection is gone raises lancet.ClientDisconnected (an OSError subclass, ASGI
//   spec 2.4). Message and body bytes are counted in ExchangeFlow::unsent_bytes: above
//   kSendHighWater send() returns a future resolved by Drained.
//   The app's app_exit (lancet._app.call_app) applies WebSocketCycle::on_app_exit (a 500
//   before any answer, close 1000 / 1011 when open) and logs an exception, then the exchange
//   is forgotten.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "backends/port.hpp"
#include "protocol/asgi/websocket_cycle.hpp"

namespace lancet::bridge {

namespace py = pybind11;
class Bridge;
class WebSocketExchanges;

/// One WebSocket connection on the app side: the cycle, the waiting futures, flow control.
class WebSocketExchange {
 public:
  WebSocketExchange(WebSocketExchanges& owner, backend::WebSocketRequested& requested);
  WebSocketExchange(const WebSocketExchange&) = delete;
  WebSocketExchange& operator=(const WebSocketExchange&) = delete;

  /// The app's receive(): an awaitable for the next websocket.* event.
  py::object receive();
  /// The app's send(message): validates, submits, returns an awaitable (waits above the
  /// outbound high-water mark). Raises RuntimeError / TypeError / ClientDisconnected.
  py::object send(py::handle message);
  /// The app ended (app_exit, capi::AppCalls), raising `exc` (null: it returned, or was
  /// cancelled when `raised`): ends the cycle (500, close), logs, forgets the exchange.
  void finish(bool raised, PyObject* exc);
  /// The app's task could not be started (building the scope or creating the task raised).
  void on_app_failed(py::handle exc);

  // From the mailbox (loop thread).
  void on_received(backend::WebSocketReceived& message);
  void on_closed(const backend::WebSocketClosed& closed);
  void on_client_gone();
  void on_drained();

 private:
  void submit(const asgi::WebSocketActions& actions);
  void report_consumed(bool all);
  void after_progress();
  PyObject* receive_event(asgi::WebSocketReceiveEvent&& event);  // new reference
  void log_answer(const char* what);

  WebSocketExchanges* owner_;
  py::object bridge_ref_;  // keeps the Bridge alive while the app holds send/receive
  backend::ExchangeId id_;
  std::shared_ptr<backend::ExchangeFlow> flow_;
  asgi::WebSocketCycle cycle_;
  bool finished_ = false;
  py::object receive_waiter_;
  py::object drain_waiter_;
  std::string client_;  // access log (filled only when it is on)
  std::string target_;
};

/// The Bridge's WebSocket exchanges and the constant parts of their scopes.
class WebSocketExchanges {
 public:
  explicit WebSocketExchanges(Bridge& bridge);

  /// Handles a WebSocket message, or a ClientGone / Drained for a WebSocket exchange: true.
  /// False for everything else (the HTTP side's). Python errors propagate.
  bool dispatch(backend::Inbound& message);
  /// WebSocket exchanges whose app task has not finished.
  std::size_t size() const noexcept { return exchanges_.size(); }

  // For WebSocketExchange.
  Bridge& bridge() noexcept { return bridge_; }
  /// Messages to hand out before reporting them consumed: a quarter of --ws-max-queue.
  std::size_t credit_batch() const noexcept { return credit_batch_; }
  py::object forget(backend::ExchangeId id);
  void log_access(const std::string& client, const std::string& target, const char* what);

 private:
  void on_requested(backend::WebSocketRequested& requested);
  PyObject* build_scope(const backend::WebSocketRequested& requested);  // new reference
  WebSocketExchange* find(backend::ExchangeId id);

  struct Entry {
    WebSocketExchange* exchange;
    py::object object;
  };

  Bridge& bridge_;
  std::size_t credit_batch_;
  py::object asgi_;        // {"version": "3.0", "spec_version": "2.5"}
  py::object extensions_;  // {"websocket.http.response": {}}
  py::object task_name_;
  std::unordered_map<backend::ExchangeId, Entry> exchanges_;
};

}  // namespace lancet::bridge
