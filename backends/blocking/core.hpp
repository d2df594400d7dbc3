// Core: what every connection of the blocking backend shares with the server: the config, the
// app port, readiness and shutdown state, and the registry of exchanges the app may still
// address (ExchangeId -> Connection). Thread-safe.
//
// Layer: backends/blocking.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "backends/port.hpp"
#include "backends/server.hpp"
#include "protocol/asgi/scope.hpp"
#include "protocol/classify/probe_response.hpp"

namespace lancet::backend::blocking {

using Clock = std::chrono::steady_clock;

class Connection;

/// Server-wide state the connections read and the exchange registry. Thread-safe.
class Core {
 public:
  Core(const ServerConfig& config, AppPort& app, int listener_wake_fd);

  const ServerConfig config;
  AppPort& app;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  /// Steady-clock time (ns since its epoch) after which every connection is aborted.
  std::atomic<std::int64_t> abort_at_ns{INT64_MAX};

  /// Registers a new exchange for `conn`; 0 when limit_concurrency is reached.
  ExchangeId begin_exchange(const std::shared_ptr<Connection>& conn);
  /// Unregisters `id` (idempotent); later submits for it are dropped.
  void end_exchange(ExchangeId id);
  /// The connection serving `id`, or null when the exchange is over.
  std::shared_ptr<Connection> find(ExchangeId id);
  std::size_t active() const noexcept { return active_.load(); }
  /// Readiness as the ready probe reports it.
  classify::Readiness readiness() const noexcept;
  /// Wakes the listener thread (a connection ended, or shutdown began).
  void wake_listener() const noexcept;

 private:
  int listener_wake_fd_;
  std::atomic<std::size_t> active_{0};
  std::mutex mu_;
  ExchangeId next_id_ = 1;
  std::unordered_map<ExchangeId, std::weak_ptr<Connection>> exchanges_;
};

}  // namespace lancet::backend::blocking
