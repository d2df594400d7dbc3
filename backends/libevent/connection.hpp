// One client connection of the libevent backend: callbacks on the I/O thread.
//
// Layer: backends/libevent. Only I/O: the socket's events, the timer, pathsend files. The
// protocol side (HTTP cycles, probes, 503s, the body window, timers' decisions, WebSocket) is
// common::Session's, as in every backend (backends/common/session.hpp).
//
// Theory of operation
//   Events. One edge-triggered event (EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST) for
//   the connection's life, plus one timer. Edges are remembered in `readable_` / `writable_`
//   and cleared only by EAGAIN, so flow control never re-registers anything: reading pauses
//   by not calling recv() and resumes when credit arrives, from the flag. Why not bufferevents:
//   http1's pending_output() already is a list of spans, borrowed body bytes included
//   (SendData, file chunks); sendmsg() writes them in place, where an evbuffer would need a
//   copy (or a reference per span with its own cleanup); and on input http1 copies what it
//   keeps, so an evbuffer would be a second copy. The watermarks a bufferevent would offer
//   are the body window (reading) and kSendHighWater/kSendLowWater (Drained).
//   Why edge-triggered: with reading paused for flow control a level-triggered EV_READ would
//   spin on the unread bytes, and EV_CLOSED alone misses a reset (libevent 2.1 maps
//   EPOLLHUP/EPOLLERR to EV_READ | EV_WRITE only).
//
//   One step() (after every event, and after the app's ops or credit were applied) is the
//   session's turn: refresh the Date value; on_drain() once shutdown began; then repeat
//   { pump(); write with sendmsg() until EAGAIN, refilling a pathsend body } while
//   advance_cycle(); then, if readable and session.wants_read(): recv() once and repeat. Last:
//   close, or arm the timer for session.deadline().
//
//   Reading paused (the body window full, or pipelined bytes held) before EAGAIN: the step
//   asks poll() for POLLRDHUP, since the edge it used up may have carried a FIN or reset and
//   no other edge will come; a hang-up ends the exchange with ClientGone.
//
//   Endings: after a response that ends the connection the socket is half-closed and read for
//   a short while (a lingering close, RFC 9112 §9.6) so that the client reads our last
//   response before any reset.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "backends/common/session.hpp"
#include "backends/common/socket_io.hpp"
#include "backends/libevent/core.hpp"
#include "backends/port.hpp"

namespace lancet::backend::libevent {

/// One accepted socket. Created by Core on accept; I/O thread only.
class Connection : private common::Session::Host {
 public:
  /// Takes ownership of `fd` (non-blocking).
  Connection(Core& core, int fd);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Registers the events and takes the first step. False: libevent refused (close it).
  bool start();
  /// Body credit from the app for exchange `id` (sends 100 Continue on the first one).
  void on_credit(ExchangeId id, std::size_t bytes) { session_.on_credit(id, bytes); }
  /// One Outbound op from the app for exchange `id`.
  void on_op(ExchangeId id, Outbound& op);
  /// Runs the protocol until it waits (see above); may close and retire the connection.
  void step() noexcept;
  /// The shutdown deadline passed: tell the app the client is gone, close now.
  void abort() noexcept;

  bool touched = false;  ///< Core: queued for one step after the inbox was applied

 private:
  using Closing = common::Session::Closing;

  // ---- common::Session::Host -------------------------------------------------------------------
  ExchangeId begin_exchange() override { return core_.begin_exchange(this); }
  void end_exchange(ExchangeId id) override { core_.end_exchange(id); }
  classify::Readiness readiness() const override { return core_.readiness(); }
  bool open_file(const std::string& path) override { return file_.open(path); }
  bool sending_file() const override { return file_.active(); }

  // ---- libevent trampolines (noexcept: failure closes the connection) ------------------------
  static void on_io(evutil_socket_t fd, short what, void* arg) noexcept;
  static void on_timer(evutil_socket_t fd, short what, void* arg) noexcept;
  void handle_io(short what);
  void handle_timer();

  void run_protocol();
  void flush();
  bool peer_hung_up() const;
  void read_some();

  // ---- deadlines and closing -----------------------------------------------------------------
  void arm_timer(Clock::time_point at);
  void finish() noexcept;
  void linger();
  void close_now() noexcept;

  Core& core_;
  int fd_;
  event* io_ev_ = nullptr;
  event* timer_ev_ = nullptr;
  common::Session session_;
  bool readable_ = true;   // no EAGAIN from recv() since the last read edge
  bool writable_ = true;   // no EAGAIN from sendmsg() since the last write edge
  bool lingering_ = false;     // half-closed, reading and dropping until EOF or the timer
  bool closed_ = false;
  std::uint64_t lingered_ = 0;
  std::optional<Clock::time_point> timer_at_;
  common::PathsendFile file_;  // an http.response.pathsend body
};

}  // namespace lancet::backend::libevent
