// Core: server-wide state of the libevent backend. See core.hpp for the theory of operation.
#include "backends/libevent/core.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "backends/libevent/connection.hpp"

namespace lancet::backend::libevent {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

/// Process-wide, so that an ExchangeId names one exchange for the life of the process.
std::atomic<ExchangeId> next_exchange_id{1};

StartError start_error(int err, const std::string& what) {
  return StartError{err, "[Errno " + std::to_string(err) + "] " + what};
}

}  // namespace

Core::Core(const ServerConfig& cfg, AppPort& port)
    : config(cfg), app(port), read_buf_(kReadChunk) {}

Core::~Core() {
  retired_.clear();
  connections_.clear();  // only if the loop never ran: run() drains them
  close_listener();
  if (wake_ev_ != nullptr) event_free(wake_ev_);
  if (abort_ev_ != nullptr) event_free(abort_ev_);
  if (retry_ev_ != nullptr) event_free(retry_ev_);
  if (wake_fd_ >= 0) close(wake_fd_);
  if (base_ != nullptr) event_base_free(base_);
}

std::optional<StartError> Core::open(common::Listener listener) {
  listen_fd_ = listener.fd;
  listen_borrowed_ = listener.borrowed;
  unix_path_ = listener.unix_path;
  base_ = event_base_new();
  if (base_ == nullptr) return start_error(ENOMEM, "cannot create a libevent event base");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return start_error(errno, "cannot create an eventfd");
  wake_ev_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &Core::on_wake, this);
  abort_ev_ = evtimer_new(base_, &Core::on_abort, this);
  retry_ev_ = evtimer_new(base_, &Core::on_accept_retry, this);
  // backlog 0: the socket listens already (common::open_listener); accepted sockets come
  // non-blocking and close-on-exec.
  listener_ = evconnlistener_new(base_, &Core::on_accept, this,
                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd_);
  if (wake_ev_ == nullptr || abort_ev_ == nullptr || retry_ev_ == nullptr || listener_ == nullptr ||
      event_add(wake_ev_, nullptr) != 0) {
    return start_error(ENOMEM, "cannot set up the libevent listener");
  }
  evconnlistener_set_error_cb(listener_, &Core::on_accept_error);
  return std::nullopt;
}

void Core::run() noexcept {
  event_base_loop(base_, 0);  // until after_callback() breaks it, drained
  on_abort(-1, 0, this);       // nothing left, unless the loop itself failed
}

// ---- any thread -------------------------------------------------------------------------------

void Core::submit(ExchangeId id, std::vector<Outbound>&& ops) {
  bool wake = false;
  {
    std::lock_guard lock(inbox_mu_);
    for (Outbound& op : ops) ops_in_.emplace_back(id, std::move(op));
    wake = !std::exchange(wake_pending_, true);
  }
  if (wake) wake_up(wake_fd_);
}

void Core::body_consumed(ExchangeId id, std::size_t bytes) {
  bool wake = false;
  {
    std::lock_guard lock(inbox_mu_);
    credit_in_.emplace_back(id, bytes);
    wake = !std::exchange(wake_pending_, true);
  }
  if (wake) wake_up(wake_fd_);
}

void Core::shutdown(double timeout_seconds) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(timeout_seconds));
  const std::int64_t at =
      std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
  std::int64_t current = abort_at_ns_.load();
  while (at < current && !abort_at_ns_.compare_exchange_weak(current, at)) {
  }
  draining.store(true);
  {
    std::lock_guard lock(listen_mu_);  // the I/O thread may be closing it
    common::Listener view;
    view.fd = listen_fd_;
    view.borrowed = listen_borrowed_;
    common::refuse_new_connections(view);
  }
  {
    std::lock_guard lock(inbox_mu_);
    wake_pending_ = true;
  }
  wake_up(wake_fd_);
}

classify::Readiness Core::readiness() const noexcept {
  if (draining.load()) return classify::Readiness::draining;
  return ready.load() ? classify::Readiness::ready : classify::Readiness::starting;
}

void Core::wake_up(int fd) noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = write(fd, &one, sizeof one);
}

// ---- I/O thread: registry, retiring, the end of every callback --------------------------------

ExchangeId Core::begin_exchange(Connection* conn) {
  const std::size_t limit = config.limit_concurrency;
  if (limit != 0 && active_.load() >= limit) return 0;
  const ExchangeId id = next_exchange_id.fetch_add(1);
  exchanges_.emplace(id, conn);
  active_.fetch_add(1);
  return id;
}

void Core::end_exchange(ExchangeId id) {
  if (exchanges_.erase(id) > 0) active_.fetch_sub(1);
}

void Core::retire(Connection* conn) noexcept {
  const auto it = connections_.find(conn);
  if (it == connections_.end()) return;
  try {
    retired_.push_back(std::move(it->second));
  } catch (...) {
    it->second.release();  // cannot defer: leak the (closed) object rather than free it in use
  }
  connections_.erase(it);
}

