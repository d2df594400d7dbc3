// One connection of the libevent backend. See connection.hpp for the theory of operation.
#include "backends/libevent/connection.hpp"

#include "backends/common/body.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <variant>

#include "protocol/asgi/proxy.hpp"
#include "protocol/classify/classify.hpp"
#include "protocol/http1/date.hpp"
#include "protocol/websocket/handshake.hpp"

namespace lancet::backend::libevent {
namespace {

constexpr std::size_t kFileChunk = 64 * 1024;
constexpr std::size_t kMaxIov = 64;
constexpr auto kLingerTime = std::chrono::milliseconds(500);

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

// limit_concurrency: answered natively (uvicorn answers 503 "Service Unavailable" too). No Errc
// names this, so the error carries only the status hint and the body text.
const Error kUnavailable{Errc::bad_request, Origin::local, 503, 0, "Service Unavailable"};

}  // namespace

// ---- lifecycle and trampolines ----------------------------------------------------------------

Connection::Connection(Core& core, int fd) : core_(core), fd_(fd), conn_(core.config.http) {}

Connection::~Connection() {
  if (io_ev_ != nullptr) event_free(io_ev_);
  if (timer_ev_ != nullptr) event_free(timer_ev_);
  if (file_fd_ >= 0) close(file_fd_);
  if (fd_ >= 0) close(fd_);
}

bool Connection::start() {
  peer_ = common::socket_address(fd_, true);
  local_ = common::socket_address(fd_, false);
  opened_ = idle_since_ = head_since_ = Clock::now();
  io_ev_ = event_new(core_.base(), fd_, EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST,
                     &Connection::on_io, this);
  timer_ev_ = evtimer_new(core_.base(), &Connection::on_timer, this);
  if (io_ev_ == nullptr || timer_ev_ == nullptr || event_add(io_ev_, nullptr) != 0) return false;
  step();
  return true;
}

void Connection::on_io(evutil_socket_t, short what, void* arg) noexcept {
  auto* self = static_cast<Connection*>(arg);
  Core& core = self->core_;
  try {
    self->handle_io(what);
  } catch (...) {
    self->close_now();  // bad_alloc or a bug: drop the connection, never the process
  }
  core.after_callback();  // may free `self`
}

void Connection::on_timer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Connection*>(arg);
  Core& core = self->core_;
  self->timer_at_.reset();
  try {
    self->handle_timer();
  } catch (...) {
    self->close_now();
  }
  core.after_callback();
}

void Connection::handle_io(short what) {
  if (what & (EV_READ | EV_CLOSED)) readable_ = true;
  if (what & EV_WRITE) writable_ = true;
  if (lingering_) return linger();
  // Reading is paused (window full, or pipelined bytes held): an edge now may be the client
  // leaving, which must reach the app as ClientGone without waiting for the window to open.
  if ((what & (EV_READ | EV_CLOSED)) && ex_.with_app() && !wants_read_now() && peer_hung_up()) {
    end_exchange(true);
    closing_ = Closing::now;
  }
  step();
}

void Connection::handle_timer() {
  if (lingering_) return close_now();
  if (websocket_open()) {
    ws_->on_timer(Clock::now(), websocket_io());  // keepalive, close timeout
    after_websocket();
    return step();
  }
  const auto due = next_deadline();
  if (!ex_.in_request && !conn_.wants_write() && closing_ == Closing::no && due &&
      Clock::now() >= *due) {
    if (head_started_) {
      // Slowloris: part of a head arrived, the rest did not in time.
      conn_.send_error_response(
          make_remote_error(Errc::request_timeout, "request head not received in time"));
      closing_ = Closing::after_flush;
    } else {
      closing_ = Closing::now;  // idle keep-alive (or a silent new connection): close quietly
    }
  }
  step();  // early (coarse clock) or no longer due: step() re-arms
}

void Connection::step() noexcept {
  if (closed_ || lingering_) return;
  try {
    run_protocol();
    after_websocket();
  } catch (...) {
    closing_ = Closing::now;
  }
  if (closing_ == Closing::now ||
      (closing_ == Closing::after_flush && !has_output() && file_fd_ < 0)) {
    return finish();
  }
  if (const auto due = next_deadline()) {
    arm_timer(*due);
  } else if (timer_at_) {
    evtimer_del(timer_ev_);
    timer_at_.reset();
  }
}

