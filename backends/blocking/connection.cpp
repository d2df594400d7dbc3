// One connection of the blocking backend. See connection.hpp for the theory of operation.
#include "backends/blocking/connection.hpp"

#include "backends/common/body.hpp"

#include "protocol/asgi/proxy.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>
#include <variant>

#include "backends/common/listener.hpp"
#include "protocol/classify/classify.hpp"
#include "protocol/http1/date.hpp"
#include "protocol/websocket/handshake.hpp"

namespace lancet::backend::blocking {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kFileChunk = 64 * 1024;
constexpr std::size_t kMaxIov = 64;
constexpr auto kLingerTime = std::chrono::milliseconds(500);

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

// limit_concurrency: answered natively (uvicorn answers 503 "Service Unavailable" too). No Errc
// names this, so the error carries only the status hint and the body text.
const Error kUnavailable{Errc::bad_request, Origin::local, 503, 0, "Service Unavailable"};

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

// ---- Connection: lifecycle --------------------------------------------------------------------

Connection::Connection(Core& core, int fd, int wake_fd)
    : core_(core), fd_(fd), wake_fd_(wake_fd), conn_(core.config.http) {}

Connection::~Connection() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Connection::run() noexcept {
  try {
    serve();
  } catch (...) {
    closing_ = Closing::now;  // bad_alloc or a bug: drop the connection, never the process
  }
  finish();
}

void Connection::serve() {
  peer_ = common::socket_address(fd_, true);
  local_ = common::socket_address(fd_, false);
  read_buf_.resize(kReadChunk);
  opened_ = idle_since_ = head_since_ = Clock::now();
  while (closing_ != Closing::now) {
    refresh_date();
    check_drain();  // before the inbox: ops queued after shutdown() must see request_close()
    take_inbox();
    do {
      pump_events();
      post_body();
      flush();
    } while (advance_cycle());
    conn_.keep_input();  // before the next read reuses read_buf_
    after_websocket();
    post_outbox();
    if (closing_ == Closing::now) break;
    if (closing_ == Closing::after_flush && !has_output() && file_fd_ < 0) break;
    wait_for_io();
  }
}

void Connection::finish() noexcept {
  try {
    end_exchange(true);
  } catch (...) {
  }
  post_outbox();
  if (file_fd_ >= 0) close(file_fd_);
  file_fd_ = -1;
  if (closing_ == Closing::after_flush && !eof_seen_) linger();
  close(fd_);
}

// A lingering close: stop sending, then read and drop what the client still sends for a short
// while, so that closing with unread bytes does not reset the connection before the client
// has read our last response (RFC 9112 §9.6).
void Connection::linger() noexcept {
  shutdown(fd_, SHUT_WR);
  const auto until = Clock::now() + kLingerTime;
  std::size_t dropped = 0;
  while (dropped < kMaxDiscardBytes) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    const ssize_t n = recv(fd_, read_buf_.data(), read_buf_.size(), MSG_DONTWAIT);
    if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) return;
    if (n > 0) dropped += static_cast<std::size_t>(n);
  }
}

void Connection::wake() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = write(wake_fd_, &one, sizeof one);
}

void Connection::enqueue(ExchangeId id, std::vector<Outbound>&& ops) {
  {
    std::lock_guard lock(mu_);
    for (Outbound& op : ops) ops_in_.emplace_back(id, std::move(op));
  }
  wake();
}

void Connection::add_credit(ExchangeId id, std::size_t bytes) {
  {
    std::lock_guard lock(mu_);
    credit_in_.emplace_back(id, bytes);
  }
  wake();
}

void Connection::post_outbox() noexcept {
  if (outbox_.empty()) return;
  try {
    core_.app.post(std::move(outbox_));
  } catch (...) {
  }
  outbox_.clear();
}

void Connection::refresh_date() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  if (second == date_second_) return;
  date_second_ = second;
  conn_.set_date(http1::format_http_date(second));
}

// ---- app side -> wire -------------------------------------------------------------------------

