// WebSocketCycle: one ASGI WebSocket connection (a 'websocket' scope) as a state machine,
// sans-io: the app side of it, as HttpCycle is for an HTTP request.
//
// Layer: protocol/asgi. Takes the app's send events, checks them and their order, and says
// what the server must do as data (WebSocketActions); takes the messages and the close the
// server reports, and says what the app's receive() returns. Not thread-safe: one cycle, one
// thread. websocket_cycle.md beside this file has the state diagram and every message.
//
// Theory of operation
//   Send side:
//     handshake --websocket.accept--> open --websocket.close--> closed
//     handshake --websocket.close--> closed               (HTTP 403, ASGI spec)
//     handshake --websocket.http.response.start--> responding --body, more_body=false--> closed
//   The denial response (the "websocket.http.response" extension) is an HTTP response: an
//   HttpCycle inside validates and frames it (held-back start, content-length for one piece).
//   on_app_exit() ends the cycle from any state: 500 when nothing was answered yet, Abort for
//   an unfinished denial response, close 1000 (returned) or 1011 (raised) when open.
//   After the connection is gone (on_closed / on_disconnect): a send raises the disconnect error
//   (an OSError subclass in Python, ASGI spec 2.4); a websocket.close is accepted and does
//   nothing, so cleanup code that closes twice does not fail.
//   Receive side: websocket.connect first; then the client's messages in order; then, once the
//   connection is gone, websocket.disconnect forever (messages queued before it come first).
//   After the app's own websocket.close (or a denial), websocket.disconnect at once with the
//   app's code (1006 after a denial, as uvicorn reports); queued messages are dropped.
//   Flow: each websocket.receive handed out counts as consumed; take_consumed() tells the
//   bridge how many to report to the backend (its --ws-max-queue bound).
//
// Lifetimes of the views in returned actions: AcceptWebSocket, SendWebSocketMessage,
// CloseWebSocket and a denial's SendData / unheld SendHead view the event given to
// on_app_send(); a held-back denial start lives in the cycle; the 403 and 500 are static.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "protocol/asgi/http_cycle.hpp"
#include "protocol/asgi/websocket_events.hpp"
#include "protocol/core/result.hpp"

namespace lancet::asgi {

// ---- actions: what the server must do --------------------------------------------------------

/// Answer the handshake with 101 (the server adds the RFC 6455 headers; `subprotocol` is empty
/// for none).
struct AcceptWebSocket {
  std::string_view subprotocol;
  std::span<const http1::Header> headers;
};
/// Send one message.
struct SendWebSocketMessage {
  std::string_view data;
  bool text = false;
};
/// Send our close frame (the server finishes the closing handshake).
struct CloseWebSocket {
  std::uint16_t code = 1000;
  std::string_view reason;
};

/// HTTP actions (SendHead, SendData, SendEnd, Abort) answer the handshake with an HTTP response:
/// the 403, a denial response, or a 500.
using WebSocketAction =
    std::variant<AcceptWebSocket, SendWebSocketMessage, CloseWebSocket, SendHead, SendData,
                 SendEnd, Abort>;

/// Stable action name for traces: "accept", "send_message", "close", "send_head", ...
std::string_view action_name(const WebSocketAction& action) noexcept;

/// The actions of one call, in order; at most three (a head, its data, its end). No allocation.
class WebSocketActions {
 public:
  static constexpr std::size_t kCapacity = 3;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const WebSocketAction& operator[](std::size_t i) const noexcept { return items_[i]; }
  const WebSocketAction* begin() const noexcept { return items_.data(); }
  const WebSocketAction* end() const noexcept { return items_.data() + size_; }
  /// Appends an action; more than kCapacity is a bug in the cycle (asserted).
  void push(WebSocketAction action) noexcept;

