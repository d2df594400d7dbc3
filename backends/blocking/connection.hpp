// One client connection of the blocking backend, served on its own thread.
//
// Layer: backends/blocking. Only I/O: the socket, the thread, the clock, pathsend files. The
// protocol side (HTTP cycles, probes, 503s, the body window, timers' decisions, WebSocket) is
// common::Session's, as in every backend.
//
// Theory of operation
//   Threads. The connection thread owns the socket and the session; nothing else touches them.
//   The app thread reaches a connection only through enqueue() and add_credit(), which append
//   to an inbox under `mu_` and write the connection's eventfd. The thread sleeps in poll() on
//   {socket, eventfd} with the nearest deadline as timeout.
//
//   One turn of the loop (serve()) is the session's turn (session.hpp):
//     1. refresh the Date value (once per second, from the real clock); on_drain() once
//        shutdown began;
//     2. take the inbox: body credit first, then the ops, in order;
//     3. pump(); write pending output with sendmsg() until EAGAIN (refilling a pathsend body
//        from its file); repeat while advance_cycle() starts a pipelined cycle;
//     4. keep_input() (the next read reuses read_buf_); post everything gathered in this turn
//        to the app in one batch;
//     5. poll(); then timers, then recv().
//
//   Reading: the socket is polled for reading only while session.wants_read() (the body window
//   has room), so TCP pushes back on the client. While the app owns an exchange POLLRDHUP is
//   asked too: a client leaving with the window full still reaches the app as ClientGone.
//
//   Endings. A connection closing after an answer (an error, Abort, Connection: close) lingers:
//   SHUT_WR, then read and drop for up to kLingerTime, so the client reads our last response
//   before any reset (RFC 9112 §9.6). The graceful-shutdown deadline (Core::abort_at_ns) ends
//   every exchange with ClientGone.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/blocking/core.hpp"
#include "backends/common/session.hpp"
#include "backends/common/socket_io.hpp"
#include "backends/port.hpp"

namespace lancet::backend::blocking {

/// One accepted socket and its thread. Created by the listener, run() on a new thread.
class Connection : public std::enable_shared_from_this<Connection>,
                   private common::Session::Host {
 public:
  /// Takes ownership of `fd` (non-blocking) and `wake_fd` (an eventfd).
  Connection(Core& core, int fd, int wake_fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// The connection thread's body: serves until the socket closes. Never throws.
  void run() noexcept;

  // ---- called from any thread (the app side) -----------------------------------------------
  /// Queues ops for exchange `id` and wakes the connection.
  void enqueue(ExchangeId id, std::vector<Outbound>&& ops);
  /// The app consumed `bytes` of request body of exchange `id`.
  void add_credit(ExchangeId id, std::size_t bytes);
  /// Wakes the connection thread (also used by shutdown).
  void wake() noexcept;

 private:
  using Closing = common::Session::Closing;

  // ---- common::Session::Host -------------------------------------------------------------------
  ExchangeId begin_exchange() override { return core_.begin_exchange(shared_from_this()); }
  void end_exchange(ExchangeId id) override { core_.end_exchange(id); }
  classify::Readiness readiness() const override { return core_.readiness(); }
  bool open_file(const std::string& path) override { return file_.open(path); }
  bool sending_file() const override { return file_.active(); }

  void serve();
  void finish() noexcept;
  void refresh_date();
  void take_inbox();
  void flush();
  void wait_for_io();
  std::optional<Clock::time_point> next_deadline() const;
  void on_timers(Clock::time_point now);
  void read_some();
  void post_outbox() noexcept;
  void linger() noexcept;

  Core& core_;
  const int fd_;
  const int wake_fd_;

  std::mutex mu_;  // guards the inbox
  std::vector<std::pair<ExchangeId, Outbound>> ops_in_;
  std::vector<std::pair<ExchangeId, std::size_t>> credit_in_;

  // everything below: connection thread only
  std::vector<Inbound> outbox_;  // before session_, which holds a reference to it
  common::Session session_;
  std::string read_buf_;
  common::PathsendFile file_;  // an http.response.pathsend body
};

}  // namespace lancet::backend::blocking
