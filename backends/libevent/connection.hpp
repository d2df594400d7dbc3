// One client connection of the libevent backend: callbacks on the I/O thread.
//
// Layer: backends/libevent. Drives protocol/http1 (framing, parsing, error responses),
// protocol/classify (probes) and protocol/asgi (the scope); knows no HTTP itself. Behaves as
// the blocking backend's connection (backends/blocking/connection.hpp) does; where this file
// is silent, that theory of operation holds.
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
//   are the body window (reading) and kSendHighWater/kSendLowWater (Drained) below.
//   Why edge-triggered: with reading paused for flow control a level-triggered EV_READ would
//   spin on the unread bytes, and EV_CLOSED alone misses a reset (libevent 2.1 maps
//   EPOLLHUP/EPOLLERR to EV_READ | EV_WRITE only).
//
//   One step() (after every event, and after the app's ops or credit were applied):
//     1. refresh the Date value; graceful shutdown asks http1 for Connection: close;
//     2. parse: next_event() until NeedData/Paused; a head is classified: probes and 503s
//        (limit_concurrency) are answered natively, other requests become RequestStarted;
//     3. post request body to the app within the window;
//     4. write pending output with sendmsg() until EAGAIN, and account unsent bytes;
//     5. when both sides are done, start_next_cycle() and repeat 2-5 (pipelining);
//     6. if readable and the window has room: recv() once and repeat from 2;
//     7. close, or arm the timer for the header / keep-alive deadline.
//
//   Request body flow: parsed body bytes wait in Exchange::pending and go to the app only
//   while posted - consumed < body_window; recv() is not called while posted - consumed +
//   pending >= body_window, so TCP pushes back on the client. While paused, an edge that finds
//   the peer hung up (poll() for POLLRDHUP) ends the exchange with ClientGone.
//
//   Response flow: as blocking: SendData bytes are counted per exchange in wire order; each
//   write releases ExchangeFlow::unsent_bytes; once a count seen at or above kSendHighWater
//   falls below kSendLowWater, Drained is posted. Bytes http1 drops (HEAD, 204, 304) are
//   released at once.
//
//   Endings: ClientGone once when the client leaves while the app owns the exchange; Abort
//   flushes what was sent, then closes; after a response that ends the connection the socket
//   is half-closed and read for a short while (a lingering close, RFC 9112 §9.6) so that the
//   client reads our last response before any reset.
//
//   WebSocket (port.hpp): as in blocking, a handshake head becomes a common::WebSocketSession
//   (ws_) that owns the socket's bytes once the app accepted: reads feed it, flush() writes its
//   output, its deadline arms the timer, after_websocket() applies what it decided.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "backends/libevent/core.hpp"
#include "backends/common/send_account.hpp"
#include "backends/common/websocket_session.hpp"
#include "backends/port.hpp"
#include "protocol/asgi/scope.hpp"
#include "protocol/http1/connection.hpp"

