// See websocket_cycle.hpp and websocket_cycle.md.
#include "protocol/asgi/websocket_cycle.hpp"

namespace lancet::asgi {
namespace {

// Index of each send event kind in WebSocketSendEvent.
constexpr std::size_t kAccept = 0;
constexpr std::size_t kSend = 1;
constexpr std::size_t kClose = 2;
constexpr std::size_t kStart = 3;
constexpr std::size_t kBody = 4;

// [got]: the unexpected_event message in each state that has one.
constexpr const char* kInHandshake[5] = {
    "",
    "expected 'websocket.accept', 'websocket.close' or 'websocket.http.response.start', got "
    "'websocket.send'",
    "",
    "",
    "expected 'websocket.accept', 'websocket.close' or 'websocket.http.response.start', got "
    "'websocket.http.response.body'",
};
constexpr const char* kInResponding[5] = {
    "expected 'websocket.http.response.body', got 'websocket.accept'",
    "expected 'websocket.http.response.body', got 'websocket.send'",
    "expected 'websocket.http.response.body', got 'websocket.close'",
    "expected 'websocket.http.response.body', got 'websocket.http.response.start'",
    "",
};
constexpr const char* kInOpen[5] = {
    "expected 'websocket.send' or 'websocket.close', got 'websocket.accept'",
    "",
    "",
    "expected 'websocket.send' or 'websocket.close', got 'websocket.http.response.start'",
    "expected 'websocket.send' or 'websocket.close', got 'websocket.http.response.body'",
};
constexpr const char* kAfterClose[5] = {
    "unexpected 'websocket.accept' after 'websocket.close'",
    "unexpected 'websocket.send' after 'websocket.close'",
    "unexpected 'websocket.close' after 'websocket.close'",
    "unexpected 'websocket.http.response.start' after 'websocket.close'",
    "unexpected 'websocket.http.response.body' after 'websocket.close'",
};
constexpr const char* kAfterDenial[5] = {
    "unexpected 'websocket.accept' after the handshake was answered over HTTP",
    "unexpected 'websocket.send' after the handshake was answered over HTTP",
    "unexpected 'websocket.close' after the handshake was answered over HTTP",
    "unexpected 'websocket.http.response.start' after the handshake was answered over HTTP",
    "unexpected 'websocket.http.response.body' after the handshake was answered over HTTP",
};

// ASGI: "If this is sent before the socket is accepted, the server must close the connection
// with a HTTP 403 error code (Forbidden)". Empty, as uvicorn's (websockets') 403.
constexpr std::array<http1::Header, 1> kForbiddenHeaders{{{"content-length", "0"}}};

unexpected error(Errc code, const char* detail) noexcept {
  return unexpected(make_local_error(code, detail));
}

}  // namespace

// ---- WebSocketActions ------------------------------------------------------------------------

void WebSocketActions::push(WebSocketAction action) noexcept {
  LANCET_ASSERT(size_ < kCapacity, "a WebSocketCycle call produced more than kCapacity actions");
  if (size_ < kCapacity) items_[size_++] = action;
}

std::string_view action_name(const WebSocketAction& action) noexcept {
  switch (action.index()) {
    case 0: return "accept";
    case 1: return "send_message";
    case 2: return "close";
    case 3: return "send_head";
    case 4: return "send_data";
    case 5: return "send_end";
    default: return "abort";
  }
}

std::string_view to_string(WebSocketState state) noexcept {
  switch (state) {
    case WebSocketState::handshake: return "handshake";
    case WebSocketState::responding: return "responding";
    case WebSocketState::open: return "open";
    case WebSocketState::closed: return "closed";
  }
  return "unknown";
}

// ---- send side -------------------------------------------------------------------------------

WebSocketCycle::WebSocketCycle() noexcept : denial_(CycleOptions{false, true}) {}

Result<WebSocketActions> WebSocketCycle::on_app_send(const WebSocketSendEvent& event) {
  const std::size_t kind = event.index();
  if (state_ == WebSocketState::closed) {
    return error(Errc::event_after_response, denied_ ? kAfterDenial[kind] : kAfterClose[kind]);
  }
  if (disconnected_) {
    if (kind == kClose) return WebSocketActions{};  // closing a gone connection: nothing to do
    return unexpected(make_disconnect_error());
  }
  switch (state_) {
    case WebSocketState::handshake: return on_handshake(event);
    case WebSocketState::responding: return on_responding(event);
    default: return on_open(event);
  }
}

Result<WebSocketActions> WebSocketCycle::on_handshake(const WebSocketSendEvent& event) {
  WebSocketActions out;
  switch (event.index()) {
    case kAccept: {
      LANCET_TRY(validate_websocket_event(event));
      const auto& accept = std::get<WebSocketAccept>(event);
      out.push(AcceptWebSocket{accept.subprotocol.value_or(std::string_view{}), accept.headers});
      state_ = WebSocketState::open;
      return out;
    }
    case kClose:
      out.push(SendHead{403, kForbiddenHeaders});
      out.push(SendEnd{});
      denied_ = true;
      close_by_app(1006, {});
      return out;
    case kStart: {
      LANCET_TRY(validate_websocket_event(event));
      const auto& start = std::get<WebSocketHttpResponseStart>(event);
      auto http = denial_.on_app_send(HttpResponseStart{start.status, start.headers, false});
      if (!http) return unexpected(http.error());
      add_http(out, *http);
      state_ = WebSocketState::responding;
      return out;
    }
    default: return error(Errc::unexpected_event, kInHandshake[event.index()]);
  }
}

Result<WebSocketActions> WebSocketCycle::on_responding(const WebSocketSendEvent& event) {
  if (event.index() != kBody) return error(Errc::unexpected_event, kInResponding[event.index()]);
  const auto& body = std::get<WebSocketHttpResponseBody>(event);
  auto http = denial_.on_app_send(HttpResponseBody{body.body, body.more_body});
  if (!http) return unexpected(http.error());
  WebSocketActions out;
  add_http(out, *http);
  if (denial_.is_done()) {
    denied_ = true;
    close_by_app(1006, {});
  }
  return out;
}

Result<WebSocketActions> WebSocketCycle::on_open(const WebSocketSendEvent& event) {
  const std::size_t kind = event.index();
  if (kind != kSend && kind != kClose) return error(Errc::unexpected_event, kInOpen[kind]);
  LANCET_TRY(validate_websocket_event(event));
  WebSocketActions out;
  if (kind == kSend) {
    const auto& send = std::get<WebSocketSend>(event);
    out.push(send.text ? SendWebSocketMessage{*send.text, true}
                       : SendWebSocketMessage{*send.bytes, false});
    return out;
  }
  const auto& close = std::get<WebSocketClose>(event);
  const auto code = static_cast<std::uint16_t>(close.code);  // validated: 1000..4999
  out.push(CloseWebSocket{code, close.reason});
  close_by_app(code, close.reason);
  return out;
}

void WebSocketCycle::add_http(WebSocketActions& out, const Actions& http) {
  for (const Action& action : http) {
    if (const auto* head = std::get_if<SendHead>(&action)) {
      out.push(*head);
    } else if (const auto* data = std::get_if<SendData>(&action)) {
      out.push(*data);
    } else if (const auto* end = std::get_if<SendEnd>(&action)) {
      out.push(*end);
    } else {
      out.push(Abort{});  // SendFile cannot come: no pathsend event exists here
    }
  }
}

void WebSocketCycle::close_by_app(std::uint16_t code, std::string_view reason) {
  state_ = WebSocketState::closed;
  messages_.clear();
  if (!disconnected_) {
    close_code_ = code;
    close_reason_.assign(reason);
  }
}

WebSocketActions WebSocketCycle::on_app_exit(Outcome outcome) {
  WebSocketActions out;
  switch (state_) {
    case WebSocketState::handshake:
    case WebSocketState::responding:
      // Nothing answered yet: 500 (uvicorn: "ASGI callable returned without sending
      // handshake"), or Abort for a denial response cut short. HttpCycle decides which.
      if (disconnected_) denial_.on_disconnect();
      add_http(out, denial_.on_app_exit(outcome));
      denied_ = true;
      close_by_app(1006, {});
      break;
    case WebSocketState::open:
      // RFC 6455 §7.4.1: 1000 "normal closure"; 1011 "an unexpected condition that prevented
      // it from fulfilling the request".
      if (!disconnected_) out.push(CloseWebSocket{outcome == Outcome::raised ? std::uint16_t{1011}
                                                                             : std::uint16_t{1000},
                                                  {}});
      close_by_app(outcome == Outcome::raised ? 1011 : 1000, {});
      break;
    case WebSocketState::closed: break;
  }
  return out;
}

// ---- receive side ----------------------------------------------------------------------------

void WebSocketCycle::on_message(std::string data, bool text) {
  if (state_ == WebSocketState::closed || disconnected_) return;
  messages_.push_back(WebSocketReceive{std::move(data), text});
}

void WebSocketCycle::on_closed(std::uint16_t code, std::string_view reason) {
  if (disconnected_) return;
  disconnected_ = true;
  if (state_ == WebSocketState::closed) return;  // the app's own close stays what it reports
  close_code_ = code;
  close_reason_.assign(reason);
}

std::optional<WebSocketReceiveEvent> WebSocketCycle::next_receive() {
  if (!connect_delivered_) {
    connect_delivered_ = true;
    return WebSocketReceiveEvent{WebSocketConnect{}};
  }
  if (state_ != WebSocketState::closed && !messages_.empty()) {
    WebSocketReceiveEvent event{std::move(messages_.front())};
    messages_.pop_front();
    ++consumed_;
    return event;
  }
  if (state_ == WebSocketState::closed || disconnected_) {
    return WebSocketReceiveEvent{WebSocketDisconnect{close_code_, close_reason_}};
  }
  return std::nullopt;
}

}  // namespace lancet::asgi
