// Core. See core.hpp.
#include "backends/blocking/core.hpp"

#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <vector>

namespace lancet::backend::blocking {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// uvicorn 0.17's ProxyHeadersMiddleware: scheme from X-Forwarded-Proto; client from
// X-Forwarded-For (the first entry when every proxy is trusted, else the nearest untrusted
// one), port 0. Header names in the scope are already lower-case; the last line of each wins.
void apply_forwarded(asgi::HttpScope& scope, const std::vector<std::string>& trusted,
                     bool everyone) {
  const std::string* proto = nullptr;
  const std::string* forwarded_for = nullptr;
  for (const asgi::ScopeHeader& h : scope.headers) {
    if (h.name == "x-forwarded-proto") proto = &h.value;
    if (h.name == "x-forwarded-for") forwarded_for = &h.value;
  }
  if (proto != nullptr) scope.scheme = std::string(trim(*proto));
  if (forwarded_for == nullptr) return;
  std::vector<std::string_view> hops;
  std::string_view rest = *forwarded_for;
  for (std::size_t comma; (comma = rest.find(',')) != std::string_view::npos;) {
    hops.push_back(trim(rest.substr(0, comma)));
    rest.remove_prefix(comma + 1);
  }
  hops.push_back(trim(rest));
  std::string_view host = hops.front();
  if (!everyone) {
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      if (std::find(trusted.begin(), trusted.end(), *it) == trusted.end()) {
        host = *it;
        break;
      }
    }
  }
  scope.client = asgi::Address{std::string(host), 0};
}

}  // namespace

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

void Core::apply_proxy_headers(asgi::HttpScope& scope,
                               const std::optional<asgi::Address>& peer) const {
  const auto& trusted = config.forwarded_allow_ips;
  const bool everyone = std::find(trusted.begin(), trusted.end(), "*") != trusted.end();
  if (!everyone && !(peer && std::find(trusted.begin(), trusted.end(), peer->host) != trusted.end())) {
    return;
  }
  apply_forwarded(scope, trusted, everyone);
}

void Core::wake_listener() const noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = write(listener_wake_fd_, &one, sizeof one);
}

}  // namespace lancet::backend::blocking
