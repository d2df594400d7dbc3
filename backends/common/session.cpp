// The protocol side of one client connection. See session.hpp for the theory of operation.
#include "backends/common/session.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <variant>

#include "backends/common/body.hpp"
#include "protocol/asgi/proxy.hpp"
#include "protocol/http1/date.hpp"
#include "protocol/websocket/handshake.hpp"

namespace lancet::backend::common {
namespace {

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

// --limit-concurrency: answered natively (uvicorn answers 503 "Service Unavailable" too). No
// Errc names this, so the error carries only the status hint and the body text.
const Error kUnavailable{Errc::bad_request, Origin::local, 503, 0, "Service Unavailable"};

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

Session::Session(const ServerConfig& config, Host& host, std::vector<Inbound>& outbox,
                 std::optional<asgi::Address> peer, std::optional<asgi::Address> local,
                 Clock::time_point now)
    : config_(config),
      host_(host),
      outbox_(outbox),
      http_(config.http),
      opened_(now),
      idle_since_(now),
      head_since_(now) {
  info_.client = std::move(peer);
  info_.server = std::move(local);
  info_.root_path = config_.root_path;
}

void Session::close(Closing how) noexcept { closing_ = std::max(closing_, how); }

// ---- a turn -----------------------------------------------------------------------------------

void Session::set_date(std::int64_t unix_second) {
  if (unix_second == date_second_) return;
  date_second_ = unix_second;
  http_.set_date(http1::format_http_date(unix_second));
}

// Graceful shutdown: every later response says Connection: close; a connection with no request
// in progress and nothing to write closes now; in-flight ones close after their response.
void Session::on_drain(Clock::time_point now) {
  if (!drain_seen_) {
    drain_seen_ = true;
    http_.request_close();
  }
  if (websocket_open()) {
    ws_->on_drain(now, websocket_io());  // close 1001; idempotent
    after_websocket();
  }
  if (closing_ == Closing::no && !ex_.in_request && !has_output() && !host_.sending_file()) {
    closing_ = Closing::now;
  }
}

void Session::on_credit(ExchangeId id, std::size_t n) {
  if (id != ex_.id || !ex_.with_app()) return;
  if (ws_) {
    ws_->on_consumed(n);  // messages_consumed(): WebSocket messages, not body bytes
    return;
  }
  ex_.consumed = std::min(ex_.consumed + n, ex_.posted);
  if (ex_.expects_continue && !ex_.continue_sent && !ex_.body_complete &&
      http_.our_state() == http1::State::idle) {
    // uvicorn writes 100 Continue when the app first calls receive(); so do we.
    ex_.continue_sent = true;
    [[maybe_unused]] const auto r = http_.send(http1::ResponseHead{100, {}, {}});
  }
}

void Session::on_op(ExchangeId id, Outbound& op, Clock::time_point now) {
  if (id != ex_.id || !ex_.with_app() || closing_ == Closing::now) return;
  std::visit(Overloaded{
                 [&](SendHead& head) { apply_head(head); },
                 [&](SendData& data) { apply_data(data); },
                 [&](SendEnd& end) { apply_end(end); },
                 [&](SendFile& file) { apply_file(file.path); },
                 [&](Abort&) {
                   // What the app already sent goes out (as uvicorn's transport.close() does);
                   // the response is left unfinished and the connection closes after it.
                   app_finished();
                   close(Closing::after_flush);
                 },
                 [&](WsAccept&) { apply_websocket(op, now); },
                 [&](WsSend&) { apply_websocket(op, now); },
                 [&](WsClose&) { apply_websocket(op, now); },
             },
             op);
}

void Session::pump(Clock::time_point now) {
  if (websocket_open()) {
    if (closing_ == Closing::no) ws_->pump(now, websocket_io());
    after_websocket();
    return;
  }
  while (closing_ == Closing::no) {
    auto event = http_.next_event();
    if (!event) {
      end_exchange(true);  // a bad body mid-request: the app's request is gone
      http_.send_error_response(event.error());  // a no-op once a response has started
      close(Closing::after_flush);
      break;
    }
    if (auto* head = std::get_if<http1::RequestHead>(&*event)) {
      on_head(*head);
    } else if (auto* data = std::get_if<http1::Data>(&*event)) {
      on_data(data->bytes);
    } else if (std::holds_alternative<http1::EndOfMessage>(*event)) {
      ex_.body_complete = true;
    } else if (std::holds_alternative<http1::ConnectionClosed>(*event)) {
      close(Closing::after_flush);  // the client closed between requests
    } else {
      break;  // NeedData or Paused
    }
  }
  post_body();
}

bool Session::advance_cycle(Clock::time_point now) {
  if (closing_ != Closing::no || websocket_open()) return false;
  const http1::State ours = http_.our_state();
  if (ours == http1::State::must_close || ours == http1::State::error || http_.should_close()) {
    closing_ = Closing::after_flush;
    return false;
  }
  if (ours != http1::State::done || http_.their_state() != http1::State::done) return false;
  if (drain_seen_) {
    closing_ = Closing::after_flush;
    return false;
  }
  if (host_.sending_file()) return false;
  if (!http_.start_next_cycle()) {
    closing_ = Closing::after_flush;
    return false;
  }
  ex_ = Exchange{};
  fresh_ = false;
  idle_since_ = head_since_ = now;
  head_started_ = !http_.trailing_data().empty();
  return true;
}

// ---- app side -> wire -------------------------------------------------------------------------

void Session::apply_head(SendHead& head) {
  fields_.clear();
  if (head.status >= 200) {
    for (const Header& h : config_.default_headers) fields_.push_back({h.name, h.value});
  }
  for (const Header& h : head.headers) fields_.push_back({h.name, h.value});
  if (!http_.send(http1::ResponseHead{head.status, fields_, {}})) local_failure();
}

void Session::apply_data(SendData& data) {
  auto [body, hold] = data.take();  // the app's buffer, or its bytes moved: never copied
  const std::size_t n = body.size();
  const std::size_t before = http_.pending_output_bytes();
  if (!http_.send_data(body, std::move(hold))) return local_failure();
  // Bytes http1 dropped (HEAD, 204, 304) will never be written: release them now.
  const std::size_t queued = std::min(n, http_.pending_output_bytes() - before);
  const auto drained = [this](Drained d) { outbox_.push_back(d); };
  sends_.on_body(ex_.id, ex_.flow, queued, n - queued, drained);
}

void Session::apply_end(SendEnd& end) {
  fields_.clear();
  for (const Header& h : end.trailers) fields_.push_back({h.name, h.value});
  if (!http_.send_end(fields_)) return local_failure();
  app_finished();
}

// http.response.pathsend: the head went out already; the backend sends the file's bytes as the
// body and ends the response. The app is done with the exchange now. A response with no body on
// the wire (HEAD, 204, 304) ends here: reading a file only to drop it would cost its whole
// size, and forever for an endless one (/dev/zero).
void Session::apply_file(const std::string& path) {
  if (http_.body_framing() == http1::BodyFraming::none) {
    if (!http_.send_end()) return local_failure();
    app_finished();
    return;
  }
  if (!host_.open_file(path)) {
    end_exchange(true);  // the head is out: nothing valid can follow
    closing_ = Closing::now;
    return;
  }
  app_finished();
}

// The accept may take http1's output: backends call on_op() only while no write of
// pending_output() views is in flight.
void Session::apply_websocket(Outbound& op, Clock::time_point now) {
  if (!ws_) return;
  ws_->on_app_op(op, http_, now, websocket_io());
  after_websocket();
}

// The app asked for something http1 refuses (e.g. more body than its Content-Length): the
// response cannot be completed, so the app is told the client is gone and the connection closes.
void Session::local_failure() {
  end_exchange(true);
  close(Closing::after_flush);
}

void Session::app_finished() {
  if (!ex_.with_app()) return;
  ex_.ended = true;
  host_.end_exchange(ex_.id);
}

void Session::end_exchange(bool client_gone) {
  if (!ex_.with_app()) return;
  if (client_gone) outbox_.push_back(ClientGone{ex_.id});
  app_finished();
}

// ---- wire -> app side -------------------------------------------------------------------------

void Session::on_head(const http1::RequestHead& head) {
  ex_ = Exchange{};
  ex_.in_request = true;
  head_started_ = false;
  const classify::Route route = classify::classify(head, config_.probes);
  if (route.kind == classify::RouteKind::probe) {
    answer_probe(route.probe, head.method == "HEAD");
    return;
  }
  if (route.kind == classify::RouteKind::websocket && config_.ws.enabled) {
    begin_websocket(head);
    return;
  }
  if (!begin_exchange()) return;
  ex_.expects_continue = head.expects_continue && head.version == http1::Version::http11;
  ex_.declared = head.content_length;
  // Built where it is posted: a scope is a dozen strings, and a move copies each one's bytes.
  auto& started = std::get<RequestStarted>(outbox_.emplace_back(std::in_place_type<RequestStarted>));
  started.id = ex_.id;
  started.expects_continue = ex_.expects_continue;
  started.flow = ex_.flow;
  try {
    fill_scope(started.scope, head);
  } catch (...) {
    outbox_.pop_back();  // out of memory: post nothing half-built (step() drops the connection)
    throw;
  }
}

bool Session::begin_exchange() {
  const ExchangeId id = host_.begin_exchange();
  if (id == 0) {
    http_.send_error_response(kUnavailable);
    close(Closing::after_flush);
    return false;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  return true;
}

// A WebSocket handshake: an invalid one is answered natively (400, 426); a valid one is posted
// as WebSocketRequested. Whatever answers it over HTTP ends the connection.
void Session::begin_websocket(const http1::RequestHead& head) {
  http_.request_close();
  auto request = websocket::validate_handshake(head);
  if (!request) {
    if (!send_handshake_rejection(http_, request.error())) close(Closing::after_flush);
    return;
  }
  if (!begin_exchange()) return;
  ws_ = std::make_unique<WebSocketSession>(config_, ex_.id, ex_.flow, std::move(*request));
  outbox_.push_back(ws_->requested(make_scope(head)));
}

// What the WebSocket session decided: the exchange is over on the app side; close after the
// output; close now (its close timeout); or the accept failed.
void Session::after_websocket() {
  if (!ws_) return;
  if (ws_->failed()) {
    end_exchange(true);
    close(Closing::after_flush);
    return;
  }
  if (ws_->app_done()) app_finished();
  if (ws_->timed_out()) {
    closing_ = Closing::now;
  } else if (ws_->should_close()) {
    close(Closing::after_flush);
  }
}

void Session::answer_probe(classify::ProbeKind kind, bool head_request) {
  const classify::ProbeResponse response =
      classify::make_probe_response(kind, host_.readiness(), head_request);
  const std::vector<http1::Header> fields = response.header_views();
  const bool ok = http_.send(http1::ResponseHead{response.status, fields, {}}) &&
                  http_.send_data(response.body) && http_.send_end();
  if (!ok) close(Closing::after_flush);
}

asgi::HttpScope Session::make_scope(const http1::RequestHead& head) const {
  asgi::HttpScope scope;
  fill_scope(scope, head);
  return scope;
}

void Session::fill_scope(asgi::HttpScope& scope, const http1::RequestHead& head) const {
  asgi::fill_http_scope(scope, head, info_);
  if (config_.proxy_headers) asgi::apply_proxy_headers(scope, config_.forwarded_allow_ips);
}

void Session::on_data(std::string_view bytes) {
  if (ex_.with_app()) {
    if (ex_.block.owner && bytes.size() <= ex_.block.size - ex_.block_filled) {
      std::memcpy(ex_.block.data + ex_.block_filled, bytes.data(), bytes.size());
      ex_.block_filled += bytes.size();
      return;
    }
    if (ex_.block.owner) unblock();  // never: llhttp ends the body at Content-Length
    if (ex_.pending.empty() && try_block(bytes)) return;
    if (ex_.pending.capacity() - ex_.pending.size() < bytes.size()) {
      // Sized once for the body this turn brought: these bytes, the rest of the input not
      // parsed yet, at most what the request declares. Grown by doubling instead, a 64 KiB body
      // read as four 16 KiB buffers is reallocated three times and ends in a 128 KiB block,
      // which the app side holds until the app reads it.
      std::uint64_t want = ex_.pending.size() + bytes.size() + http_.unparsed_bytes();
      if (ex_.declared) want = std::min(want, *ex_.declared - ex_.posted);
      ex_.pending.reserve(static_cast<std::size_t>(want));
    }
    ex_.pending.append(bytes);
    return;
  }
  // Body of a probe, a 503, or of a request whose response already ended: dropped.
  ex_.discarded += bytes.size();
  if (ex_.discarded > kMaxDiscardBytes) close(Closing::after_flush);
}

bool Session::try_block(std::string_view bytes) {
  if (!ex_.declared) return false;
  const std::uint64_t left = *ex_.declared - ex_.posted;
  // The whole rest must be in hand (so the block is posted this turn) and fit the window.
  if (left == 0 || left > body_credit() ||
      bytes.size() + http_.unparsed_bytes() < left || bytes.size() > left) {
    return false;
  }
  BodyBlock block = host_.body_block(static_cast<std::size_t>(left));
  if (!block.owner || block.size != left) return false;
  ex_.block = std::move(block);
  std::memcpy(ex_.block.data, bytes.data(), bytes.size());
  ex_.block_filled = bytes.size();
  return true;
}

void Session::unblock() {
  ex_.pending.insert(0, ex_.block.data, ex_.block_filled);
  ex_.block = {};
  ex_.block_filled = 0;
}

void Session::post_body() {
  if (!ex_.with_app() || ex_.last_posted) return;
  if (ex_.block.owner) {
    if (ex_.block_filled < ex_.block.size) {
      unblock();  // the turn ended short of the bytes it was sized for: stage them
    } else {
      ex_.posted += ex_.block.size;
      ex_.last_posted = ex_.body_complete;
      BodyReceived& body = std::get<BodyReceived>(
          outbox_.emplace_back(std::in_place_type<BodyReceived>, ex_.id, std::string(),
                               !ex_.body_complete));
      body.block = std::move(ex_.block);
      ex_.block = {};
      ex_.block_filled = 0;
      return;
    }
  }
  const std::uint64_t credit = body_credit();
  if (!ex_.pending.empty() && credit > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(credit, ex_.pending.size()));
    const bool last = ex_.body_complete && n == ex_.pending.size();
    outbox_.emplace_back(std::in_place_type<BodyReceived>, ex_.id, take_front(ex_.pending, n),
                         !last);
    ex_.posted += n;
    ex_.last_posted = last;
  } else if (ex_.pending.empty() && ex_.body_complete) {
    outbox_.emplace_back(std::in_place_type<BodyReceived>, ex_.id, std::string(), false);
    ex_.last_posted = true;
  }
}

// ---- the wire ---------------------------------------------------------------------------------

bool Session::receive_data(std::string_view bytes, Clock::time_point now) {
  if (websocket_open()) {
    ws_->receive_data(bytes);
    return false;
  }
  if (!ex_.in_request && !head_started_) {
    head_started_ = true;
    head_since_ = now;
  }
  http_.lend_data(bytes);  // parsed in place by the next pump()
  return true;
}

void Session::receive_eof() {
  eof_seen_ = true;
  if (websocket_open()) {
    ws_->receive_eof();  // the app gone already: the session closes (1006, nothing sent)
  } else {
    http_.receive_eof();
  }
  after_websocket();
  // uvicorn's rule: EOF while the app owns the exchange is a disconnect (http.disconnect).
  if (ex_.with_app()) client_gone();
}

void Session::client_gone() noexcept {
  closing_ = Closing::now;
  if (!ex_.with_app()) return;
  try {
    outbox_.push_back(ClientGone{ex_.id});
  } catch (...) {  // out of memory: the exchange is unregistered all the same
  }
  ex_.ended = true;
  try {
    host_.end_exchange(ex_.id);
  } catch (...) {
  }
}

void Session::written(std::size_t n) {
  if (websocket_open()) {
    ws_->consume_output(n);
  } else {
    http_.consume_output(n);
  }
  const auto drained = [this](Drained d) { outbox_.push_back(d); };
  sends_.on_written(n, drained);
  after_websocket();  // its last bytes written: the session may now say close
}

bool Session::has_output() const noexcept {
  return websocket_open() ? ws_->wants_write() : http_.wants_write();
}

std::size_t Session::pending_output(std::span<std::string_view> out) const {
  return websocket_open() ? ws_->pending_output(out) : http_.pending_output(out);
}

bool Session::window_open() const noexcept {
  if (!ex_.with_app() || ex_.last_posted) return true;
  return ex_.pending.size() + ex_.block_filled < body_credit();  // else: TCP backpressure
}

std::uint64_t Session::body_credit() const noexcept {
  const std::uint64_t window = std::max<std::uint64_t>(config_.body_window, 1);
  const std::uint64_t ahead = ex_.posted - ex_.consumed;
  return ahead < window ? window - ahead : 0;
}

bool Session::wants_read() const noexcept {
  if (closing_ != Closing::no || eof_seen_) return false;
  if (websocket_open()) return ws_->wants_read();
  return http_.wants_read() && window_open();
}

// ---- timers -----------------------------------------------------------------------------------

std::optional<Session::Clock::time_point> Session::deadline() const noexcept {
  if (websocket_open()) return closing_ == Closing::now ? std::nullopt : ws_->deadline();
  if (closing_ != Closing::no || ex_.in_request || http_.wants_write()) return std::nullopt;
  if (head_started_) return head_since_ + seconds(config_.timeout_header);
  if (fresh_) return opened_ + seconds(config_.timeout_header);
  return idle_since_ + seconds(config_.timeout_keep_alive);
}

void Session::on_timer(Clock::time_point now) {
  if (websocket_open()) {
    ws_->on_timer(now, websocket_io());  // keepalive, close timeout
    after_websocket();
    return;
  }
  const auto due = deadline();
  if (!due || now < *due) return;
  if (head_started_) {
    // Slowloris: part of a head arrived, the rest did not in time.
    http_.send_error_response(
        make_remote_error(Errc::request_timeout, "request head not received in time"));
    close(Closing::after_flush);
  } else {
    closing_ = Closing::now;  // idle keep-alive (or a silent new connection): close quietly
  }
}

}  // namespace lancet::backend::common