namespace lancet::backend::libevent {

/// One accepted socket. Created by Core on accept; I/O thread only.
class Connection {
 public:
  /// Takes ownership of `fd` (non-blocking).
  Connection(Core& core, int fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Registers the events and takes the first step. False: libevent refused (close it).
  bool start();
  /// Body credit from the app for exchange `id` (sends 100 Continue on the first one).
  void on_credit(ExchangeId id, std::size_t bytes);
  /// One Outbound op from the app for exchange `id`.
  void on_op(ExchangeId id, Outbound& op);
  /// Runs the protocol until it waits (see above); may close and retire the connection.
  void step() noexcept;
  /// The shutdown deadline passed: tell the app the client is gone, close now.
  void abort() noexcept;

  /// Body bytes read and discarded after the app's response ended, before closing instead.
  static constexpr std::uint64_t kMaxDiscardBytes = 1024 * 1024;

  bool touched = false;  ///< Core: queued for one step after the inbox was applied

 private:
  enum class Closing : std::uint8_t { no, after_flush, now };

  /// The current request cycle (as in blocking). Reset by start_next_cycle().
  struct Exchange {
    ExchangeId id = 0;           ///< 0: no exchange with the app (idle, probe, 503)
    bool in_request = false;     ///< a request head arrived in this cycle
    bool ended = false;          ///< the app side is done with it (End, Abort, gone)
    bool expects_continue = false;
    bool continue_sent = false;
    bool body_complete = false;  ///< EndOfMessage seen
    bool last_posted = false;    ///< BodyReceived with more_body=false posted
    std::uint64_t posted = 0;    ///< body bytes posted to the app
    std::uint64_t consumed = 0;  ///< body bytes the app reported consumed
    std::uint64_t discarded = 0;
    std::string pending;         ///< parsed body not yet posted (window full)
    std::shared_ptr<ExchangeFlow> flow;
    bool with_app() const noexcept { return id != 0 && !ended; }
  };

  // ---- libevent trampolines (noexcept: failure closes the connection) ------------------------
  static void on_io(evutil_socket_t fd, short what, void* arg) noexcept;
  static void on_timer(evutil_socket_t fd, short what, void* arg) noexcept;
  void handle_io(short what);
  void handle_timer();

  // ---- app side -> wire ----------------------------------------------------------------------
  void apply_head(SendHead& head);
  void apply_data(SendData& data);
  void apply_websocket(Outbound& op);
  void start_file(const std::string& path);
  void refill_file();
  void flush();
  bool has_output() const noexcept;
  std::size_t pending_output(std::span<std::string_view> views) const;
  void consume_output(std::size_t n);
  void local_failure();
  void app_finished();
  void end_exchange(bool client_gone);

  // ---- wire -> app side ----------------------------------------------------------------------
  void run_protocol();
  void check_drain();
  void pump_events();
  void on_head(const http1::RequestHead& head);
  void begin_websocket(const http1::RequestHead& head);
  void after_websocket();
  bool websocket_open() const noexcept { return ws_ && ws_->is_open(); }
  common::WebSocketSession::Io websocket_io() { return {core_.outbox(), sends_}; }
  void on_data(std::string_view bytes);
  void answer_probe(classify::ProbeKind kind, bool head_request);
  asgi::HttpScope make_scope(const http1::RequestHead& head) const;
  void post_body();
  bool advance_cycle();
  bool wants_read_now() const;
  bool peer_hung_up() const;
  void read_some();

  // ---- deadlines and closing -----------------------------------------------------------------
  std::optional<Clock::time_point> next_deadline() const;
  void arm_timer(Clock::time_point at);
  void finish() noexcept;
  void linger();
  void close_now() noexcept;

  Core& core_;
  int fd_;
  event* io_ev_ = nullptr;
  event* timer_ev_ = nullptr;
  http1::ServerConnection conn_;
  std::optional<asgi::Address> peer_;
  std::optional<asgi::Address> local_;
  Exchange ex_;
  common::SendAccount sends_;  // response bytes still unwritten, for Drained
  std::unique_ptr<common::WebSocketSession> ws_;  // a WebSocket handshake or connection
  Closing closing_ = Closing::no;
  bool readable_ = true;   // no EAGAIN from recv() since the last read edge
  bool writable_ = true;   // no EAGAIN from sendmsg() since the last write edge
  bool eof_seen_ = false;
  bool drain_seen_ = false;
  bool fresh_ = true;          // no request finished yet on this connection
  bool head_started_ = false;  // bytes of the next request head arrived
  bool lingering_ = false;     // half-closed, reading and dropping until EOF or the timer
  bool closed_ = false;
  std::uint64_t lingered_ = 0;
  Clock::time_point opened_;
  Clock::time_point idle_since_;
  Clock::time_point head_since_;
  std::optional<Clock::time_point> timer_at_;
  std::int64_t date_second_ = -1;
  int file_fd_ = -1;
};

}  // namespace lancet::backend::libevent
