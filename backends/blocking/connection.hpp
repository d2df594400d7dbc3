// One client connection of the blocking backend, served on its own thread.
//
// Layer: backends/blocking. Drives protocol/http1 (framing, parsing, error responses),
// protocol/classify (probes) and protocol/asgi (the scope); knows no HTTP itself.
//
// Theory of operation
//   Threads. The connection thread owns the socket and the http1::ServerConnection; nothing
//   else touches them. The app thread reaches a connection only through enqueue() and
//   add_credit(), which append to an inbox under `mu_` and write the connection's eventfd.
//   The thread sleeps in poll() on {socket, eventfd} with the nearest deadline as timeout.
//
//   One turn of the loop (serve()):
//     1. refresh the Date value (once per second, from the real clock);
//     2. take the inbox: body credit first (the first credit sends 100 Continue when the client
//        asked for it, as uvicorn does on the first receive()), then the Outbound ops of the
//        current exchange, in order; ops for any other exchange are dropped;
//     3. parse: next_event() until NeedData/Paused; a head is classified: probes and 503s
//        (limit_concurrency) are answered natively, other requests become RequestStarted;
//     4. post request body to the app within the window (see below);
//     5. when both sides are done, start_next_cycle() (pipelined requests are parsed next);
//     6. write pending output with sendmsg() until EAGAIN, and account unsent bytes (3-6
//        repeat while a cycle ends and a pipelined request may follow);
//     7. post everything gathered in this turn to the app in one batch;
//     8. poll(); then timers, then recv().
//
//   Request body flow (port.hpp): parsed body bytes wait in Exchange::pending and go to the app
//   only while posted - consumed < body_window; the socket is not polled for reading while
//   posted - consumed + pending >= body_window, so TCP pushes back on the client.
//
//   Response flow: SendData bytes are counted in `sends_` (common::SendAccount: per exchange,
//   in wire order).
//   Each write subtracts from the front exchange's ExchangeFlow::unsent_bytes; once a count
//   seen at or above kSendHighWater falls below kSendLowWater, Drained is posted.
//
//   Endings. ClientGone is posted once when the client leaves (EOF, reset, write error) while
//   the app still owns the exchange; the exchange is then unregistered so later submits are
//   dropped. A remote parse error is answered with send_error_response() and the connection
//   closes after the answer is written (a short lingering close lets the client read it).
//   After the app's response ends, unread request body is read and discarded up to
//   kMaxDiscardBytes, then the cycle restarts; beyond that the connection closes.
//
//   WebSocket (port.hpp): a handshake head becomes a common::WebSocketSession (ws_). Until
//   the app accepts, nothing changes here (an HTTP answer ends the connection). Once the
//   session is open it owns the socket's bytes: reads feed it, flush() writes its output,
//   its deadline joins the poll timeout, and after_websocket() applies what it decided (the
//   exchange over on the app side; close after flush; close now on its close timeout).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backends/blocking/core.hpp"
#include "backends/common/send_account.hpp"
#include "backends/common/websocket_session.hpp"
#include "backends/port.hpp"
#include "protocol/asgi/scope.hpp"
#include "protocol/classify/probe_response.hpp"
#include "protocol/http1/connection.hpp"

namespace lancet::backend::blocking {

/// One accepted socket and its thread. Created by the listener, run() on a new thread.
class Connection : public std::enable_shared_from_this<Connection> {
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

  /// Body bytes read and discarded after the app's response ended, before closing instead.
  static constexpr std::uint64_t kMaxDiscardBytes = 1024 * 1024;

 private:
  enum class Closing : std::uint8_t { no, after_flush, now };

  /// The current request cycle. Reset by start_next_cycle().
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

  void serve();
  void finish() noexcept;
  void refresh_date();
  void take_inbox();
  void apply(Outbound& op);
  void apply_head(SendHead& head);
  void apply_data(SendData& data);
  void apply_websocket(Outbound& op);
  void start_file(const std::string& path);
  void check_drain();
  void pump_events();
  void on_head(const http1::RequestHead& head);
  void begin_websocket(const http1::RequestHead& head);
  void after_websocket();
  bool websocket_open() const noexcept { return ws_ && ws_->is_open(); }
  common::WebSocketSession::Io websocket_io() { return {outbox_, sends_}; }
  void on_data(std::string_view bytes);
  void answer_probe(classify::ProbeKind kind, bool head_request);
  asgi::HttpScope make_scope(const http1::RequestHead& head) const;
  void post_body();
  bool advance_cycle();
  void flush();
  bool has_output() const noexcept;
  std::size_t pending_output(std::span<std::string_view> views) const;
  void consume_output(std::size_t n);
  void refill_file();
  void wait_for_io();
  bool wants_read_now() const;
  std::optional<Clock::time_point> next_deadline() const;
  void on_timers(Clock::time_point now);
  void read_some();
  void end_exchange(bool client_gone);
  void app_finished();
  void local_failure();
  void post_outbox() noexcept;
  void linger() noexcept;

  Core& core_;
  const int fd_;
  const int wake_fd_;

  std::mutex mu_;  // guards the inbox
  std::vector<std::pair<ExchangeId, Outbound>> ops_in_;
  std::vector<std::pair<ExchangeId, std::size_t>> credit_in_;

  // everything below: connection thread only
  http1::ServerConnection conn_;
  std::optional<asgi::Address> peer_;
  std::optional<asgi::Address> local_;
  Exchange ex_;
  common::SendAccount sends_;  // response bytes still unwritten, for Drained
  std::unique_ptr<common::WebSocketSession> ws_;  // a WebSocket handshake or connection
  std::vector<Inbound> outbox_;
  std::string read_buf_;
  Closing closing_ = Closing::no;
  bool eof_seen_ = false;
  bool drain_seen_ = false;
  bool fresh_ = true;          // no request finished yet on this connection
  bool head_started_ = false;  // bytes of the next request head arrived
  Clock::time_point opened_;
  Clock::time_point idle_since_;
  Clock::time_point head_since_;
  std::int64_t date_second_ = -1;
  int file_fd_ = -1;
};

}  // namespace lancet::backend::blocking
