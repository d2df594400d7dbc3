// SendAccount: which exchange's response bytes are still unwritten, for the app's send() drain.
//
// Layer: backends/common (no I/O, no threads; one per connection, on its I/O thread).
//
// Theory of operation (port.hpp, "Flow control"): the app side adds every submitted body byte
// to ExchangeFlow::unsent_bytes; the backend takes them off as they are written, oldest
// exchange first (pipelined responses are written in order). When a count that was at or
// above kSendHighWater falls below kSendLowWater, the exchange's send() may go on: the
// backend posts Drained for it if the app side waits (ExchangeFlow::drain_wanted; a send()
// that found the count low again, as when a caller-driven backend wrote the backlog inside
// it, asks for nothing, and a stream of 64 KiB chunks posts no message per chunk). Heads and
// chunk framing are charged too: a slight overestimate of progress, never an underflow.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>

#include "backends/port.hpp"

namespace lancet::backend::common {

class SendAccount {
 public:
  /// Body bytes of exchange `id` handed to http1: `queued` will be written, `dropped` never
  /// will (HEAD, 204, 304) and are released now. `post` receives a Drained message.
  template <class Post>
  void on_body(ExchangeId id, const std::shared_ptr<ExchangeFlow>& flow, std::size_t queued,
               std::size_t dropped, Post&& post) {
    Outflow gone{id, flow, dropped, false};
    release(gone, dropped, post);
    if (queued == 0) return;
    if (outflows_.empty() || outflows_.back().id != id) {
      outflows_.push_back(Outflow{id, flow, 0, false});
    }
    outflows_.back().app_unsent += queued;
  }

  /// `n` bytes of output were written.
  template <class Post>
  void on_written(std::size_t n, Post&& post) {
    while (n > 0 && !outflows_.empty()) {
      Outflow& f = outflows_.front();
      const std::size_t dec = std::min(n, f.app_unsent);
      n -= dec;
      release(f, dec, post);
      if (f.app_unsent == 0) outflows_.pop_front();
    }
  }

 private:
  struct Outflow {
    ExchangeId id = 0;
    std::shared_ptr<ExchangeFlow> flow;
    std::size_t app_unsent = 0;
    bool armed = false;  ///< unsent_bytes was seen at or above kSendHighWater
  };

  template <class Post>
  static void release(Outflow& f, std::size_t n, Post& post) {
    if (n == 0 || !f.flow) return;
    f.app_unsent -= n;
    const std::size_t before = f.flow->unsent_bytes.fetch_sub(n);
    if (before >= kSendHighWater) f.armed = true;
    if (f.armed && before - n < kSendLowWater) {
      if (f.flow->drain_wanted.exchange(false)) post(Drained{f.id});
      f.armed = false;
    }
  }

  std::deque<Outflow> outflows_;
};

}  // namespace lancet::backend::common
