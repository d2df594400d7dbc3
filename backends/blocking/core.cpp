// Core. See core.hpp.
#include "backends/blocking/core.hpp"

#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace lancet::backend::blocking {

// ---- Core: registry and shared state -----------------------------------------------------------

Core::Core(const ServerConfig& cfg, AppPort& port, int listener_wake_fd)
    : config(cfg), app(port), listener_wake_fd_(listener_wake_fd) {}

ExchangeId Core::begin_exchange(const std::shared_ptr<Connection>& conn) {
  const std::size_t limit = config.limit_concurrency;
  std::size_t current = active_.load();
  do {
    if (limit != 0 && current >= limit) return 0;
  } while (!active_.compare_exchange_weak(current, current + 1));
  std::lock_guard lock(mu_);
  const ExchangeId id = next_id_++;
  exchanges_.emplace(id, conn);
  return id;
}

void Core::end_exchange(ExchangeId id) {
  std::lock_guard lock(mu_);
  if (exchanges_.erase(id) > 0) active_.fetch_sub(1);
}

std::shared_ptr<Connection> Core::find(ExchangeId id) {
  std::lock_guard lock(mu_);
  const auto it = exchanges_.find(id);
  return it == exchanges_.end() ? nullptr : it->second.lock();
}

classify::Readiness Core::readiness() const noexcept {
  if (draining.load()) return classify::Readiness::draining;
  return ready.load() ? classify::Readiness::ready : classify::Readiness::starting;
}

void Core::wake_listener() const noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = write(listener_wake_fd_, &one, sizeof one);
}

}  // namespace lancet::backend::blocking
