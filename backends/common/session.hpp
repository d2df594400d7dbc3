// Session: the protocol side of one client connection, the same for every backend. It holds
// the connection's HTTP request cycles and, after an upgrade, its WebSocket session; a
// backend's connection only moves bytes, runs timers and reads pathsend files.
//
// Layer: backends/common. No sockets, threads or clock reads: bytes, the app's ops and the time
// come in as arguments; messages for the app go to the caller's outbox. One per connection, on
// its I/O thread; not thread-safe.
//
// Theory of operation
//   A backend's turn (blocking: one pass of its loop; libevent: one callback; io_uring: step()):
//     1. set_date() (formats once per second); on_drain() once graceful shutdown began;
//     2. the inbox: on_credit() first (the first credit sends 100 Continue when the client asked
//        for it, as uvicorn does on the first receive()), then on_op() for each op in order;
//        ops for any exchange but the current one are dropped;
//     3. repeat { pump(); write what pending_output() holds, refill a pathsend body } while
//        advance_cycle() starts the next (pipelined) cycle;
//     4. post the outbox to the app in one batch.
//   pump() parses: a head is classified (protocol/classify); probes are answered natively; an
//   invalid WebSocket handshake gets 400/426; a request over --limit-concurrency gets 503
//   (Host::begin_exchange() said 0, as uvicorn answers); any other head is posted as
//   RequestStarted (a valid handshake as WebSocketRequested). Then body within the window.
//
//   Request body flow (port.hpp): parsed body bytes wait in the exchange's `pending` and go to
//   the app only while posted - consumed < body_window; wants_read() is false while
//   posted - consumed + pending >= body_window, so TCP pushes back on the client. After the
//   app's response ends, unread body is read and dropped up to kMaxDiscardBytes, then the
//   cycle restarts; beyond that the connection closes. When the whole rest of a body
//   (Content-Length) is in hand in one turn and fits the window, it goes instead into a
//   Host::body_block() the app side owns (the bridge: the bytes object the app gets), posted
//   whole: one copy from the socket's buffer to the app, no staging.
//
//   Input. receive_data() lends the bytes to http1, which parses them in place during the next
//   pump(); the backend calls keep_input() before it reuses their buffer (http1 copies what is
//   left unparsed). Once the WebSocket is open its session copies what it is given.
//
//   Output. SendData bytes are counted in a common::SendAccount (per exchange, in wire order):
//   written(n) subtracts from the front exchange's ExchangeFlow::unsent_bytes and posts Drained
//   once a count seen at or above kSendHighWater falls below kSendLowWater.
//
//   Endings. client_gone() (EOF or reset while the app owns the exchange, a write error, the
//   shutdown deadline) posts ClientGone once and closes now. A remote parse error is answered
//   with http1's error response and closes after it is written. Abort closes after what the app
//   already sent. closing() says what the backend should do: keep going, close once the output
//   is written (lingering, RFC 9112 §9.6: the backend's), or close now. It only ever rises.
//
//   Timers. deadline() is when on_timer() has work: the header deadline (a new connection, or
//   part of a head: 408 against slowloris), the keep-alive idle close, or the WebSocket
//   session's (keepalive pings, the close timeout). None while a request is in progress or
//   output is pending. The graceful-shutdown deadline is the backend's (client_gone()).
//
//   WebSocket (port.hpp): a handshake head becomes a common::WebSocketSession. Until the app
//   accepts, nothing changes here (an HTTP answer ends the connection). Once open it owns the
//   socket's bytes: receive_data() feeds it, pending_output() is its output, its deadline is
//   deadline()'s.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/common/send_account.hpp"
#include "backends/common/websocket_session.hpp"
#include "backends/port.hpp"
#include "backends/server.hpp"
#include "protocol/asgi/scope.hpp"
#include "protocol/classify/classify.hpp"
#include "protocol/classify/probe_response.hpp"
#include "protocol/http1/connection.hpp"

namespace lancet::backend::common {

class Session {
 public:
  using Clock = std::chrono::steady_clock;