void Connection::run_protocol() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  if (second != date_second_) {
    date_second_ = second;
    conn_.set_date(http1::format_http_date(second));
  }
  check_drain();
  for (;;) {
    do {
      pump_events();
      post_body();
      flush();
    } while (advance_cycle());
    if (closing_ != Closing::no || !readable_ || !wants_read_now()) {
      conn_.keep_input();  // the read buffer is shared: the next connection's read reuses it
      return;
    }
    read_some();
  }
}

void Connection::abort() noexcept {
  if (closed_) return;
  try {
    end_exchange(true);
  } catch (...) {
  }
  close_now();
}

// ---- app side -> wire -------------------------------------------------------------------------

void Connection::on_credit(ExchangeId id, std::size_t bytes) {
  if (id != ex_.id || !ex_.with_app()) return;
  if (ws_) {
    ws_->on_consumed(bytes);  // messages_consumed(): WebSocket messages, not body bytes
    return;
  }
  ex_.consumed = std::min(ex_.consumed + bytes, ex_.posted);
  if (ex_.expects_continue && !ex_.continue_sent && !ex_.body_complete &&
      conn_.our_state() == http1::State::idle) {
    // uvicorn writes 100 Continue when the app first calls receive(); so do we.
    ex_.continue_sent = true;
    [[maybe_unused]] const auto r = conn_.send(http1::ResponseHead{100, {}, {}});
  }
}

void Connection::on_op(ExchangeId id, Outbound& op) {
  if (id != ex_.id || !ex_.with_app() || closing_ == Closing::now || closed_) return;
  if (auto* head = std::get_if<SendHead>(&op)) {
    apply_head(*head);
  } else if (auto* data = std::get_if<SendData>(&op)) {
    apply_data(*data);
  } else if (auto* end = std::get_if<SendEnd>(&op)) {
    std::vector<http1::Header> trailers;
    for (const Header& h : end->trailers) trailers.push_back({h.name, h.value});
    if (!conn_.send_end(trailers)) return local_failure();
    app_finished();
  } else if (auto* file = std::get_if<SendFile>(&op)) {
    start_file(file->path);
  } else if (std::holds_alternative<Abort>(op)) {
    // What the app already sent goes out (as uvicorn's transport.close() does); the response
    // is left unfinished and the connection closes after it.
    app_finished();
    closing_ = Closing::after_flush;
  } else {
    apply_websocket(op);  // WsAccept, WsSend, WsClose
  }
}

void Connection::apply_websocket(Outbound& op) {
  if (!ws_) return;
  ws_->on_app_op(op, conn_, Clock::now(), websocket_io());
  after_websocket();
}

void Connection::apply_head(SendHead& head) {
  std::vector<http1::Header> fields;
  if (head.status >= 200) {
    for (const Header& h : core_.config.default_headers) fields.push_back({h.name, h.value});
  }
  for (const Header& h : head.headers) fields.push_back({h.name, h.value});
  if (!conn_.send(http1::ResponseHead{head.status, fields, {}})) local_failure();
}

void Connection::apply_data(SendData& data) {
  auto [body, hold] = data.take();  // the app's buffer, or its bytes moved: never copied
  const std::size_t n = body.size();
  const std::size_t before = conn_.pending_output_bytes();
  if (!conn_.send_data(body, std::move(hold))) return local_failure();
  // Bytes http1 dropped (HEAD, 204, 304) will never be written: release them now.
  const std::size_t queued = std::min(n, conn_.pending_output_bytes() - before);
  const auto drained = [this](Drained d) { core_.post(d); };
  sends_.on_body(ex_.id, ex_.flow, queued, n - queued, drained);
}

// http.response.pathsend: the head went out already; the file's bytes follow as body, read in
// chunks as the output queue drains (refill_file), then the response ends.
void Connection::start_file(const std::string& path) {
  file_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file_fd_ < 0) {
    end_exchange(true);  // the head is out: nothing valid can follow
    closing_ = Closing::now;
    return;
  }
  app_finished();
}

