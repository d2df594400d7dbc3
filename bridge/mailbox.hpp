// Mailbox: the backend -> app-side queue of the bridge, with one eventfd wake-up per batch.
//
// Layer: bridge/ (no Python in this file). Backend threads call post(); the Python loop thread
// registers fd() with loop.add_reader and calls drain() when it becomes readable.
//
// The eventfd is written only when the queue goes from empty to non-empty, so a burst of posts
// costs one write and one wake-up. drain() clears the eventfd before taking the queue: a post
// that lands after the swap finds the queue empty and writes again, so no wake-up is lost.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "backends/port.hpp"

namespace lancet::bridge {

class Mailbox final : public backend::AppPort {
 public:
  /// Opens the eventfd (non-blocking, close-on-exec). Throws std::system_error on failure.
  Mailbox();
  ~Mailbox() override;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  /// Backend threads: queue and wake once (only if the queue was empty). Never blocks on the
  /// app side (the mutex is held for a vector append).
  void post(std::vector<backend::Inbound>&& messages) override;

  /// App thread: everything queued so far, in order (swapped into `out`, which is emptied
  /// first with backend::reset_batch: the queue is not left with a past burst's storage).
  /// Clears the wake-up.
  void drain(std::vector<backend::Inbound>& out);

  /// The eventfd to watch for readability.
  int fd() const noexcept { return fd_; }

  /// Body blocks come from `make` once set (the bridge sets it when it drives the backend on
  /// its own thread, the only thread that asks); before, none.
  void set_body_blocks(std::function<backend::BodyBlock(std::size_t)> make) {
    body_blocks_ = std::move(make);
  }
  backend::BodyBlock body_block(std::size_t n) override {
    return body_blocks_ ? body_blocks_(n) : backend::BodyBlock{};
  }

  /// Quiet: posts come only from the app thread itself (a caller-driven server's pump()), so
  /// post() and drain() skip the eventfd. Set before any post.
  void set_quiet(bool quiet) noexcept { quiet_ = quiet; }

 private:
  int fd_ = -1;
  bool quiet_ = false;
  std::mutex mutex_;
  std::vector<backend::Inbound> queue_;
  std::function<backend::BodyBlock(std::size_t)> body_blocks_;
};

}  // namespace lancet::bridge
