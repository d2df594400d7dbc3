// One connection of the libevent backend. See connection.hpp for the theory of operation.
#include "backends/libevent/connection.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <span>
#include <string_view>

#include "backends/common/listener.hpp"
#include "backends/common/socket_io.hpp"

namespace lancet::backend::libevent {
namespace {

constexpr auto kLingerTime = std::chrono::milliseconds(500);

}  // namespace

// ---- lifecycle and trampolines ----------------------------------------------------------------

Connection::Connection(Core& core, int fd)
    : core_(core),
      fd_(fd),
      session_(core.config, *this, core.outbox(), common::socket_address(fd, true),
               common::socket_address(fd, false), Clock::now()) {}

Connection::~Connection() {
  if (io_ev_ != nullptr) event_free(io_ev_);
  if (timer_ev_ != nullptr) event_free(timer_ev_);
  if (fd_ >= 0) close(fd_);
}

bool Connection::start() {
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
  step();
}

void Connection::handle_timer() {
  if (lingering_) return close_now();
  session_.on_timer(Clock::now());
  step();  // early (coarse clock) or no longer due: step() re-arms
}

void Connection::step() noexcept {
  if (closed_ || lingering_) return;
  try {
    run_protocol();
  } catch (...) {
    session_.close(Closing::now);
  }
  if (session_.closing() == Closing::now ||
      (session_.closing() == Closing::after_flush && !session_.has_output() && !file_.active())) {
    return finish();
  }
  if (const auto due = session_.deadline()) {
    arm_timer(*due);
  } else if (timer_at_) {
    evtimer_del(timer_ev_);
    timer_at_.reset();
  }
}

void Connection::run_protocol() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  session_.set_date(std::chrono::duration_cast<std::chrono::seconds>(now).count());
  if (core_.draining.load()) session_.on_drain(Clock::now());
  for (;;) {
    do {
      session_.pump(Clock::now());
      flush();
    } while (session_.advance_cycle(Clock::now()));
    if (session_.closing() != Closing::no || !readable_ || !session_.wants_read()) {
      session_.keep_input();  // the read buffer is shared: the next connection's read reuses it
      // Reading paused (window full, or pipelined bytes held) before EAGAIN: the edge that
      // woke us may also have carried the client leaving (a FIN or reset), and no other edge
      // will come. It must reach the app as ClientGone now, not when the window opens.
      if (readable_ && session_.closing() == Closing::no && session_.app_owns_exchange() &&
          peer_hung_up()) {
        session_.client_gone();
      }
      return;
    }
    read_some();
  }
}

void Connection::abort() noexcept {
  if (closed_) return;
  try {
    session_.client_gone();
  } catch (...) {
  }
  close_now();
}

// ---- app side -> wire -------------------------------------------------------------------------

void Connection::on_op(ExchangeId id, Outbound& op) {
  if (closed_) return;
  session_.on_op(id, op, Clock::now());
}

void Connection::flush() {
  while (session_.closing() != Closing::now) {
    file_.refill(session_);
    if (!session_.has_output() || !writable_) return;
    const ssize_t written = common::send_pending(fd_, session_);
    if (written == -EINTR) continue;
    if (written == -EAGAIN || written == -EWOULDBLOCK) {
      writable_ = false;  // the next EV_WRITE edge says when to go on
      return;
    }
    if (written < 0) {
      session_.client_gone();  // EPIPE, ECONNRESET: the client left
      return;
    }
    session_.written(static_cast<std::size_t>(written));
  }
}

// ---- wire -> app side -------------------------------------------------------------------------

// Only asked while reading is paused, on an edge: is this edge a FIN or a reset?
bool Connection::peer_hung_up() const {
  pollfd p{fd_, POLLRDHUP, 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void Connection::read_some() {
  const std::span<char> buf = core_.read_buffer();
  const ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
  if (n > 0) {
    // Lent: parsed in place by the pump that follows; kept before the buffer's reuse.
    session_.receive_data(std::string_view(buf.data(), static_cast<std::size_t>(n)),
                          Clock::now());
    return;
  }
  if (n < 0 && errno == EINTR) return;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    readable_ = false;  // the next EV_READ edge says when to go on
    return;
  }
  if (n < 0) {
    session_.client_gone();
    return;
  }
  session_.receive_eof();
}

// ---- deadlines and closing --------------------------------------------------------------------

void Connection::arm_timer(Clock::time_point at) {
  if (timer_at_ == at) return;
  const auto left = std::max(at - Clock::now(), Clock::duration::zero());
  const auto us = std::chrono::ceil<std::chrono::microseconds>(left).count();
  const timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  if (evtimer_add(timer_ev_, &tv) == 0) timer_at_ = at;
}

void Connection::finish() noexcept {
  if (session_.closing() == Closing::after_flush && !session_.eof_seen()) {
    try {
      session_.client_gone();
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
  while (readable_ && lingered_ < common::Session::kMaxDiscardBytes) {
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
    session_.client_gone();
  } catch (...) {
  }
  if (io_ev_ != nullptr) event_del(io_ev_);
  if (timer_ev_ != nullptr) event_del(timer_ev_);
  file_.close();
  close(fd_);
  fd_ = -1;
  core_.retire(this);
}

}  // namespace lancet::backend::libevent
