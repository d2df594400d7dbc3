// The blocking backend's Server: a listener thread and one thread per connection.
//
// Layer: backends/blocking. Implements backends/server.hpp (make_server) and the ServerPort.
//
// Theory of operation
//   Threads: the listener thread accepts (non-blocking listening socket, poll() on it and on
//   the listener's eventfd) and starts one thread per connection (connection.hpp). At most
//   max_connections connection threads live at once; at the limit the listener stops
//   accepting and further clients wait in the kernel's backlog (no 503: a client that waits a
//   little is better served than one refused, and the accept queue is bounded by `backlog`).
//   A finishing connection thread marks its slot done and wakes the listener, which joins it.
//
//   The ServerPort (submit, body_consumed) is called from the app thread: it finds the
//   exchange's connection in Core's registry and appends to that connection's inbox.
//
//   shutdown(timeout): marks the server draining (the ready probe turns 503, every connection
//   asks http1 for Connection: close and idle ones close), stops the listening socket at once
//   (shutdown(2) on it refuses new connections; the listener thread closes it), and sets the
//   abort deadline `timeout` seconds ahead, after which connections still open are closed.
//   join() waits for the listener and then for every connection thread.
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <list>
#include <thread>

#include "backends/blocking/connection.hpp"
#include "backends/common/idle_memory.hpp"
#include "backends/common/listener.hpp"
#include "backends/server.hpp"

namespace lancet::backend {
namespace blocking {
namespace {

class BlockingServer final : public Server {
 public:
  BlockingServer(const ServerConfig& config, AppPort& app, common::Listener listener, int wake_fd)
      : wake_fd_(wake_fd),
        core_(config, app, wake_fd),
        listener_(std::move(listener)),
        address_(listener_.address) {}

  ~BlockingServer() override {
    if (!core_.draining.load()) shutdown(0);
    join();
    if (listener_.fd >= 0) close(listener_.fd);  // the listener thread never started
    close(wake_fd_);
  }

  void start() { listener_thread_ = std::thread([this] { accept_loop(); }); }

  // ---- ServerPort ----------------------------------------------------------------------------
  void submit(ExchangeId id, std::vector<Outbound>&& ops) override {
    if (auto conn = core_.find(id)) conn->enqueue(id, std::move(ops));
  }
  void body_consumed(ExchangeId id, std::size_t bytes) override {
    if (auto conn = core_.find(id)) conn->add_credit(id, bytes);
  }

  // ---- Server --------------------------------------------------------------------------------
  std::string bound_address() const override { return address_; }
  void set_ready(bool ready) override { core_.ready.store(ready); }
  std::size_t active_exchanges() const override { return core_.active(); }
  const char* name() const override { return "blocking"; }

  void shutdown(double timeout_seconds) override {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(timeout_seconds));
    const std::int64_t at =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch()).count();
    std::int64_t current = core_.abort_at_ns.load();
    while (at < current && !core_.abort_at_ns.compare_exchange_weak(current, at)) {
    }
    core_.draining.store(true);
    {
      std::lock_guard lock(listen_mu_);  // the listener thread may be closing it
      common::refuse_new_connections(listener_);
    }
    core_.wake_listener();
    std::lock_guard lock(slots_mu_);
    for (const auto& slot : slots_) slot->conn->wake();
  }

  void join() override {
    std::lock_guard join_lock(join_mu_);
    if (listener_thread_.joinable()) listener_thread_.join();
    for (;;) {
      std::list<std::unique_ptr<Slot>> slots;
      {
        std::lock_guard lock(slots_mu_);
        slots.swap(slots_);
      }
      if (slots.empty()) return;
      for (auto& slot : slots) slot->thread.join();
    }
  }

 private:
  struct Slot {
    std::shared_ptr<Connection> conn;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void accept_loop() noexcept {
    while (!core_.draining.load()) {
      const std::size_t limit = core_.config.max_connections;  // 0: no limit
      const std::size_t live = reap();
      const bool room = limit == 0 || live < limit;
      std::array<pollfd, 2> fds{pollfd{listener_.fd, static_cast<short>(room ? POLLIN : 0), 0},
                                pollfd{wake_fd_, POLLIN, 0}};
      if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[1].revents & POLLIN) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto n = read(wake_fd_, &count, sizeof count);
      }
      if (!core_.draining.load() && (fds[0].revents & POLLIN)) accept_one();
    }
    std::lock_guard lock(listen_mu_);
    close(listener_.fd);
    listener_.fd = -1;
    if (!listener_.unix_path.empty()) unlink(listener_.unix_path.c_str());
  }

  void accept_one() noexcept {
    const int fd = accept4(listener_.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      // EMFILE/ENFILE/ENOBUFS: out of resources; back off instead of spinning on poll().
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        poll(nullptr, 0, 100);
      }
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on Unix
    const int conn_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (conn_wake < 0) {
      close(fd);
      return;
    }
    std::unique_ptr<Slot> slot;
    try {
      slot = std::make_unique<Slot>();
      slot->conn = std::make_shared<Connection>(core_, fd, conn_wake);
    } catch (...) {
      close(conn_wake);
      close(fd);
      return;
    }
    try {
      Slot* raw = slot.get();
      std::lock_guard lock(slots_mu_);
      slot->thread = std::thread([this, raw] {
        raw->conn->run();
        raw->done.store(true);
        core_.wake_listener();
      });
      slots_.push_back(std::move(slot));
    } catch (...) {
      close(fd);  // no thread could start: the Connection closes its eventfd, not the socket
    }
  }

  /// Joins finished connection threads; returns how many are still running.
  std::size_t reap() {
    std::list<std::unique_ptr<Slot>> finished;
    std::size_t live = 0;
    {
      std::lock_guard lock(slots_mu_);
      for (auto it = slots_.begin(); it != slots_.end();) {
        if ((*it)->done.load()) {
          finished.push_back(std::move(*it));
          it = slots_.erase(it);
        } else {
          ++live;
          ++it;
        }
      }
    }
    for (auto& slot : finished) slot->thread.join();
    if (!finished.empty()) idle_memory_.on_connection_closed(live, std::chrono::steady_clock::now());
    return live;
  }

  int wake_fd_;
  Core core_;
  common::Listener listener_;
  const std::string address_;
  std::mutex listen_mu_;  // guards listener_.fd between shutdown() and the listener's close
  std::thread listener_thread_;
  std::mutex slots_mu_;
  std::list<std::unique_ptr<Slot>> slots_;
  std::mutex join_mu_;
  common::IdleMemory idle_memory_{core_.config.release_idle_memory};  // accept_loop()'s thread
};

}  // namespace
}  // namespace blocking

StartResult make_server(const ServerConfig& config, AppPort& app) {
  common::ListenResult listened = common::open_listener(config);
  if (listened.listener.fd < 0) return StartResult{nullptr, std::move(listened.error)};
  const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    close(listened.listener.fd);
    return StartResult{nullptr, StartError{err, "[Errno " + std::to_string(err) +
                                                    "] cannot create an eventfd"}};
  }
  auto server =
      std::make_unique<blocking::BlockingServer>(config, app, std::move(listened.listener), wake_fd);
  try {
    server->start();
  } catch (const std::system_error& e) {
    return StartResult{nullptr, StartError{e.code().value(), "cannot start the listener thread"}};
  }
  return StartResult{std::move(server), {}};
}

}  // namespace lancet::backend