void Connection::refill_file() {
  while (file_fd_ >= 0 && conn_.pending_output_bytes() < 4 * kFileChunk) {
    auto chunk = std::make_shared<std::string>(kFileChunk, '\0');
    const ssize_t n = read(file_fd_, chunk->data(), chunk->size());
    if (n < 0 && errno == EINTR) continue;
    bool ok = n >= 0;
    if (n > 0) {
      chunk->resize(static_cast<std::size_t>(n));
      ok = conn_.send_data(*chunk, chunk).has_value();
      if (ok) continue;
    }
    close(file_fd_);
    file_fd_ = -1;
    if (ok) ok = conn_.send_end().has_value();  // n == 0: end of file
    if (!ok) closing_ = Closing::now;
  }
}

// The app asked for something http1 refuses (e.g. more body than its Content-Length): the
// response cannot be completed, so the app is told the client is gone and the connection closes.
void Connection::local_failure() {
  end_exchange(true);
  closing_ = Closing::after_flush;
}

void Connection::app_finished() {
  if (!ex_.with_app()) return;
  ex_.ended = true;
  core_.end_exchange(ex_.id);
}

void Connection::end_exchange(bool client_gone) {
  if (!ex_.with_app()) return;
  if (client_gone) core_.post(ClientGone{ex_.id});
  app_finished();
}

bool Connection::has_output() const noexcept {
  return websocket_open() ? ws_->wants_write() : conn_.wants_write();
}

std::size_t Connection::pending_output(std::span<std::string_view> views) const {
  return websocket_open() ? ws_->pending_output(views) : conn_.pending_output(views);
}

void Connection::consume_output(std::size_t n) {
  if (websocket_open()) {
    ws_->consume_output(n);
  } else {
    conn_.consume_output(n);
  }
}

void Connection::flush() {
  std::array<std::string_view, kMaxIov> views;
  std::array<iovec, kMaxIov> iov;
  while (closing_ != Closing::now) {
    refill_file();
    if (!has_output() || !writable_) return;
    const std::size_t n = pending_output(views);
    for (std::size_t i = 0; i < n; ++i) {
      iov[i].iov_base = const_cast<char*>(views[i].data());
      iov[i].iov_len = views[i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n;
    const ssize_t written = sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        writable_ = false;  // the next EV_WRITE edge says when to go on
        return;
      }
      end_exchange(true);  // EPIPE, ECONNRESET: the client left
      closing_ = Closing::now;
      return;
    }
    consume_output(static_cast<std::size_t>(written));
    const auto drained = [this](Drained d) { core_.post(d); };
    sends_.on_written(static_cast<std::size_t>(written), drained);
  }
}


// ---- wire -> app side -------------------------------------------------------------------------

// Graceful shutdown: every later response says Connection: close; a connection with no request
// in progress and nothing to write closes now; in-flight ones close after their response.
void Connection::check_drain() {
  if (!drain_seen_ && core_.draining.load()) {
    drain_seen_ = true;
    conn_.request_close();
  }
  if (drain_seen_ && websocket_open()) {
    ws_->on_drain(Clock::now(), websocket_io());  // close 1001; idempotent
    after_websocket();
  }
  if (drain_seen_ && !ex_.in_request && !has_output() && file_fd_ < 0) {
    closing_ = Closing::now;
  }
}

void Connection::pump_events() {
  if (websocket_open()) {
    if (closing_ == Closing::no) ws_->pump(Clock::now(), websocket_io());
    return;
  }
  while (closing_ == Closing::no) {
    auto event = conn_.next_event();
    if (!event) {
      end_exchange(true);  // a bad body mid-request: the app's request is gone
      conn_.send_error_response(event.error());  // a no-op once a response has started
      closing_ = Closing::after_flush;
      return;
    }
    if (auto* head = std::get_if<http1::RequestHead>(&*event)) {
      on_head(*head);
    } else if (auto* data = std::get_if<http1::Data>(&*event)) {
      on_data(data->bytes);
    } else if (std::holds_alternative<http1::EndOfMessage>(*event)) {
      ex_.body_complete = true;
    } else if (std::holds_alternative<http1::ConnectionClosed>(*event)) {
      closing_ = Closing::after_flush;  // the client closed between requests
    } else {
      return;  // NeedData or Paused
    }
  }
}

