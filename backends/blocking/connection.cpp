// One connection of the blocking backend. See connection.hpp for the theory of operation.
#include "backends/blocking/connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>

#include "backends/common/listener.hpp"
#include "backends/common/socket_io.hpp"

namespace lancet::backend::blocking {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr auto kLingerTime = std::chrono::milliseconds(500);

}  // namespace

// ---- Connection: lifecycle --------------------------------------------------------------------

Connection::Connection(Core& core, int fd, int wake_fd)
    : core_(core),
      fd_(fd),
      wake_fd_(wake_fd),
      session_(core.config, *this, outbox_, common::socket_address(fd, true),
               common::socket_address(fd, false), Clock::now()) {}

Connection::~Connection() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Connection::run() noexcept {
  try {
    serve();
  } catch (...) {
    session_.close(Closing::now);  // bad_alloc or a bug: drop the connection, never the process
  }
  finish();
}

void Connection::serve() {
  read_buf_.resize(kReadChunk);
  while (session_.closing() != Closing::now) {
    refresh_date();
    // Before the inbox: ops queued after shutdown() must see request_close().
    if (core_.draining.load()) session_.on_drain(Clock::now());
    take_inbox();
    do {
      session_.pump(Clock::now());
      flush();
    } while (session_.advance_cycle(Clock::now()));
    session_.keep_input();  // before the next read reuses read_buf_
    post_outbox();
    if (session_.closing() == Closing::now) break;
    if (session_.closing() == Closing::after_flush && !session_.has_output() && !file_.active()) {
      break;
    }
    wait_for_io();
  }
}

void Connection::finish() noexcept {
  const bool lingering = session_.closing() == Closing::after_flush && !session_.eof_seen();
  try {
    session_.client_gone();  // ClientGone if the app still owns the exchange
  } catch (...) {
  }
  post_outbox();
  file_.close();
  if (lingering) linger();
  close(fd_);
}

// A lingering close: stop sending, then read and drop what the client still sends for a short
// while, so that closing with unread bytes does not reset the connection before the client
// has read our last response (RFC 9112 §9.6).
void Connection::linger() noexcept {
  shutdown(fd_, SHUT_WR);
  const auto until = Clock::now() + kLingerTime;
  std::size_t dropped = 0;
  while (dropped < common::Session::kMaxDiscardBytes) {
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
  reset_batch(outbox_);
}

void Connection::refresh_date() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  session_.set_date(std::chrono::duration_cast<std::chrono::seconds>(now).count());
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
  for (const auto& [id, bytes] : credit) session_.on_credit(id, bytes);
  const auto now = Clock::now();
  for (auto& [id, op] : ops) session_.on_op(id, op, now);
}

void Connection::flush() {
  while (session_.closing() != Closing::now) {
    file_.refill(session_);
    if (!session_.has_output()) return;
    const ssize_t written = common::send_pending(fd_, session_);
    if (written == -EINTR) continue;
    if (written == -EAGAIN || written == -EWOULDBLOCK) return;
    if (written < 0) {
      session_.client_gone();  // EPIPE, ECONNRESET: the client left
      return;
    }
    session_.written(static_cast<std::size_t>(written));
  }
}

// ---- waiting, timers, reading -----------------------------------------------------------------

std::optional<Clock::time_point> Connection::next_deadline() const {
  std::optional<Clock::time_point> at = session_.deadline();
  const std::int64_t abort_ns = core_.abort_at_ns.load();
  if (abort_ns != INT64_MAX) {
    const auto abort_at = Clock::time_point(std::chrono::nanoseconds(abort_ns));
    at = at ? std::min(*at, abort_at) : abort_at;
  }
  return at;
}

void Connection::on_timers(Clock::time_point now) {
  const std::int64_t abort_ns = core_.abort_at_ns.load();
  if (abort_ns != INT64_MAX && now >= Clock::time_point(std::chrono::nanoseconds(abort_ns))) {
    session_.client_gone();  // graceful shutdown ran out of time
    return;
  }
  session_.on_timer(now);
}

void Connection::wait_for_io() {
  short events = 0;
  if (session_.wants_read()) events |= POLLIN;
  if (session_.has_output()) events |= POLLOUT;
  // The client leaving mid-exchange, also while reading is paused.
  if (session_.app_owns_exchange() && !session_.eof_seen()) events |= POLLRDHUP;
  std::array<pollfd, 2> fds{pollfd{fd_, events, 0}, pollfd{wake_fd_, POLLIN, 0}};
  int timeout_ms = 1000;  // at least once a second: the Date value
  if (const auto due = next_deadline()) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now()).count();
    timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left, 0, timeout_ms));
  }
  if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
    session_.close(Closing::now);
    return;
  }
  if (fds[1].revents & POLLIN) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = read(wake_fd_, &count, sizeof count);
  }
  on_timers(Clock::now());
  const short got = fds[0].revents;
  if (got & (POLLERR | POLLHUP)) {
    session_.client_gone();
  } else if (got & POLLIN) {
    read_some();
  } else if ((got & POLLRDHUP) && session_.app_owns_exchange()) {
    session_.client_gone();  // FIN while the body window is full: the client is gone
  }
}

void Connection::read_some() {
  const ssize_t n = recv(fd_, read_buf_.data(), read_buf_.size(), MSG_DONTWAIT);
  if (n > 0) {
    // Lent: parsed in place by the next pump(), kept before the next read.
    session_.receive_data(std::string_view(read_buf_.data(), static_cast<std::size_t>(n)),
                          Clock::now());
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n < 0) {
    session_.client_gone();
    return;
  }
  session_.receive_eof();
}

}  // namespace lancet::backend::blocking
