// WebSocketSession: one WebSocket exchange of a backend connection, from the valid handshake to
// the closed socket. Every backend uses it the same way and only moves bytes and runs timers.
//
// Layer: backends/common. No sockets, threads or clock reads: bytes, the app's ops and the
// time come in as arguments; messages for the app go to the caller's outbox. One per
// connection, on its I/O thread; not thread-safe.
//
// Theory of operation
//   Phases:
//     handshake  WebSocketRequested is posted (requested()); the socket's bytes still go to
//                http1, which holds whatever the client sent after its request. An HTTP answer
//                from the app (the 403, a denial response, a 500) is not the session's: the
//                backend applies it like any response, and the connection closes after it.
//     open       WsAccept queues the 101 on http1; the session then takes http1's pending
//                output (the 101, after any earlier response bytes still unwritten, in order)
//                and its unparsed input (frames the client sent early), and owns the socket's
//                bytes: receive_data() in, pending_output() / consume_output() out.
//     closing    once the connection leaves protocol/websocket's `open` state (our close frame
//                for the app's WsClose, a violation, a ping timeout or the server's shutdown;
//                or the client's close), the socket closes after the output is written
//                (should_close()), or after kCloseTimeout whatever is left (timed_out()).
//   Messages: pump() decodes frames and posts WebSocketReceived while fewer than
//   WebSocketConfig::max_queue messages wait for the app (posted minus on_consumed()); at the
//   bound it stops decoding and wants_read() turns false, so the backend stops reading and TCP
//   pushes back. Pings are answered by protocol/websocket; keepalive pings pause while the
//   queue is full (reading is paused too, so no pong could be seen).
//   Endings: the connection's Close event (the client's close, a violation, EOF, a ping
//   timeout) is posted as WebSocketClosed, once, unless the app side already finished: after
//   its WsClose, or on_drain()'s WebSocketClosed{1001}. app_done() says the backend may
//   unregister the exchange (later ops for it are dropped). A transport error is the
//   backend's: it posts ClientGone, as for HTTP.
//   Backpressure on send: the app side added each WsSend's size to ExchangeFlow::unsent_bytes;
//   the session charges the connection's SendAccount with the frame's wire bytes, at most the
//   message's size, and releases the rest at once (permessage-deflate makes frames smaller),
//   so Drained comes as the frames are written.
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
#include "backends/port.hpp"
#include "backends/server.hpp"
#include "protocol/asgi/scope.hpp"
#include "protocol/http1/connection.hpp"
#include "protocol/websocket/connection.hpp"
#include "protocol/websocket/handshake.hpp"

namespace lancet::backend::common {

/// Answers an invalid opening handshake (websocket::validate_handshake's error: 400 or 426
/// with Sec-WebSocket-Version: 13) on `http`. False when http1 refuses (close the connection).
bool send_handshake_rejection(http1::ServerConnection& http, const Error& error);

class WebSocketSession {
 public:
  using Clock = std::chrono::steady_clock;

  /// Where a call's effects go: messages for the app (the backend posts them in its batch) and
  /// the connection's send accounting (Drained messages go to `outbox` too).
  struct Io {
    std::vector<Inbound>& outbox;
    SendAccount& sends;
  };

  /// How long the closing handshake may take once our close frame is queued (or the
  /// connection closed otherwise) before the socket is closed anyway. websockets' (hence
  /// uvicorn's) close_timeout is 10 s too.
  static constexpr std::chrono::seconds kCloseTimeout{10};

  /// `config` must outlive the session (the server's, which outlives every connection).
  WebSocketSession(const ServerConfig& config, ExchangeId id, std::shared_ptr<ExchangeFlow> flow,
                   websocket::HandshakeRequest request);

  /// The message to post for this handshake; `scope` is the request's HTTP scope (proxy
  /// headers applied), made a 'websocket' scope here.
  WebSocketRequested requested(asgi::HttpScope scope) const;

  // ---- the app's ops -------------------------------------------------------------------------
  /// Applies WsAccept, WsSend or WsClose (other ops are ignored: HTTP answers are the
  /// backend's). WsAccept queues the 101 on `http` and takes over its output and unparsed
  /// input (see the theory of operation); if http1 or the handshake refuses, failed() turns
  /// true and the backend closes the connection. WsSend / WsClose before the accept or after
  /// the end are dropped (their bytes released from the flow count).
  void on_app_op(Outbound& op, http1::ServerConnection& http, Clock::time_point now, Io io);
  /// The app received `messages` WebSocketReceived: that many more may be posted.
  void on_consumed(std::size_t messages) noexcept;
  /// Graceful shutdown: an open connection gets close 1001 "server shutting down" and the app
  /// WebSocketClosed{1001}. Idempotent; does nothing before the accept or after the end.
  void on_drain(Clock::time_point now, Io io);

  // ---- the wire (after the accept; before it these do nothing) -------------------------------
  void receive_data(std::string_view bytes);
  void receive_eof() noexcept;
  /// Decodes what it may: messages within the queue bound, the connection's Close.
  void pump(Clock::time_point now, Io io);
  /// Runs the keepalive (ping, 1011 on a late pong) and the close timeout when due.
  void on_timer(Clock::time_point now, Io io);
  /// When on_timer() next has something to do, if ever.
  std::optional<Clock::time_point> deadline() const noexcept;

  /// Up to out.size() pending output pieces. Views stay valid until consume_output(): queuing
  /// more output (a pong, a ping, a message) does not move them (protocol/websocket's
  /// contract), so a backend may run timers while a write of these views is in flight.
  std::size_t pending_output(std::span<std::string_view> out) const;
  std::size_t pending_output_bytes() const noexcept;
  void consume_output(std::size_t n);

  // ---- state ---------------------------------------------------------------------------------
  /// The 101 is queued: the socket's bytes are WebSocket frames from now on.
  bool is_open() const noexcept { return conn_.has_value(); }
  /// Read the socket now (open, the client's side open, the queue below its bound or the app
  /// gone).
  bool wants_read() const noexcept;
  bool wants_write() const noexcept { return pending_output_bytes() > 0; }
  /// The app side is finished with the exchange: unregister it (WsClose, WebSocketClosed).
  bool app_done() const noexcept { return app_done_; }
  /// The accept could not be queued: close the connection (tell the app: ClientGone).
  bool failed() const noexcept { return failed_; }
  /// The connection is closed and its last bytes written: close the socket (lingering).
  bool should_close() const noexcept;
  /// The closing handshake ran out of time: close the socket now, whatever is unwritten.
  bool timed_out() const noexcept { return timed_out_; }

 private:
  void accept(WsAccept& op, http1::ServerConnection& http, Clock::time_point now);
  void send(WsSend& op, Io io);
  void close(WsClose& op, Clock::time_point now);
  bool queue_full() const noexcept;
  void note_state(Clock::time_point now) noexcept;

  const ServerConfig& config_;
  const ExchangeId id_;
  const std::shared_ptr<ExchangeFlow> flow_;
  websocket::HandshakeRequest request_;
  std::optional<websocket::Connection> conn_;  // after the 101
  std::string prefix_;                         // http1's output taken at the accept
  std::size_t prefix_pos_ = 0;                 // bytes of prefix_ written
  std::uint64_t posted_ = 0;                   // WebSocketReceived posted
  std::uint64_t consumed_ = 0;                 // ... and received by the app
  std::optional<Clock::time_point> close_deadline_;
  bool app_done_ = false;
  bool failed_ = false;
  bool timed_out_ = false;
};

}  // namespace lancet::backend::common
