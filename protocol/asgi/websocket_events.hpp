// ASGI 3.0 WebSocket events as C++ values: what `receive()` gives the app and what `send()`
// takes on a 'websocket' scope, plus the per-event validation. The order rules live in
// websocket_cycle.hpp.
//
// Layer: protocol/asgi. Pure data. As for HTTP (events.hpp), send events hold views into the
// app's objects (the bridge) or a parser's storage; receive events own their bytes.
//
// Spec: ASGI HTTP & WebSocket spec 2.5 (kWebSocketSpecVersion): 2.1 headers in
// websocket.accept, 2.3 reason in websocket.close, 2.4 send() on a closed connection raises an
// OSError subclass, 2.5 reason in websocket.disconnect; plus the "websocket.http.response"
// extension (the denial response: websocket.http.response.start / .body).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/result.hpp"
#include "protocol/http1/message.hpp"

namespace lancet::asgi {

/// scope["asgi"]["spec_version"] of a 'websocket' scope. uvicorn 0.17.6 reports "2.3".
inline constexpr std::string_view kWebSocketSpecVersion = "2.5";

// ---- receive events (server -> app) ----------------------------------------------------------

/// `websocket.connect`: the first event, before the app accepts or denies.
struct WebSocketConnect {
  friend bool operator==(const WebSocketConnect&, const WebSocketConnect&) = default;
};

/// `websocket.receive`: one whole message (text: valid UTF-8, checked by protocol/websocket).
struct WebSocketReceive {
  std::string data;
  bool text = false;
  friend bool operator==(const WebSocketReceive&, const WebSocketReceive&) = default;
};

/// `websocket.disconnect`: the connection is over. `code` is the close code (RFC 6455 §7.4):
/// the client's (1005 when its close frame had none), the one we sent for a violation (1002,
/// 1007, 1009) or a ping timeout (1011), 1001 at server shutdown, the app's own after its
/// websocket.close, or 1006 when the transport ended without a close frame.
struct WebSocketDisconnect {
  std::uint16_t code = 1005;
  std::string reason;
  friend bool operator==(const WebSocketDisconnect&, const WebSocketDisconnect&) = default;
};

using WebSocketReceiveEvent = std::variant<WebSocketConnect, WebSocketReceive, WebSocketDisconnect>;

/// "websocket.connect", "websocket.receive" or "websocket.disconnect".
std::string_view event_type(const WebSocketReceiveEvent& event) noexcept;

// ---- send events (app -> server) -------------------------------------------------------------

/// `websocket.accept`.
struct WebSocketAccept {
  std::optional<std::string_view> subprotocol;  ///< none: no Sec-WebSocket-Protocol answered
  std::span<const http1::Header> headers;       ///< extra 101 headers (spec 2.1)
};

/// `websocket.send`: exactly one of `bytes` and `text` must be set (not None).
struct WebSocketSend {
  std::optional<std::string_view> bytes;
  std::optional<std::string_view> text;  ///< UTF-8 (the bridge encodes a Python str)
};

/// `websocket.close`. `code` is wide so that an out-of-range value can be reported.
struct WebSocketClose {
  std::int64_t code = 1000;
  std::string_view reason;
};

/// `websocket.http.response.start` (the denial response extension).
struct WebSocketHttpResponseStart {
  std::int64_t status = 200;
  std::span<const http1::Header> headers;
};

/// `websocket.http.response.body` (the denial response extension).
struct WebSocketHttpResponseBody {
  std::string_view body;
  bool more_body = false;
};

using WebSocketSendEvent = std::variant<WebSocketAccept, WebSocketSend, WebSocketClose,
                                        WebSocketHttpResponseStart, WebSocketHttpResponseBody>;

/// The message type, e.g. "websocket.accept".
std::string_view event_type(const WebSocketSendEvent& event) noexcept;

// ---- validation ------------------------------------------------------------------------------

/// Checks one send event on its own (not its order). Errors (local):
///   - invalid_event_field: an accept subprotocol that is not an RFC 9110 token; an accept
///     header named sec-websocket-protocol (the spec says to use 'subprotocol'); a send with
///     both or neither of 'bytes' and 'text'; a close code RFC 6455 §7.4 does not allow on
///     the wire (only 1000-1003, 1007-1011 and 3000-4999 are); a close reason over 123 bytes.
///   - invalid_status: a denial response status outside 200..599.
///   - invalid_response_header_name, invalid_response_header_value: accept or denial headers.
/// WebSocketCycle does not check a close sent before the accept: that is a 403 whatever its code.
Result<void> validate_websocket_event(const WebSocketSendEvent& event);

}  // namespace lancet::asgi