void Connection::take_inbox() {
  std::vector<std::pair<ExchangeId, Outbound>> ops;
  std::vector<std::pair<ExchangeId, std::size_t>> credit;
  {
    std::lock_guard lock(mu_);
    ops.swap(ops_in_);
    credit.swap(credit_in_);
  }
  for (const auto& [id, bytes] : credit) {
    if (id != ex_.id || !ex_.with_app()) continue;
    if (ws_) {
      ws_->on_consumed(bytes);  // messages_consumed(): WebSocket messages, not body bytes
      continue;
    }
    ex_.consumed = std::min(ex_.consumed + bytes, ex_.posted);
    if (ex_.expects_continue && !ex_.continue_sent && !ex_.body_complete &&
        conn_.our_state() == http1::State::idle) {
      // uvicorn writes 100 Continue when the app first calls receive(); so do we.
      ex_.continue_sent = true;
      [[maybe_unused]] const auto r = conn_.send(http1::ResponseHead{100, {}, {}});
    }
  }
  for (auto& [id, op] : ops) {
    if (id != ex_.id || !ex_.with_app() || closing_ == Closing::now) continue;
    apply(op);
  }
}

void Connection::apply(Outbound& op) {
  std::visit(Overloaded{
                 [&](SendHead& head) { apply_head(head); },
                 [&](SendData& data) { apply_data(data); },
                 [&](SendEnd& end) {
                   std::vector<http1::Header> trailers;
                   for (const Header& h : end.trailers) trailers.push_back({h.name, h.value});
                   if (!conn_.send_end(trailers)) return local_failure();
                   app_finished();
                 },
                 [&](SendFile& file) { start_file(file.path); },
                 [&](Abort&) {
                   // What the app already sent goes out (as uvicorn's transport.close() does);
                   // the response is left unfinished and the connection closes after it.
                   app_finished();
                   closing_ = Closing::after_flush;
                 },
                 [&](WsAccept&) { apply_websocket(op); },
                 [&](WsSend&) { apply_websocket(op); },
                 [&](WsClose&) { apply_websocket(op); },
             },
             op);
}

void Connection::apply_websocket(Outbound& op) {
  if (!ws_) return;
  ws_->on_app_op(op, conn_, Clock::now(), websocket_io());
  after_websocket();
}

void Connection::apply_data(SendData& data) {
  auto [body, hold] = data.take();  // the app's buffer, or its bytes moved: never copied
  const std::size_t n = body.size();
  const std::size_t before = conn_.pending_output_bytes();
  if (!conn_.send_data(body, std::move(hold))) return local_failure();
  // Bytes http1 dropped (HEAD, 204, 304) will never be written: release them now.
  const std::size_t queued = std::min(n, conn_.pending_output_bytes() - before);
  const auto drained = [this](Drained d) { outbox_.push_back(d); };
  sends_.on_body(ex_.id, ex_.flow, queued, n - queued, drained);
}