void Core::after_callback() noexcept {
  if (!outbox_.empty()) {
    try {
      app.post(std::move(outbox_));
    } catch (...) {
    }
    reset_batch(outbox_);
  }
  const bool closed = !retired_.empty();  // connections closed in this callback
  retired_.clear();
  if (closed) {  // after they are freed
    idle_memory_.on_connection_closed(connections_.size(), std::chrono::steady_clock::now());
  }
  const std::size_t limit = config.max_connections;  // 0: no limit
  const bool room = limit == 0 || connections_.size() < limit;
  if (listener_ != nullptr && !accept_paused_ && room != accepting_) {
    accepting_ = room;
    room ? evconnlistener_enable(listener_) : evconnlistener_disable(listener_);
  }
  if (drain_begun_ && connections_.empty()) event_base_loopbreak(base_);
}

// ---- I/O thread: accepting ----------------------------------------------------------------------

void Core::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept {
  auto* self = static_cast<Core*>(arg);
  try {
    self->accept_one(fd);
  } catch (...) {
    close(fd);  // the Connection was never created
  }
  self->after_callback();
}

void Core::accept_one(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on Unix
  auto conn = std::make_unique<Connection>(*this, fd);
  Connection* raw = conn.get();
  connections_.emplace(raw, std::move(conn));
  if (!raw->start()) raw->abort();
}

// EMFILE/ENFILE/ENOBUFS (or the socket shut down by shutdown()): out of resources; back off
// for a moment instead of spinning on a listening socket that stays readable.
void Core::on_accept_error(evconnlistener* listener, void* arg) noexcept {
  auto* self = static_cast<Core*>(arg);
  evconnlistener_disable(listener);
  self->accepting_ = false;
  self->accept_paused_ = true;
  const timeval backoff{0, 100 * 1000};
  evtimer_add(self->retry_ev_, &backoff);
}

void Core::on_accept_retry(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Core*>(arg);
  self->accept_paused_ = false;
  self->after_callback();  // re-enables accepting if there is room
}

void Core::close_listener() noexcept {
  std::lock_guard lock(listen_mu_);
  if (listener_ != nullptr) {
    evconnlistener_free(listener_);  // closes listen_fd_
  } else if (listen_fd_ >= 0) {
    close(listen_fd_);
  }
  listener_ = nullptr;
  listen_fd_ = -1;
  if (!unix_path_.empty()) unlink(unix_path_.c_str());
  unix_path_.clear();
}

// ---- I/O thread: the app's inbox, draining, the abort deadline ----------------------------------

void Core::on_wake(evutil_socket_t fd, short, void* arg) noexcept {
  auto* self = static_cast<Core*>(arg);
  std::uint64_t count = 0;
  [[maybe_unused]] const auto n = read(fd, &count, sizeof count);
  try {
    self->take_inbox();
  } catch (...) {
    // bad_alloc taking the inbox: those ops are lost (applying one aborts its connection).
  }
  self->after_callback();
}

void Core::take_inbox() {
  std::vector<std::pair<ExchangeId, Outbound>> ops;
  std::vector<std::pair<ExchangeId, std::size_t>> credit;
  {
    std::lock_guard lock(inbox_mu_);
    ops.swap(ops_in_);
    credit.swap(credit_in_);
    wake_pending_ = false;
  }
  if (draining.load()) {
    arm_abort();
    if (!drain_begun_) begin_drain();
  }
  std::vector<Connection*> touched;
  touched.reserve(credit.size() + ops.size());  // no allocation below: every touched one steps
  auto touch = [&](Connection* conn) {
    if (!conn->touched) touched.push_back(conn);
    conn->touched = true;
  };
  for (const auto& [id, bytes] : credit) {
    const auto it = exchanges_.find(id);
    if (it == exchanges_.end()) continue;
    Connection* conn = it->second;
    touch(conn);
    try {
      conn->on_credit(id, bytes);
    } catch (...) {
      conn->abort();
    }
  }
  for (auto& [id, op] : ops) {
    const auto it = exchanges_.find(id);
    if (it == exchanges_.end()) continue;  // over, or the client left: dropped
    Connection* conn = it->second;  // on_op may end the exchange: keep the pointer
    touch(conn);
    try {
      conn->on_op(id, op);
    } catch (...) {
      conn->abort();  // bad_alloc applying an op: the response cannot be completed
    }
  }
  for (Connection* conn : touched) {
    conn->touched = false;
    conn->step();
  }
}

void Core::begin_drain() {
  drain_begun_ = true;
  close_listener();
  std::vector<Connection*> all;
  for (auto& [raw, conn] : connections_) all.push_back(raw);
  for (Connection* conn : all) conn->step();  // idle ones close; busy ones say Connection: close
}

void Core::arm_abort() {
  const std::int64_t at = abort_at_ns_.load();
  if (at >= abort_armed_ns_) return;
  abort_armed_ns_ = at;
  const auto left = std::max(Clock::time_point(std::chrono::nanoseconds(at)) - Clock::now(),
                             Clock::duration::zero());
  const auto us = std::chrono::ceil<std::chrono::microseconds>(left).count();
  const timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  evtimer_add(abort_ev_, &tv);
}

void Core::on_abort(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<Core*>(arg);
  std::vector<Connection*> all;
  try {
    for (auto& [raw, conn] : self->connections_) all.push_back(raw);
  } catch (...) {
  }
  for (Connection* conn : all) conn->abort();  // graceful shutdown ran out of time
  self->after_callback();
}

}  // namespace lancet::backend::libevent
