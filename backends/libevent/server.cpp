// The libevent backend's Server: one event_base run by one I/O thread.
//
// Layer: backends/libevent. Implements backends/server.hpp (make_server) and the ServerPort;
// everything it does is Core's (core.hpp holds the theory of operation). The listening socket
// comes from the blocking backend's open_listener(), so both backends accept the same
// addresses and report the same one-line StartError.
#include <system_error>
#include <thread>

#include "backends/common/listener.hpp"
#include "backends/libevent/core.hpp"
#include "backends/server.hpp"

namespace lancet::backend {
namespace libevent {
namespace {

class LibeventServer final : public Server {
 public:
  LibeventServer(const ServerConfig& config, AppPort& app, std::string address)
      : core_(config, app), address_(std::move(address)) {}

  ~LibeventServer() override {
    if (!core_.draining.load()) shutdown(0);
    join();
  }

  std::optional<StartError> start(common::Listener listener) {
    if (auto error = core_.open(std::move(listener))) return error;
    try {
      thread_ = std::thread([this] { core_.run(); });
    } catch (const std::system_error& e) {
      return StartError{e.code().value(), "cannot start the I/O thread"};
    }
    return std::nullopt;
  }

  // ---- ServerPort ----------------------------------------------------------------------------
  void submit(ExchangeId id, std::vector<Outbound>&& ops) override {
    core_.submit(id, std::move(ops));
  }
  void body_consumed(ExchangeId id, std::size_t bytes) override {
    core_.body_consumed(id, bytes);
  }

  // ---- Server --------------------------------------------------------------------------------
  std::string bound_address() const override { return address_; }
  void set_ready(bool ready) override { core_.ready.store(ready); }
  void shutdown(double timeout_seconds) override { core_.shutdown(timeout_seconds); }
  void join() override {
    std::lock_guard lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }
  std::size_t active_exchanges() const override { return core_.active(); }
  const char* name() const override { return "libevent"; }

 private:
  Core core_;
  const std::string address_;
  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace
}  // namespace libevent

StartResult make_server(const ServerConfig& config, AppPort& app) {
  common::ListenResult listened = common::open_listener(config);
  if (listened.listener.fd < 0) return StartResult{nullptr, std::move(listened.error)};
  auto server =
      std::make_unique<libevent::LibeventServer>(config, app, listened.listener.address);
  if (auto error = server->start(std::move(listened.listener))) {
    return StartResult{nullptr, std::move(*error)};
  }
  return StartResult{std::move(server), {}};
}

}  // namespace lancet::backend