void Connection::apply_head(SendHead& head) {
  std::vector<http1::Header> fields;
  if (head.status >= 200) {
    for (const Header& h : core_.config.default_headers) fields.push_back({h.name, h.value});
  }
  for (const Header& h : head.headers) fields.push_back({h.name, h.value});
  if (!conn_.send(http1::ResponseHead{head.status, fields, {}})) local_failure();
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
    std::string chunk(kFileChunk, '\0');
    const ssize_t n = read(file_fd_, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    bool ok = n >= 0;
    if (n > 0) {
      chunk.resize(static_cast<std::size_t>(n));
      ok = conn_.send_data(chunk).has_value();
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
  if (client_gone) outbox_.push_back(ClientGone{ex_.id});
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
    if (!has_output()) return;
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
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      end_exchange(true);  // EPIPE, ECONNRESET: the client left
      closing_ = Closing::now;
      return;
    }
    consume_output(static_cast<std::size_t>(written));
    const auto drained = [this](Drained d) { outbox_.push_back(d); };
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
  const ExchangeId id = core_.begin_exchange(shared_from_this());
  if (id == 0) {
    conn_.send_error_response(kUnavailable);
    closing_ = Closing::after_flush;
    return;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  ex_.expects_continue = head.expects_continue && head.version == http1::Version::http11;
  outbox_.push_back(RequestStarted{id, make_scope(head), ex_.expects_continue, ex_.flow});
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
  const ExchangeId id = core_.begin_exchange(shared_from_this());
  if (id == 0) {
    conn_.send_error_response(kUnavailable);
    closing_ = Closing::after_flush;
    return;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  ws_ = std::make_unique<common::WebSocketSession>(core_.config, id, ex_.flow,
                                                   std::move(*request));
  outbox_.push_back(ws_->requested(make_scope(head)));
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
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(credit, ex_.pending.size()));
    const bool last = ex_.body_complete && n == ex_.pending.size();
    outbox_.push_back(BodyReceived{ex_.id, common::take_front(ex_.pending, n), !last});
    ex_.posted += n;
    ex_.last_posted = last;
  } else if (ex_.pending.empty() && ex_.body_complete) {
    outbox_.push_back(BodyReceived{ex_.id, {}, false});
    ex_.last_posted = true;
  }
}

// Step 5: both sides done -> the next cycle (true: parse again), or close.
bool Connection::advance_cycle() {
  const http1::State ours = conn_.our_state();
  if (closing_ != Closing::no) return false;
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

// ---- waiting, timers, reading -----------------------------------------------------------------

bool Connection::wants_read_now() const {
  if (websocket_open()) return !eof_seen_ && ws_->wants_read();
  if (eof_seen_ || !conn_.wants_read()) return false;
  if (ex_.with_app() && !ex_.last_posted) {
    const std::uint64_t window = std::max<std::uint64_t>(core_.config.body_window, 1);
    return ex_.posted - ex_.consumed + ex_.pending.size() < window;  // else: TCP backpressure
  }
  return true;
}

std::optional<Clock::time_point> Connection::next_deadline() const {
  std::optional<Clock::time_point> at;
  const std::int64_t abort_ns = core_.abort_at_ns.load();
  if (abort_ns != INT64_MAX) at = Clock::time_point(std::chrono::nanoseconds(abort_ns));
  auto earliest = [&](Clock::time_point t) { at = at ? std::min(*at, t) : t; };
  if (websocket_open()) {
    if (const auto due = ws_->deadline()) earliest(*due);
    return at;
  }
  if (!ex_.in_request && !conn_.wants_write()) {
    if (head_started_) {
      earliest(head_since_ + seconds(core_.config.timeout_header));
    } else if (fresh_) {
      earliest(opened_ + seconds(core_.config.timeout_header));
    } else {
      earliest(idle_since_ + seconds(core_.config.timeout_keep_alive));
    }
  }
  return at;
}

void Connection::on_timers(Clock::time_point now) {
  const std::int64_t abort_ns = core_.abort_at_ns.load();
  if (abort_ns != INT64_MAX && now >= Clock::time_point(std::chrono::nanoseconds(abort_ns))) {
    end_exchange(true);  // graceful shutdown ran out of time
    closing_ = Closing::now;
    return;
  }
  if (websocket_open()) {
    ws_->on_timer(now, websocket_io());
    after_websocket();
    return;
  }
  if (ex_.in_request || conn_.wants_write() || closing_ != Closing::no) return;
  const auto due = next_deadline();
  if (!due || now < *due) return;
  if (head_started_) {
    // Slowloris: part of a head arrived, the rest did not in time.
    conn_.send_error_response(
        make_remote_error(Errc::request_timeout, "request head not received in time"));
    closing_ = Closing::after_flush;
  } else {
    closing_ = Closing::now;  // idle keep-alive (or a silent new connection): close quietly
  }
}

void Connection::wait_for_io() {
  short events = 0;
  if (wants_read_now()) events |= POLLIN;
  if (has_output()) events |= POLLOUT;
  if (ex_.with_app() && !eof_seen_) events |= POLLRDHUP;  // the client leaving mid-exchange
  std::array<pollfd, 2> fds{pollfd{fd_, events, 0}, pollfd{wake_fd_, POLLIN, 0}};
  int timeout_ms = 1000;  // at least once a second: the Date value
  if (const auto due = next_deadline()) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now()).count();
    timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left, 0, timeout_ms));
  }
  if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
    closing_ = Closing::now;
    return;
  }
  if (fds[1].revents & POLLIN) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = read(wake_fd_, &count, sizeof count);
  }
  on_timers(Clock::now());
  const short got = fds[0].revents;
  if (got & (POLLERR | POLLHUP)) {
    end_exchange(true);
    closing_ = Closing::now;
  } else if (got & POLLIN) {
    read_some();
  } else if ((got & POLLRDHUP) && ex_.with_app()) {
    end_exchange(true);  // FIN while the body window is full: the client is gone
    closing_ = Closing::now;
  }
}

void Connection::read_some() {
  const ssize_t n = recv(fd_, read_buf_.data(), read_buf_.size(), MSG_DONTWAIT);
  if (n > 0) {
    const std::string_view bytes(read_buf_.data(), static_cast<std::size_t>(n));
    if (websocket_open()) {
      ws_->receive_data(bytes);
      return;
    }
    if (!ex_.in_request && !head_started_) {
      head_started_ = true;
      head_since_ = Clock::now();
    }
    conn_.lend_data(bytes);  // parsed in place by the next pump; kept before the next read
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
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

}  // namespace lancet::backend::blocking