  /// What a session needs from its backend: the server's registry of exchanges and its
  /// readiness, and pathsend files (file reading is I/O, so it is the backend's).
  class Host {
   public:
    virtual ~Host() = default;
    /// Registers a new exchange with the server; 0 when --limit-concurrency is reached.
    virtual ExchangeId begin_exchange() = 0;
    /// Unregisters `id`; later ops for it are dropped. Called once per exchange.
    virtual void end_exchange(ExchangeId id) = 0;
    virtual classify::Readiness readiness() const = 0;
    /// http.response.pathsend (the head is queued): open `path`; the backend then sends its
    /// bytes as the rest of the body through http() and ends the response. False: it cannot
    /// be opened (the session closes the connection: nothing valid can follow the head).
    virtual bool open_file(const std::string& path) = 0;
    /// A pathsend body is still being sent: the cycle cannot end yet.
    virtual bool sending_file() const = 0;
    /// Memory the app side owns for `n` bytes of request body (AppPort::body_block()); an
    /// empty block (the default): stage the body.
    virtual BodyBlock body_block(std::size_t /*n*/) { return {}; }
  };

  /// What the backend should do with the socket. Only ever rises.
  enum class Closing : std::uint8_t {
    no,           ///< keep serving
    after_flush,  ///< close once the output is written (a lingering close)
    now,          ///< close now, whatever is unwritten
  };

  /// Body bytes read and dropped after the app's response ended (or while lingering), before
  /// the connection closes instead.
  static constexpr std::uint64_t kMaxDiscardBytes = 1024 * 1024;

  /// `config`, `host` and `outbox` must outlive the session. `now`: when the connection opened
  /// (the first request's header deadline counts from it).
  Session(const ServerConfig& config, Host& host, std::vector<Inbound>& outbox,
          std::optional<asgi::Address> peer, std::optional<asgi::Address> local,
          Clock::time_point now);

  // ---- a turn ----------------------------------------------------------------------------------
  /// The Date header's value for responses from now on (seconds since the epoch).
  void set_date(std::int64_t unix_second);
  /// Graceful shutdown began (call every turn once it has: idempotent). Later responses say
  /// Connection: close; an open WebSocket gets close 1001; an idle connection closes now.
  void on_drain(Clock::time_point now);
  /// The app consumed `n` bytes of request body (or, on a WebSocket, received `n` messages).
  void on_credit(ExchangeId id, std::size_t n);
  /// One op from the app for exchange `id` (dropped unless it is the current exchange and the
  /// app still owns it).
  void on_op(ExchangeId id, Outbound& op, Clock::time_point now);
  /// Parses what it may and posts what the window allows.
  void pump(Clock::time_point now);
  /// Both sides are done: starts the next cycle (true: pump() again, a pipelined request may be
  /// buffered), or decides to close. False while the cycle goes on.
  bool advance_cycle(Clock::time_point now);

  // ---- the wire ---------------------------------------------------------------------------------
  /// Bytes read from the socket. True: lent to http1 (valid until keep_input()); false: copied.
  bool receive_data(std::string_view bytes, Clock::time_point now);
  /// Copies what http1 has not parsed yet of lent bytes, before their buffer is reused.
  void keep_input() { http_.keep_input(); }
  /// The client closed its side. While the app owns the exchange that is a disconnect
  /// (uvicorn's rule): ClientGone, close now.
  void receive_eof();
  /// The transport failed or the client left (reset, write error, hang-up with reading paused,
  /// the shutdown deadline): ClientGone if the app owns the exchange, close now. Also what a
  /// backend calls when it drops a connection for any other reason.
  void client_gone() noexcept;
  /// `n` bytes of pending_output() were written.
  void written(std::size_t n);

  bool has_output() const noexcept;
  /// Up to out.size() pending output pieces. Views of HTTP output are valid until written()
  /// or the next call that queues output (on_op, on_credit, pump, on_timer, on_drain).
  std::size_t pending_output(std::span<std::string_view> out) const;

