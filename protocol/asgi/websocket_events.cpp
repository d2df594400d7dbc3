// See websocket_events.hpp. Messages say what was expected and what came (uvicorn's tone).
#include "protocol/asgi/websocket_events.hpp"

#include "protocol/asgi/events.hpp"
#include "protocol/http1/syntax.hpp"
#include "protocol/websocket/frame.hpp"

namespace lancet::asgi {
namespace {

unexpected invalid(const char* detail) {
  return unexpected(make_local_error(Errc::invalid_event_field, detail));
}

Result<void> validate_accept(const WebSocketAccept& accept) {
  if (accept.subprotocol && !http1::is_token(*accept.subprotocol)) {
    return invalid(
        "expected 'subprotocol' of 'websocket.accept' to be an RFC 9110 token, got an empty "
        "string or one with a character outside tchar");
  }
  for (const http1::Header& h : accept.headers) {
    if (http1::iequals(h.name, "sec-websocket-protocol")) {
      return invalid(
          "expected no 'sec-websocket-protocol' header in 'websocket.accept' (use its "
          "'subprotocol' key), got one");
    }
  }
  return validate_headers(accept.headers);
}

Result<void> validate_send(const WebSocketSend& send) {
  if (send.bytes.has_value() == send.text.has_value()) {
    return invalid(send.bytes ? "expected exactly one of 'bytes' and 'text' in 'websocket.send', "
                                "got both"
                              : "expected exactly one of 'bytes' and 'text' in 'websocket.send', "
                                "got neither");
  }
  return ok();
}

Result<void> validate_close(const WebSocketClose& close) {
  // RFC 6455 §7.4.1/§7.4.2: 1005, 1006 and 1015 "MUST NOT be set as a status code in a Close
  // control frame"; 1004 is reserved; the core also refuses 1012-2999 (see frame.hpp).
  if (close.code < 0 || close.code > 0xffff ||
      !websocket::is_valid_close_code(static_cast<std::uint16_t>(close.code))) {
    return invalid(
        "expected 'code' of 'websocket.close' to be a close code allowed on the wire "
        "(1000-1003, 1007-1011 or 3000-4999), got another value");
  }
  if (close.reason.size() > websocket::kMaxCloseReason) {
    return invalid(
        "expected 'reason' of 'websocket.close' to be at most 123 bytes of UTF-8 (RFC 6455 "
        "§5.5), got a longer one");
  }
  return ok();
}

Result<void> validate_response_start(const WebSocketHttpResponseStart& start) {
  if (start.status < 200 || start.status > 599) {
    return unexpected(make_local_error(
        Errc::invalid_status,
        "expected 'status' of 'websocket.http.response.start' to be an integer from 200 to "
        "599, got a value out of range"));
  }
  return validate_headers(start.headers);
}

}  // namespace

std::string_view event_type(const WebSocketReceiveEvent& event) noexcept {
  switch (event.index()) {
    case 0: return "websocket.connect";
    case 1: return "websocket.receive";
    default: return "websocket.disconnect";
  }
}

std::string_view event_type(const WebSocketSendEvent& event) noexcept {
  switch (event.index()) {
    case 0: return "websocket.accept";
    case 1: return "websocket.send";
    case 2: return "websocket.close";
    case 3: return "websocket.http.response.start";
    default: return "websocket.http.response.body";
  }
}

Result<void> validate_websocket_event(const WebSocketSendEvent& event) {
  switch (event.index()) {
    case 0: return validate_accept(std::get<WebSocketAccept>(event));
    case 1: return validate_send(std::get<WebSocketSend>(event));
    case 2: return validate_close(std::get<WebSocketClose>(event));
    case 3: return validate_response_start(std::get<WebSocketHttpResponseStart>(event));
    default: return ok();
  }
}

}  // namespace lancet::asgi
