// WebSocketSession. See websocket_session.hpp for the theory of operation.
#include "backends/common/websocket_session.hpp"

#include <algorithm>
#include <cmath>
#include <variant>

namespace lancet::backend::common {
namespace {

using Clock = WebSocketSession::Clock;

// protocol/websocket counts time in milliseconds on the caller's monotonic scale: ours is the
// steady clock's epoch.
std::uint64_t to_ms(Clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

Clock::time_point from_ms(std::uint64_t ms) {
  return Clock::time_point(std::chrono::milliseconds(ms));
}

std::uint64_t seconds_to_ms(double seconds) {
  return seconds > 0 ? static_cast<std::uint64_t>(std::llround(seconds * 1000.0)) : 0;
}

}  // namespace

bool send_handshake_rejection(http1::ServerConnection& http, const Error& error) {
  const websocket::Rejection rejection = websocket::make_rejection(error);
  const std::vector<http1::Header> fields = websocket::header_views(rejection.headers);
  return http.send(http1::ResponseHead{rejection.status, fields, {}}) &&
         http.send_data(rejection.body) && http.send_end();
}

WebSocketSession::WebSocketSession(const ServerConfig& config, ExchangeId id,
                                   std::shared_ptr<ExchangeFlow> flow,
                                   websocket::HandshakeRequest request)
    : config_(config), id_(id), flow_(std::move(flow)), request_(std::move(request)) {}

WebSocketRequested WebSocketSession::requested(asgi::HttpScope scope) const {
  asgi::to_websocket_scope(scope);
  return WebSocketRequested{id_, std::move(scope), request_.subprotocols, flow_};
}

// ---- the app's ops ----------------------------------------------------------------------------

void WebSocketSession::on_app_op(Outbound& op, http1::ServerConnection& http,
                                 Clock::time_point now, Io io) {
  if (auto* accept_op = std::get_if<WsAccept>(&op)) {
    accept(*accept_op, http, now);
  } else if (auto* send_op = std::get_if<WsSend>(&op)) {
    send(*send_op, io);
  } else if (auto* close_op = std::get_if<WsClose>(&op)) {
    close(*close_op, now);
  }
  note_state(now);
}

void WebSocketSession::accept(WsAccept& op, http1::ServerConnection& http,
                              Clock::time_point now) {
  if (conn_ || failed_ || app_done_) return;
  websocket::DeflateConfig deflate;
  deflate.enabled = config_.ws.per_message_deflate;
  auto acceptance = websocket::make_acceptance(request_, op.subprotocol, deflate);
  if (!acceptance) {
    failed_ = true;  // the app side validated the subprotocol: not expected
    return;
  }
  std::vector<http1::Header> fields = websocket::header_views(acceptance->headers);
  for (const Header& h : config_.default_headers) fields.push_back({h.name, h.value});
  for (const Header& h : op.headers) fields.push_back({h.name, h.value});
  if (!http.send(http1::ResponseHead{101, fields, {}})) {
    failed_ = true;  // e.g. the request had a body still arriving: no 101 (RFC 9110 §15.2.2)
    return;
  }
  prefix_ = http.take_output();
  websocket::Options options;
  options.max_message_bytes = config_.ws.max_message_bytes;
  options.deflate = acceptance->deflate;
  options.ping_interval_ms = seconds_to_ms(config_.ws.ping_interval);
  options.ping_timeout_ms = seconds_to_ms(config_.ws.ping_timeout);
  conn_.emplace(options, to_ms(now));
  conn_->receive_data(http.trailing_data());
}

void WebSocketSession::send(WsSend& op, Io io) {
  const std::size_t n = op.data.size();
  std::size_t queued = 0;
  if (conn_ && !app_done_ && conn_->state() == websocket::State::open) {
    const std::size_t before = conn_->pending_output_bytes();
    const auto sent = op.text ? conn_->send_text(op.data) : conn_->send_binary(op.data);
    if (sent) queued = std::min(n, conn_->pending_output_bytes() - before);
  }
  const auto drained = [&io](Drained d) { io.outbox.push_back(d); };
  io.sends.on_body(id_, flow_, queued, n - queued, drained);
}

void WebSocketSession::close(WsClose& op, Clock::time_point now) {
  if (!conn_ || app_done_) return;
  app_done_ = true;
  if (conn_->state() != websocket::State::open) return;  // a Close event is on its way
  if (!conn_->send_close(op.code, op.reason)) {
    [[maybe_unused]] const auto r = conn_->send_close(websocket::kCloseInternalError);
  }
  note_state(now);
}

void WebSocketSession::on_consumed(std::size_t messages) noexcept {
  consumed_ = std::min<std::uint64_t>(consumed_ + messages, posted_);
}

void WebSocketSession::on_drain(Clock::time_point now, Io io) {
  if (!conn_ || app_done_ || conn_->state() != websocket::State::open) return;
  constexpr std::string_view kReason = "server shutting down";
  [[maybe_unused]] const auto r = conn_->send_close(websocket::kCloseGoingAway, kReason);
  io.outbox.push_back(WebSocketClosed{id_, std::string(kReason), websocket::kCloseGoingAway});
  app_done_ = true;
  note_state(now);
}

// ---- the wire ---------------------------------------------------------------------------------

void WebSocketSession::receive_data(std::string_view bytes) {
  if (conn_) conn_->receive_data(bytes);
}

void WebSocketSession::receive_eof() noexcept {
  if (conn_) conn_->receive_eof();
}

bool WebSocketSession::queue_full() const noexcept {
  return !app_done_ && posted_ - consumed_ >= std::max<std::size_t>(config_.ws.max_queue, 1);
}

void WebSocketSession::pump(Clock::time_point now, Io io) {
  if (!conn_) return;
  // At the bound, only a Close already decided (a ping timeout) may still come out: a closed
  // connection returns it before decoding anything.
  while (!queue_full() || conn_->state() == websocket::State::closed) {
    websocket::Event event = conn_->next_event();
    if (std::holds_alternative<websocket::NeedData>(event)) break;
    if (const auto* text = std::get_if<websocket::Text>(&event)) {
      if (app_done_) continue;  // the app closed: the closing handshake drops messages
      io.outbox.push_back(WebSocketReceived{id_, std::string(text->data), true});
      ++posted_;
    } else if (const auto* binary = std::get_if<websocket::Binary>(&event)) {
      if (app_done_) continue;
      io.outbox.push_back(WebSocketReceived{id_, std::string(binary->data), false});
      ++posted_;
    } else if (const auto* close = std::get_if<websocket::Close>(&event)) {
      if (!app_done_) {
        io.outbox.push_back(WebSocketClosed{id_, std::string(close->reason), close->code});
        app_done_ = true;
      }
    }
    // Ping (already answered) and Pong: nothing for the app.
  }
  note_state(now);
}

void WebSocketSession::on_timer(Clock::time_point now, Io io) {
  if (!conn_) return;
  if (close_deadline_ && now >= *close_deadline_) {
    timed_out_ = true;
    return;
  }
  if (queue_full()) return;  // keepalive pauses with the reading
  conn_->on_timer(to_ms(now));
  pump(now, io);  // a ping timeout's Close event
}

std::optional<Clock::time_point> WebSocketSession::deadline() const noexcept {
  std::optional<Clock::time_point> at = close_deadline_;
  if (conn_ && !queue_full()) {
    if (const auto ping = conn_->next_deadline()) {
      at = at ? std::min(*at, from_ms(*ping)) : from_ms(*ping);
    }
  }
  return at;
}

void WebSocketSession::note_state(Clock::time_point now) noexcept {
  if (conn_ && !close_deadline_ && conn_->state() != websocket::State::open) {
    close_deadline_ = now + kCloseTimeout;
  }
}

// ---- output -----------------------------------------------------------------------------------

std::size_t WebSocketSession::pending_output(std::span<std::string_view> out) const {
  std::size_t n = 0;
  if (prefix_pos_ < prefix_.size() && !out.empty()) {
    out[n++] = std::string_view(prefix_).substr(prefix_pos_);
  }
  if (conn_) n += conn_->pending_output(out.subspan(n));
  return n;
}

std::size_t WebSocketSession::pending_output_bytes() const noexcept {
  return prefix_.size() - prefix_pos_ + (conn_ ? conn_->pending_output_bytes() : 0);
}

void WebSocketSession::consume_output(std::size_t n) {
  const std::size_t from_prefix = std::min(n, prefix_.size() - prefix_pos_);
  prefix_pos_ += from_prefix;
  n -= from_prefix;
  if (prefix_pos_ == prefix_.size() && prefix_pos_ > 0) {
    prefix_.clear();
    prefix_pos_ = 0;
  }
  if (n > 0 && conn_) conn_->consume_output(n);
}

// ---- state ------------------------------------------------------------------------------------

bool WebSocketSession::wants_read() const noexcept {
  return conn_ && conn_->wants_read() && !queue_full();
}

bool WebSocketSession::should_close() const noexcept {
  return conn_ && conn_->state() == websocket::State::closed && pending_output_bytes() == 0;
}

}  // namespace lancet::backend::common
