// Core: the libevent backend's server-wide state: the event base and its one I/O thread, the
// listener, the app-thread inbox and its wake-up, the exchange registry, the outbox to the app,
// and the graceful-shutdown machinery.
//
// Layer: backends/libevent. No HTTP here (connection.hpp drives protocol/).
//
// Theory of operation
//   Threads. One event_base, run by one I/O thread (run()); every connection, every event and
//   the registry belong to it. A second I/O thread would buy nothing: the app runs Python on
//   its own thread, and workers scale by process (SO_REUSEPORT), not by thread.
//   The app thread touches only the inbox (submit, body_consumed: a mutex-guarded vector) and
//   the atomics; it wakes the I/O thread by writing an eventfd that the base watches. A flag
//   under the same mutex coalesces wake-ups: one write per batch, however many submits. We use
//   an eventfd rather than event_active() from the app thread because that would need
//   evthread_use_pthreads(): process-wide locking on every event operation, for one wake-up.
//
//   One callback, in order (every C trampoline is noexcept and ends with after_callback()):
//     1. the wake event: take the inbox; if draining began, begin_drain() first (so ops queued
//        after shutdown() see Connection: close); apply body credit, then ops, to the
//        connections that still own those exchanges (the registry drops the rest); step each
//        touched connection once;
//     2. a connection's I/O or timer event (connection.cpp);
//     3. after_callback(): post the outbox to the app in one batch, free retired connections,
//        resume accepting below max_connections, and leave the loop once drained.
//
//   Connections are retired, not deleted, by the code that closes them (retire()): a
//   connection may close inside its own callback, and ops for it may follow in the same
//   batch, so it is freed only in after_callback(), where nothing refers to it.
//
//   Shutdown: shutdown() (any thread) sets `draining`, shuts the listening socket down at once
//   (new connections are refused before it returns) and records the abort deadline; the I/O
//   thread then frees the listener, steps every connection (idle ones close, busy ones finish
//   with Connection: close) and arms the abort timer, which closes whatever is left.
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/common/idle_memory.hpp"
#include "backends/common/listener.hpp"
#include "backends/port.hpp"
#include "backends/server.hpp"
#include "protocol/classify/probe_response.hpp"

namespace lancet::backend::libevent {

using Clock = std::chrono::steady_clock;

class Connection;

/// Server-wide state. Methods marked "any thread" are thread-safe; the rest are I/O thread only.
class Core {
 public:
  Core(const ServerConfig& config, AppPort& app);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  /// Creates the event base, the wake-up and the listener over `listener` (owned from now on,
  /// also on failure). Returns the error (one line) when libevent or eventfd fails.
  std::optional<StartError> open(common::Listener listener);
  /// The I/O thread's body: runs the loop until shutdown has drained every connection.
  void run() noexcept;

  // ---- any thread --------------------------------------------------------------------------
  void submit(ExchangeId id, std::vector<Outbound>&& ops);
  void body_consumed(ExchangeId id, std::size_t bytes);
  /// Starts (or shortens) graceful shutdown; see the theory of operation.
  void shutdown(double timeout_seconds);
  std::size_t active() const noexcept { return active_.load(); }
  /// Readiness as the ready probe reports it.
  classify::Readiness readiness() const noexcept;

  const ServerConfig config;
  AppPort& app;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};

  // ---- I/O thread only ---------------------------------------------------------------------
  event_base* base() const noexcept { return base_; }
  /// Registers an exchange served by `conn`; 0 when limit_concurrency is reached.
  ExchangeId begin_exchange(Connection* conn);
  /// Unregisters `id` (idempotent): later ops and credit for it are dropped.
  void end_exchange(ExchangeId id);
  /// Queues a message for the app; posted in one batch by after_callback().
  void post(Inbound&& message) { outbox_.push_back(std::move(message)); }
  /// The same queue, for code that appends itself (common::WebSocketSession).
  std::vector<Inbound>& outbox() noexcept { return outbox_; }
  /// Scratch space for recv(): http1 copies what it keeps, so one buffer serves everyone.
  std::span<char> read_buffer() noexcept { return read_buf_; }
  /// The connection has closed its socket: free it after this callback.
  void retire(Connection* conn) noexcept;
  /// Ends every callback: see the theory of operation, step 3.
  void after_callback() noexcept;

 private:
  static void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* addr, int len,
                        void* arg) noexcept;
  static void on_accept_error(evconnlistener* listener, void* arg) noexcept;
  static void on_wake(evutil_socket_t fd, short what, void* arg) noexcept;
  static void on_abort(evutil_socket_t fd, short what, void* arg) noexcept;
  static void on_accept_retry(evutil_socket_t fd, short what, void* arg) noexcept;
  static void wake_up(int fd) noexcept;
  void accept_one(int fd);
  void take_inbox();
  void begin_drain();
  void arm_abort();
  void close_listener() noexcept;

  event_base* base_ = nullptr;
  event* wake_ev_ = nullptr;
  event* abort_ev_ = nullptr;
  event* retry_ev_ = nullptr;
  int wake_fd_ = -1;

  std::mutex listen_mu_;  // guards listen_fd_ and listener_ between shutdown() and the I/O thread
  int listen_fd_ = -1;
  bool listen_borrowed_ = false;  // --fd: never shutdown() it (see common::Listener)
  evconnlistener* listener_ = nullptr;
  std::string unix_path_;
  bool accepting_ = true;
  bool accept_paused_ = false;  // backing off after an accept error

  common::IdleMemory idle_memory_{config.release_idle_memory};

  std::mutex inbox_mu_;  // guards the three below
  std::vector<std::pair<ExchangeId, Outbound>> ops_in_;
  std::vector<std::pair<ExchangeId, std::size_t>> credit_in_;
  bool wake_pending_ = false;
  std::atomic<std::int64_t> abort_at_ns_{INT64_MAX};  // steady clock; INT64_MAX: none

  std::atomic<std::size_t> active_{0};
  std::unordered_map<ExchangeId, Connection*> exchanges_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> retired_;
  std::vector<Inbound> outbox_;
  std::vector<char> read_buf_;
  bool drain_begun_ = false;
  std::int64_t abort_armed_ns_ = INT64_MAX;
};

}  // namespace lancet::backend::libevent
