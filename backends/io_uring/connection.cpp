// One connection of the io_uring backend. See connection.hpp for the theory of operation.
#include "backends/io_uring/connection.hpp"

#include "backends/common/body.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <cerrno>
#include <string_view>
#include <variant>

#include "backends/common/listener.hpp"
#include "protocol/asgi/proxy.hpp"
#include "protocol/classify/classify.hpp"
#include "protocol/http1/date.hpp"
#include "protocol/websocket/handshake.hpp"

namespace lancet::backend::io_uring {
namespace {

constexpr std::size_t kFileChunk = 64 * 1024;
/// pathsend: read() for the first bytes of a file; they go out with the head in one sendmsg. A
/// file this small costs no splice (two io-wq round trips); only what follows is spliced.
constexpr std::size_t kFileFirstChunk = 16 * 1024;
/// The pipe size asked for (F_SETPIPE_SZ): one fill and one drain splice per 256 KiB.
constexpr unsigned kSpliceChunk = 256 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(500);

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

// limit_concurrency: answered natively with 503, as the blocking backend does.
const Error kUnavailable{Errc::bad_request, Origin::local, 503, 0, "Service Unavailable"};

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

// ---- Shared -----------------------------------------------------------------------------------

ExchangeId Shared::begin_exchange(Connection* conn) {
  const std::size_t limit = config.limit_concurrency;
  if (limit != 0 && exchanges.size() >= limit) return 0;
  const ExchangeId id = next_id++;
  exchanges.emplace(id, conn);
  active.store(exchanges.size());
  return id;
}

void Shared::end_exchange(ExchangeId id) {
  exchanges.erase(id);
  active.store(exchanges.size());
}

classify::Readiness Shared::readiness() const noexcept {
  if (draining.load()) return classify::Readiness::draining;
  return ready.load() ? classify::Readiness::ready : classify::Readiness::starting;
}

// ---- Connection: lifecycle --------------------------------------------------------------------

Connection::Connection(Shared& shared, int socket_fd)
    : fd(socket_fd), shared_(shared), conn_(shared.config.http) {
  peer_ = common::socket_address(fd, true);
  local_ = common::socket_address(fd, false);
  opened_ = idle_since_ = head_since_ = Clock::now();
}

Connection::~Connection() {
  if (file_fd_ >= 0) close(file_fd_);
  if (pipe_[0] >= 0) close(pipe_[0]);
  if (pipe_[1] >= 0) close(pipe_[1]);
}

void Connection::abort() noexcept {
  try {
    end_exchange(true);
  } catch (...) {
    app_finished();
  }
  closing_ = Closing::now;
  if (file_fd_ >= 0) close(file_fd_);
  file_fd_ = -1;
}

void Connection::step(Clock::time_point now) noexcept {
  try {
    run(now);
  } catch (...) {
    closing_ = Closing::now;  // bad_alloc or a bug: drop the connection, never the process
  }
  if (closing_ == Closing::now) abort();
}

void Connection::run(Clock::time_point now) {
  if (closing_ == Closing::now) return;
  if (!send_inflight) {  // output may change only while no sendmsg holds views of it
    refresh_date();
    check_drain();  // before the inbox: ops queued after shutdown() must see request_close()
    take_inbox();
    do {
      pump_events();
      post_body();
      refill_file();
    } while (advance_cycle(now));
  }
  after_websocket();
  if (closing_ == Closing::after_flush && !has_output() && file_fd_ < 0 && !send_inflight) {
    if (eof_seen_) {
      closing_ = Closing::now;
    } else {
      // A lingering close: stop sending, then read and drop what the client still sends for a
      // short while, so that unread bytes do not reset the connection before the client has
      // read our last response (RFC 9112 §9.6).
      ::shutdown(fd, SHUT_WR);
      closing_ = Closing::lingering;
      linger_until_ = now + kLingerTime;
    }
  }
  // A FIN seen by the POLLRDHUP poll between exchanges: once the app owns an exchange whose
  // body cannot be read any more, the client is gone.
  if (hup_seen_ && ex_.with_app() && !wants_recv() && !recv_inflight) {
    end_exchange(true);
    closing_ = Closing::now;
  }
}

void Connection::refresh_date() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  if (second == date_second_) return;
  date_second_ = second;
  conn_.set_date(http1::format_http_date(second));
}

// ---- completions ------------------------------------------------------------------------------

char* Connection::recv_buffer() noexcept {
  if (!own_buf_) own_buf_.reset(new (std::nothrow) char[kReadChunk]);
  return own_buf_.get();
}

// The loop keeps recv_inflight (a multishot recv stays armed across completions). -ENOBUFS:
// the buffer ring was empty; the bytes wait in the socket and the loop re-arms the recv.
bool Connection::on_recv(int res, std::string_view bytes) noexcept {
  if (closing_ == Closing::now || res == -ECANCELED || res == -EAGAIN || res == -EINTR ||
      res == -ENOBUFS) {
    return false;
  }
  try {
    if (closing_ == Closing::lingering) {
      lingered_ += res > 0 ? static_cast<std::uint64_t>(res) : 0;
      if (res <= 0 || lingered_ > kMaxDiscardBytes) closing_ = Closing::now;
      return false;
    }
    if (res > 0) {
      if (websocket_open()) {
        ws_->receive_data(bytes);
        return false;
      }
      if (!ex_.in_request && !head_started_) {
        head_started_ = true;
        head_since_ = Clock::now();
      }
      conn_.lend_data(bytes);  // parsed in place by the next step(); the loop keeps the buffer
      return true;
    }
    if (res == 0) {
      eof_seen_ = true;
      if (websocket_open()) {
        ws_->receive_eof();  // the app gone already: the session closes (1006, nothing sent)
      } else {
        conn_.receive_eof();
      }
      // uvicorn's rule: EOF while the app owns the exchange is a disconnect (http.disconnect).
      if (!ex_.with_app()) return false;
    }
    end_exchange(true);  // ECONNRESET and friends, or EOF mid-exchange
    closing_ = Closing::now;
  } catch (...) {
    closing_ = Closing::now;
  }
  return false;
}

void Connection::on_send(int res) noexcept {
  send_inflight = false;
  if (closing_ == Closing::now || res == -EAGAIN || res == -EINTR) return;
  try {
    if (res < 0) {
      end_exchange(true);  // EPIPE, ECONNRESET: the client left
      closing_ = Closing::now;
      return;
    }
    if (websocket_open()) {
      ws_->consume_output(static_cast<std::size_t>(res));
    } else {
      conn_.consume_output(static_cast<std::size_t>(res));
    }
    const auto drained = [this](Drained d) { shared_.outbox.push_back(d); };
    sends_.on_written(static_cast<std::size_t>(res), drained);
  } catch (...) {
    closing_ = Closing::now;
  }
}

void Connection::on_hup(int res) noexcept {
  poll_inflight = false;
  if (closing_ == Closing::now || res < 0) return;
  if ((static_cast<unsigned>(res) & (POLLRDHUP | POLLHUP | POLLERR)) == 0) return;
  hup_seen_ = true;  // FIN or reset while the body window is full: the client is gone
  if (ex_.with_app()) closing_ = Closing::now;  // step() posts ClientGone
}

void Connection::on_timer(Clock::time_point now) noexcept {
  if (closing_ == Closing::lingering) {
    if (now >= linger_until_) closing_ = Closing::now;
    return;
  }
  if (websocket_open()) {
    try {
      ws_->on_timer(now, websocket_io());  // keepalive, close timeout
      after_websocket();
    } catch (...) {
      closing_ = Closing::now;
    }
    return;
  }
  const auto due = deadline();
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

// ---- what to post next ------------------------------------------------------------------------

bool Connection::window_open() const noexcept {
  if (!ex_.with_app() || ex_.last_posted) return true;
  const std::uint64_t window = std::max<std::uint64_t>(shared_.config.body_window, 1);
  return ex_.posted - ex_.consumed + ex_.pending.size() < window;  // else: TCP backpressure
}

bool Connection::wants_recv() const noexcept {
  if (closing_ == Closing::lingering) return true;
  if (websocket_open()) return closing_ == Closing::no && !eof_seen_ && ws_->wants_read();
  if (closing_ != Closing::no || eof_seen_ || !conn_.wants_read()) return false;
  return window_open();
}

bool Connection::has_output() const noexcept {
  return websocket_open() ? ws_->wants_write() : conn_.wants_write();
}

bool Connection::wants_send() const noexcept {
  return (closing_ == Closing::no || closing_ == Closing::after_flush) && has_output();
}

bool Connection::wants_hup_poll() const noexcept {
  return closing_ == Closing::no && ex_.with_app() && !eof_seen_ && !hup_seen_ && !wants_recv();
}

msghdr* Connection::prepare_send() noexcept {
  std::array<std::string_view, kMaxIov> views;
  const std::size_t n = websocket_open() ? ws_->pending_output(views) : conn_.pending_output(views);
  for (std::size_t i = 0; i < n; ++i) {
    iov_[i].iov_base = const_cast<char*>(views[i].data());
    iov_[i].iov_len = views[i].size();
  }
  msg_ = msghdr{};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = n;
  return &msg_;
}

std::optional<Clock::time_point> Connection::deadline() const noexcept {
  if (closing_ == Closing::lingering) return linger_until_;
  if (websocket_open()) return closing_ == Closing::now ? std::nullopt : ws_->deadline();
  if (closing_ != Closing::no || ex_.in_request || conn_.wants_write() || send_inflight) {
    return std::nullopt;
  }
  if (head_started_) return head_since_ + seconds(shared_.config.timeout_header);
  if (fresh_) return opened_ + seconds(shared_.config.timeout_header);
  return idle_since_ + seconds(shared_.config.timeout_keep_alive);
}

// ---- app side -> wire -------------------------------------------------------------------------

void Connection::add_ops(ExchangeId id, std::vector<Outbound>&& ops) {
  for (Outbound& op : ops) ops_in_.emplace_back(id, std::move(op));
}

void Connection::add_credit(ExchangeId id, std::size_t bytes) {
  credit_in_.emplace_back(id, bytes);
}

void Connection::take_inbox() {
  for (const auto& [id, bytes] : credit_in_) {
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
  credit_in_.clear();
  std::vector<std::pair<ExchangeId, Outbound>> ops;
  ops.swap(ops_in_);
  for (auto& [id, op] : ops) {
    if (id != ex_.id || !ex_.with_app() || closing_ >= Closing::lingering) continue;
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

// Only called while no sendmsg is in flight (take_inbox): the accept may take http1's output.
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
  const auto drained = [this](Drained d) { shared_.outbox.push_back(d); };
  sends_.on_body(ex_.id, ex_.flow, queued, n - queued, drained);
}

void Connection::apply_head(SendHead& head) {
  std::vector<http1::Header> fields;
  if (head.status >= 200) {
    for (const Header& h : shared_.config.default_headers) fields.push_back({h.name, h.value});
  }
  for (const Header& h : head.headers) fields.push_back({h.name, h.value});
  if (!conn_.send(http1::ResponseHead{head.status, fields, {}})) local_failure();
}

// http.response.pathsend: the head went out already; the file's bytes follow as body, read in
// chunks as the output queue drains (refill_file), or spliced after the first chunk
// (start_splice), then the response ends.
void Connection::start_file(const std::string& path) {
  file_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file_fd_ < 0) {
    end_exchange(true);  // the head is out: nothing valid can follow
    closing_ = Closing::now;
    return;
  }
  file_ = FileSend{};
  struct stat st {};
  if (fstat(file_fd_, &st) == 0 && S_ISREG(st.st_mode)) {
    file_.regular = true;
    file_.size = static_cast<std::uint64_t>(st.st_size);
  }
  app_finished();
}

// TODO(io_uring): the file is read synchronously on the I/O thread (page cache reads are
// fast; IORING_OP_READ into a held buffer would keep a cold disk off the loop).
void Connection::refill_file() {
  while (file_fd_ >= 0 && !file_.splicing && conn_.pending_output_bytes() < 4 * kFileChunk) {
    const bool first = !file_.probed;
    std::string chunk(first ? kFileFirstChunk : kFileChunk, '\0');
    const ssize_t n = read(file_fd_, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    bool ok = n >= 0;
    if (n > 0) {
      chunk.resize(static_cast<std::size_t>(n));
      ok = conn_.send_data(chunk).has_value();
      file_.read += static_cast<std::uint64_t>(n);
      file_.probed = true;
      // A raw body: the rest of the file may go on the wire as it is.
      const http1::BodyFraming framing = conn_.body_framing();
      if (ok && first &&
          (framing == http1::BodyFraming::content_length ||
           framing == http1::BodyFraming::until_close) &&
          start_splice()) {
        return;
      }
      if (ok) continue;
    }
    if (ok) {
      finish_file();  // n == 0: end of file
    } else {
      closing_ = Closing::now;
    }
  }
}

// Closes the file and ends the response (the body is complete, or the response cannot be
// completed: then the connection closes).
void Connection::finish_file() {
  close(file_fd_);
  file_fd_ = -1;
  file_ = FileSend{};
  if (!conn_.send_end()) closing_ = Closing::now;
}

/// Switches the rest of the file to splice, if it is a regular file with bytes left and a pipe
/// can be had; false: keep reading.
bool Connection::start_splice() {
  if (!file_.regular || file_.size <= file_.read) return false;
  if (pipe_[0] < 0) {
    if (pipe2(pipe_, O_CLOEXEC) != 0) {
      pipe_[0] = pipe_[1] = -1;
      return false;
    }
    // A larger pipe means fewer splices; refused (pipe-max-size, the user's pipe quota), the
    // default size does.
    [[maybe_unused]] const int set = fcntl(pipe_[1], F_SETPIPE_SZ, static_cast<int>(kSpliceChunk));
    const int size = fcntl(pipe_[1], F_GETPIPE_SZ);
    pipe_capacity_ = size > 0 ? std::min(static_cast<unsigned>(size), kSpliceChunk) : 4096;
  }
  file_.splicing = true;
  file_.offset = file_.read;
  file_.remaining = file_.size - file_.read;
  return true;
}

std::optional<SpliceStep> Connection::next_splice() noexcept {
  if (!file_.splicing || file_fd_ < 0 || closing_ == Closing::now || send_inflight ||
      conn_.wants_write()) {
    return std::nullopt;
  }
  if (file_.in_pipe > 0) {
    file_.filling = false;
    return SpliceStep{pipe_[0], -1, fd, static_cast<unsigned>(file_.in_pipe)};
  }
  if (file_.remaining == 0) return std::nullopt;
  file_.filling = true;
  const auto len = static_cast<unsigned>(std::min<std::uint64_t>(file_.remaining, pipe_capacity_));
  return SpliceStep{file_fd_, static_cast<std::int64_t>(file_.offset), pipe_[1], len};
}

void Connection::on_splice(int res) noexcept {
  if (closing_ == Closing::now || !file_.splicing) return;
  try {
    if (file_.filling) {
      if (res == -EINVAL && file_.offset == file_.read) {
        // The file cannot be spliced (its filesystem says no): read() it from where the splice
        // would have started, which is the file position (splice used explicit offsets).
        file_.splicing = false;
        return;
      }
      // 0: the file ended before its size at open (it shrank): the body cannot be completed.
      if (res <= 0 || !account_spliced(static_cast<std::size_t>(res))) {
        closing_ = Closing::now;
        return;
      }
      const auto n = static_cast<std::uint64_t>(res);
      file_.offset += n;
      file_.remaining -= std::min(n, file_.remaining);
      file_.in_pipe = static_cast<std::size_t>(res);
      return;
    }
    if (res <= 0) {  // the client left (EPIPE, ECONNRESET) or the splice was cancelled
      closing_ = Closing::now;
      return;
    }
    file_.in_pipe -= std::min(file_.in_pipe, static_cast<std::size_t>(res));
    if (file_.in_pipe == 0 && file_.remaining == 0) finish_file();
  } catch (...) {
    closing_ = Closing::now;
  }
}

// Each pipeful is counted by http1 (Content-Length) before it goes to the socket, so a file
// longer than Content-Length never puts a byte too many on the wire.
bool Connection::account_spliced(std::size_t n) {
  return conn_.send_data_written(n).has_value();
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
  shared_.end_exchange(ex_.id);
}

void Connection::end_exchange(bool client_gone) {
  if (!ex_.with_app()) return;
  if (client_gone) shared_.outbox.push_back(ClientGone{ex_.id});
  app_finished();
}


// ---- wire -> app side -------------------------------------------------------------------------

// Graceful shutdown: every later response says Connection: close; a connection with no request
// in progress and nothing to write closes now; in-flight ones close after their response.
void Connection::check_drain() {
  if (!drain_seen_ && shared_.drain_seen) {
    drain_seen_ = true;
    conn_.request_close();
  }
  if (drain_seen_ && websocket_open()) {
    ws_->on_drain(Clock::now(), websocket_io());  // close 1001; idempotent
    after_websocket();
  }
  if (drain_seen_ && closing_ == Closing::no && !ex_.in_request && !has_output() &&
      file_fd_ < 0) {
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
  const classify::Route route = classify::classify(head, shared_.config.probes);
  if (route.kind == classify::RouteKind::probe) {
    answer_probe(route.probe, head.method == "HEAD");
    return;
  }
  if (route.kind == classify::RouteKind::websocket && shared_.config.ws.enabled) {
    begin_websocket(head);
    return;
  }
  const ExchangeId id = shared_.begin_exchange(this);
  if (id == 0) {
    conn_.send_error_response(kUnavailable);
    closing_ = Closing::after_flush;
    return;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  ex_.expects_continue = head.expects_continue && head.version == http1::Version::http11;
  shared_.outbox.push_back(RequestStarted{id, make_scope(head), ex_.expects_continue, ex_.flow});
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
  const ExchangeId id = shared_.begin_exchange(this);
  if (id == 0) {
    conn_.send_error_response(kUnavailable);
    closing_ = Closing::after_flush;
    return;
  }
  ex_.id = id;
  ex_.flow = std::make_shared<ExchangeFlow>();
  ws_ = std::make_unique<common::WebSocketSession>(shared_.config, id, ex_.flow,
                                                   std::move(*request));
  shared_.outbox.push_back(ws_->requested(make_scope(head)));
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
      classify::make_probe_response(kind, shared_.readiness(), head_request);
  const std::vector<http1::Header> fields = response.header_views();
  const bool ok = conn_.send(http1::ResponseHead{response.status, fields, {}}) &&
                  conn_.send_data(response.body) && conn_.send_end();
  if (!ok) closing_ = Closing::after_flush;
}

asgi::HttpScope Connection::make_scope(const http1::RequestHead& head) const {
  asgi::ConnectionInfo info;
  info.client = peer_;
  info.server = local_;
  info.root_path = shared_.config.root_path;
  asgi::HttpScope scope = asgi::make_http_scope(head, info);
  if (shared_.config.proxy_headers) {
    asgi::apply_proxy_headers(scope, shared_.config.forwarded_allow_ips);
  }
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
  const std::uint64_t window = std::max<std::uint64_t>(shared_.config.body_window, 1);
  const std::uint64_t ahead = ex_.posted - ex_.consumed;
  const std::uint64_t credit = ahead < window ? window - ahead : 0;
  if (!ex_.pending.empty() && credit > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(credit, ex_.pending.size()));
    const bool last = ex_.body_complete && n == ex_.pending.size();
    shared_.outbox.push_back(BodyReceived{ex_.id, common::take_front(ex_.pending, n), !last});
    ex_.posted += n;
    ex_.last_posted = last;
  } else if (ex_.pending.empty() && ex_.body_complete) {
    shared_.outbox.push_back(BodyReceived{ex_.id, {}, false});
    ex_.last_posted = true;
  }
}

// Both sides done -> the next cycle (true: parse again), or close.
bool Connection::advance_cycle(Clock::time_point now) {
  const http1::State ours = conn_.our_state();
  if (closing_ != Closing::no) return false;
  if (ours == http1::State::must_close || ours == http1::State::error || conn_.should_close()) {
    closing_ = Closing::after_flush;
    return false;
  }
  if (ours != http1::State::done || conn_.their_state() != http1::State::done) return false;
  if (shared_.drain_seen || file_fd_ >= 0) {
    if (shared_.drain_seen) closing_ = Closing::after_flush;
    return false;
  }
  if (!conn_.start_next_cycle()) {
    closing_ = Closing::after_flush;
    return false;
  }
  ex_ = Exchange{};
  fresh_ = false;
  idle_since_ = head_since_ = now;
  head_started_ = !conn_.trailing_data().empty();
  return true;
}

}  // namespace lancet::backend::io_uring