 private:
  std::array<WebSocketAction, kCapacity> items_{};
  std::size_t size_ = 0;
};

// ---- the cycle -------------------------------------------------------------------------------

/// Where the app's side of the connection is.
enum class WebSocketState : std::uint8_t {
  handshake,   ///< waiting for websocket.accept, websocket.close or a denial response
  responding,  ///< a denial response started: its body until more_body=false
  open,        ///< accepted: messages both ways
  closed,      ///< the app closed, or its 403 / denial / 500 answered the handshake
};

/// Stable name for traces: "handshake", "responding", "open", "closed".
std::string_view to_string(WebSocketState state) noexcept;

class WebSocketCycle {
 public:
  WebSocketCycle() noexcept;

  // ---- send side (app -> server) -------------------------------------------------------------
  /// Checks the event's order, then the event (validate_websocket_event), and returns what to
  /// do. A rejected event changes nothing. Errors (local unless noted):
  ///   - unexpected_event: wrong order, e.g. "expected 'websocket.accept', 'websocket.close' or
  ///     'websocket.http.response.start', got 'websocket.send'" (a send before the accept).
  ///   - event_after_response: anything after the app's websocket.close ("unexpected
  ///     'websocket.send' after 'websocket.close'") or after the handshake was denied.
  ///   - the disconnect error (origin remote; is_disconnect_error()): a send after the
  ///     connection is gone (a close then is accepted and does nothing).
  ///   - invalid_event_field, invalid_status, invalid_response_header_*: the event's content.
  Result<WebSocketActions> on_app_send(const WebSocketSendEvent& event);
  /// The app's coroutine ended: a 500 if the handshake was never answered, Abort for an
  /// unfinished denial response, close 1000 (returned) or 1011 (raised) if open, else
  /// nothing. Afterwards the cycle is closed; calling it again returns nothing.
  WebSocketActions on_app_exit(Outcome outcome);

  // ---- receive side (server -> app) ----------------------------------------------------------
  /// A whole message from the client (ignored once the app closed or the connection is gone).
  void on_message(std::string data, bool text);
  /// The connection closed with `code` and `reason` (the client's close, a violation, a ping
  /// timeout, the server's shutdown). Only the first report counts.
  void on_closed(std::uint16_t code, std::string_view reason);
  /// The transport is gone without a close (code 1006).
  void on_disconnect() { on_closed(1006, {}); }
  /// What the app's receive() gets now, or nullopt: wait for on_message() / on_closed().
  std::optional<WebSocketReceiveEvent> next_receive();
  /// Messages handed to the app since the last take_consumed() (the backend may post that many
  /// more: the bridge reports them, batched).
  std::size_t consumed() const noexcept { return consumed_; }
  /// consumed(), reset to zero.
  std::size_t take_consumed() noexcept { return std::exchange(consumed_, 0); }

  // ---- state ---------------------------------------------------------------------------------
  WebSocketState state() const noexcept { return state_; }
  /// The connection is gone (on_closed / on_disconnect was called).
  bool is_disconnected() const noexcept { return disconnected_; }
  /// Nothing more will be sent: the app closed or answered over HTTP, or the connection is gone.
  bool is_done() const noexcept { return state_ == WebSocketState::closed || disconnected_; }
  /// Messages waiting for receive().
  std::size_t pending_messages() const noexcept { return messages_.size(); }

 private:
  Result<WebSocketActions> on_handshake(const WebSocketSendEvent& event);
  Result<WebSocketActions> on_responding(const WebSocketSendEvent& event);
  Result<WebSocketActions> on_open(const WebSocketSendEvent& event);
  void add_http(WebSocketActions& out, const Actions& http);
  void close_by_app(std::uint16_t code, std::string_view reason);

  WebSocketState state_ = WebSocketState::handshake;
  HttpCycle denial_;  // the 403-less HTTP answers: a denial response, or the 500 on exit
  bool connect_delivered_ = false;
  bool disconnected_ = false;
  bool denied_ = false;  // the handshake was answered over HTTP (403, denial, 500)
  std::uint16_t close_code_ = 1006;  // for websocket.disconnect
  std::string close_reason_;
  std::deque<WebSocketReceive> messages_;
  std::size_t consumed_ = 0;
};

}  // namespace lancet::asgi