void Connection::on_head(const http1::RequestHead& head) {
  ex_ = Exchange{};
  ex_.in_request = true;
  head_started_ = false;
  const classify::Route route = classify::classify(head, core_.config.probes);
  if (route.kind == classify::RouteKind::probe) {
    answer_probe(route.probe, head.method == "HEAD");
    return;
  }
  if (route.kind == classify::RouteKind::websocket && core_.config.ws.enabled) {
    begin_websocket(head);
    return;
  }
  const ExchangeId id = core_.begin_exchange(this);
  if (id == 0) {
    conn_.send_error_response(kUnavailable);
    closing_ = Closing::after_flush;
    return;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  ex_.expects_continue = head.expects_continue && head.version == http1::Version::http11;
  core_.post(RequestStarted{id, make_scope(head), ex_.expects_continue, ex_.flow});
}

// A WebSocket handshake: an invalid one is answered natively (400, 426); a valid one is posted
// as WebSocketRequested. Whatever answers it over HTTP ends the connection.
void Connection::begin_websocket(const http1::RequestHead& head) {
  conn_.request_close();
  auto request = websocket::validate_handshake(head);
  if (!request) {
    if (!common::send_handshake_rejection(conn_, request.error())) closing_ = Closing::after_flush;
    return;
  }
  const ExchangeId id = core_.begin_exchange(this);
  if (id == 0) {
    conn_.send_error_response(kUnavailable);
    closing_ = Closing::after_flush;
    return;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  ws_ = std::make_unique<common::WebSocketSession>(core_.config, id, ex_.flow,
                                                   std::move(*request));
  core_.post(ws_->requested(make_scope(head)));
}

// What the session decided: the exchange is over on the app side; close after the output;
// close now (its close timeout); or the accept failed.
void Connection::after_websocket() {
  if (!ws_) return;
  if (ws_->failed()) {
    end_exchange(true);
    if (closing_ == Closing::no) closing_ = Closing::after_flush;
    return;
  }
  if (ws_->app_done()) app_finished();
  if (ws_->timed_out()) {
    closing_ = Closing::now;
  } else if (ws_->should_close() && closing_ == Closing::no) {
    closing_ = Closing::after_flush;
  }
}

void Connection::answer_probe(classify::ProbeKind kind, bool head_request) {
  const classify::ProbeResponse response =
      classify::make_probe_response(kind, core_.readiness(), head_request);
  const std::vector<http1::Header> fields = response.header_views();
  const bool ok = conn_.send(http1::ResponseHead{response.status, fields, {}}) &&
                  conn_.send_data(response.body) && conn_.send_end();
  if (!ok) closing_ = Closing::after_flush;
}

asgi::HttpScope Connection::make_scope(const http1::RequestHead& head) const {
  asgi::ConnectionInfo info;
  info.client = peer_;
  info.server = local_;
  info.root_path = core_.config.root_path;
  asgi::HttpScope scope = asgi::make_http_scope(head, info);
  if (core_.config.proxy_headers) asgi::apply_proxy_headers(scope, core_.config.forwarded_allow_ips);
  return scope;
}

void Connection::on_data(std::string_view bytes) {
  if (ex_.with_app()) {
    ex_.pending.append(bytes);
    return;
  }
  // Body of a probe, a 503, or of a request whose response already ended: dropped.
  ex_.discarded += bytes.size();
  if (ex_.discarded > kMaxDiscardBytes) closing_ = Closing::after_flush;
}

void Connection::post_body() {
  if (!ex_.with_app() || ex_.last_posted) return;
  const std::uint64_t window = std::max<std::uint64_t>(core_.config.body_window, 1);
  const std::uint64_t ahead = ex_.posted - ex_.consumed;
  const std::uint64_t credit = ahead < window ? window - ahead : 0;
  if (!ex_.pending.empty() && credit > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(credit, ex_.pending.size()));
    const bool last = ex_.body_complete && n == ex_.pending.size();
    core_.post(BodyReceived{ex_.id, common::take_front(ex_.pending, n), !last});
    ex_.posted += n;
    ex_.last_posted = last;
  } else if (ex_.pending.empty() && ex_.body_complete) {
    core_.post(BodyReceived{ex_.id, {}, false});
    ex_.last_posted = true;
  }
}

// Both sides done -> the next cycle (true: parse again), or close.
bool Connection::advance_cycle() {
  if (closing_ != Closing::no) return false;
  const http1::State ours = conn_.our_state();
  if (ours == http1::State::must_close || ours == http1::State::error || conn_.should_close()) {
    closing_ = Closing::after_flush;
    return false;
  }
  if (ours != http1::State::done || conn_.their_state() != http1::State::done) return false;
  if (core_.draining.load() || file_fd_ >= 0) {
    if (core_.draining.load()) closing_ = Closing::after_flush;
    return false;
  }
  if (!conn_.start_next_cycle()) {
    closing_ = Closing::after_flush;
    return false;
  }
  ex_ = Exchange{};
  fresh_ = false;
  idle_since_ = head_since_ = Clock::now();
  head_started_ = !conn_.trailing_data().empty();
  return true;
}

bool Connection::wants_read_now() const {
  if (websocket_open()) return !eof_seen_ && ws_->wants_read();
  if (eof_seen_ || !conn_.wants_read()) return false;
  if (ex_.with_app() && !ex_.last_posted) {
    const std::uint64_t window = std::max<std::uint64_t>(core_.config.body_window, 1);
    return ex_.posted - ex_.consumed + ex_.pending.size() < window;  // else: TCP backpressure
  }
  return true;
}

// Only asked while reading is paused, on an edge: is this edge a FIN or a reset?
bool Connection::peer_hung_up() const {
  pollfd p{fd_, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void Connection::read_some() {
  const std::span<char> buf = core_.read_buffer();
  const ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
  if (n > 0) {
    const std::string_view bytes(buf.data(), static_cast<std::size_t>(n));
    if (websocket_open()) {
      ws_->receive_data(bytes);
      return;
    }
    if (!ex_.in_request && !head_started_) {
      head_started_ = true;
      head_since_ = Clock::now();
    }
    conn_.lend_data(bytes);  // parsed in place by the pump that follows; kept before reuse
    return;
  }
  if (n < 0 && errno == EINTR) return;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    readable_ = false;  // the next EV_READ edge says when to go on
    return;
  }
  if (n < 0) {
    end_exchange(true);
    closing_ = Closing::now;
    return;
  }
  eof_seen_ = true;
  if (websocket_open()) {
    ws_->receive_eof();  // the app gone already: the session closes (1006, nothing sent)
  } else {
    conn_.receive_eof();
  }
  // uvicorn's rule: EOF while the app owns the exchange is a disconnect (http.disconnect).
  if (ex_.with_app()) {
    end_exchange(true);
    closing_ = Closing::now;
  }
}

// ---- deadlines and closing --------------------------------------------------------------------

std::optional<Clock::time_point> Connection::next_deadline() const {
  if (websocket_open()) return ws_->deadline();
  if (ex_.in_request || conn_.wants_write() || closing_ != Closing::no) return std::nullopt;
  if (head_started_) return head_since_ + seconds(core_.config.timeout_header);
  if (fresh_) return opened_ + seconds(core_.config.timeout_header);
  return idle_since_ + seconds(core_.config.timeout_keep_alive);
}

void Connection::arm_timer(Clock::time_point at) {
  if (timer_at_ == at) return;
  const auto left = std::max(at - Clock::now(), Clock::duration::zero());
  const auto us = std::chrono::ceil<std::chrono::microseconds>(left).count();
  const timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  if (evtimer_add(timer_ev_, &tv) == 0) timer_at_ = at;
}

void Connection::finish() noexcept {
  if (closing_ == Closing::after_flush && !eof_seen_) {
    try {
      end_exchange(true);
    } catch (...) {
    }
    return linger();
  }
  close_now();
}

// A lingering close: stop sending, then read and drop what the client still sends for a short
// while, so that closing with unread bytes does not reset the connection before the client
// has read our last response (RFC 9112 §9.6).
void Connection::linger() {
  if (!lingering_) {
    lingering_ = true;
    ::shutdown(fd_, SHUT_WR);
    timer_at_.reset();
    arm_timer(Clock::now() + kLingerTime);
  }
  const std::span<char> buf = core_.read_buffer();
  while (readable_ && lingered_ < kMaxDiscardBytes) {
    const ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      lingered_ += static_cast<std::uint64_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      readable_ = false;
    } else {
      break;  // EOF or error: the client has everything
    }
  }
  if (readable_) close_now();
}

void Connection::close_now() noexcept {
  if (closed_) return;
  closed_ = true;
  try {
    end_exchange(true);
  } catch (...) {
  }
  if (io_ev_ != nullptr) event_del(io_ev_);
  if (timer_ev_ != nullptr) event_del(timer_ev_);
  if (file_fd_ >= 0) close(file_fd_);
  file_fd_ = -1;
  close(fd_);
  fd_ = -1;
  core_.retire(this);
}

}  // namespace lancet::backend::libevent