  // ---- timers -----------------------------------------------------------------------------------
  /// When on_timer() next has something to do, if ever (see the file comment).
  std::optional<Clock::time_point> deadline() const noexcept;
  void on_timer(Clock::time_point now);

  // ---- state ------------------------------------------------------------------------------------
  Closing closing() const noexcept { return closing_; }
  /// Raises closing() to `how` (never lowers it).
  void close(Closing how) noexcept;
  /// Read the socket now: the client's side is open, the connection is serving, and the body
  /// window (or the WebSocket queue) has room.
  bool wants_read() const noexcept;
  /// The app owns the current exchange: a client leaving must reach it as ClientGone.
  bool app_owns_exchange() const noexcept { return ex_.with_app(); }
  bool websocket_open() const noexcept { return ws_ && ws_->is_open(); }
  bool eof_seen() const noexcept { return eof_seen_; }
  /// The HTTP/1.1 connection: pathsend bodies go through it (send_data, send_data_written,
  /// send_end, body_framing, pending_output_bytes).
  http1::ServerConnection& http() noexcept { return http_; }

 private:
  /// The current request cycle. Reset by advance_cycle().
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
    std::optional<std::uint64_t> declared;  ///< the request's Content-Length, if it has one
    std::string pending;         ///< parsed body not yet posted (window full)
    BodyBlock block;             ///< or: the rest of the body goes here (owner set)
    std::size_t block_filled = 0;
    std::shared_ptr<ExchangeFlow> flow;
    bool with_app() const noexcept { return id != 0 && !ended; }
  };

  void apply_head(SendHead& head);
  void apply_data(SendData& data);
  void apply_end(SendEnd& end);
  void apply_file(const std::string& path);
  void apply_websocket(Outbound& op, Clock::time_point now);
  /// The app's response cannot be completed (an op http1 refused): ClientGone, close after
  /// what is queued.
  void local_failure();
  void on_head(const http1::RequestHead& head);
  void begin_websocket(const http1::RequestHead& head);
  /// Registers an exchange for `head`; false: --limit-concurrency reached (503 queued).
  bool begin_exchange();
  void after_websocket();
  void answer_probe(classify::ProbeKind kind, bool head_request);
  asgi::HttpScope make_scope(const http1::RequestHead& head) const;
  void fill_scope(asgi::HttpScope& scope, const http1::RequestHead& head) const;
  void on_data(std::string_view bytes);
  void post_body();
  /// Starts the exchange's body block with `bytes` when the whole rest of the body is in hand,
  /// fits the window and the host gives one; false: stage as usual.
  bool try_block(std::string_view bytes);
  /// Body bytes the app may still be sent: the window less what it has not consumed.
  std::uint64_t body_credit() const noexcept;
  /// Moves what the block holds into `pending` and lets the block go.
  void unblock();
  bool window_open() const noexcept;
  void app_finished();
  void end_exchange(bool client_gone);
  WebSocketSession::Io websocket_io() { return {outbox_, sends_}; }

  const ServerConfig& config_;
  Host& host_;
  std::vector<Inbound>& outbox_;
  http1::ServerConnection http_;
  asgi::ConnectionInfo info_;  // peer, local address, root path: the same for every scope
  Exchange ex_;
  SendAccount sends_;                      // response bytes still unwritten, for Drained
  std::vector<http1::Header> fields_;      // apply_head's / apply_end's views, kept for reuse
  std::unique_ptr<WebSocketSession> ws_;   // a WebSocket handshake or connection
  Closing closing_ = Closing::no;
  bool eof_seen_ = false;
  bool drain_seen_ = false;
  bool fresh_ = true;          // no request finished yet on this connection
  bool head_started_ = false;  // bytes of the next request head arrived
  Clock::time_point opened_;
  Clock::time_point idle_since_;
  Clock::time_point head_since_;
  std::int64_t date_second_ = -1;
};

}  // namespace lancet::backend::common
