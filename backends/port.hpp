// The port: the one interface between an I/O backend and the application side (the bridge).
//
// Layer: backends/. No Python here; the bridge implements AppPort, every backend implements
// ServerPort. The io_uring and libevent backends plug into the same two interfaces unchanged.
//
// Theory of operation
//   An *exchange* is one HTTP request/response cycle on one connection, named by an
//   ExchangeId that is unique for the life of the process. The backend parses requests with
//   protocol/http1, answers probes and errors natively (they never cross the port), and for
//   every request the app must see posts Inbound messages to the AppPort:
//     RequestStarted (the ASGI scope as data) -> BodyReceived* (the last one more_body=false)
//     ... and ClientGone if the client leaves before the exchange completes.
//   The app side validates what the app sends (protocol/asgi HttpCycle, on its own thread),
//   turns it into Outbound operations and submits them with ServerPort::submit(). The backend
//   applies them to the connection in order and writes. When Outbound ends the response
//   (End or Abort) the exchange is over on the app side; the backend then reuses or closes
//   the connection.
//
//   Threads: AppPort::post() is called from backend threads and must only queue and wake
//   (one wake-up may carry many messages: the app side drains in batches). ServerPort methods
//   are called from the app thread and must only queue and wake the backend. Nobody blocks on
//   the other side.
//
//   WebSocket. A request classified as a WebSocket handshake (with --ws auto) and valid
//   (protocol/websocket validate_handshake; an invalid one is answered 400/426 natively) opens
//   an exchange too, posted as WebSocketRequested (the 'websocket' scope). The app answers
//   with one of: WsAccept (the backend sends the 101 and the connection speaks RFC 6455 from
//   then on), or an HTTP response (SendHead/SendData/SendEnd: the 403 for a close before the
//   accept, a denial response, a 500) after which the connection closes. While open, the
//   backend posts each whole message as WebSocketReceived, and WebSocketClosed once when the
//   connection ends with a close code (the client's close, a violation, a ping timeout, the
//   server's shutdown); ClientGone instead when the transport ends without one (the app sees
//   1006). The app sends WsSend and WsClose (after which the exchange is over on the app side:
//   the backend finishes the closing handshake alone). backends/common/websocket_session.hpp
//   holds all of this for every backend.
//
//   Flow control, both ways, with no round trips:
//   - Request bodies: the backend sends at most `Limits::body_window` bytes of body ahead of
//     what the app has consumed; the app side reports consumption with body_consumed().
//     A backend the app side drives on its own thread may ask it for a BodyBlock when the
//     whole rest of a body is in hand and fits the window: the body is copied once, into the
//     memory the app will get (the bridge: a Python bytes object), and posted as that block.
//   - Responses: ExchangeFlow::unsent_bytes counts bytes submitted but not yet written
//     (the app side adds, the backend subtracts). Above kSendHighWater the app's send() waits
//     for a Drained message, which the backend posts once the count falls below kSendLowWater,
//     if the app side asked for one (ExchangeFlow::drain_wanted, set when a send() waits): a
//     send() that found the count below the mark after all costs no message. WebSocket
//     messages (WsSend) are counted the same way.
//   - WebSocket messages: the backend posts at most ServerConfig::ws.max_queue messages ahead
//     of what the app has received, reported with messages_consumed(); meanwhile it stops
//     reading the socket, so TCP pushes back on the client.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/asgi/scope.hpp"

namespace lancet::backend {

using ExchangeId = std::uint64_t;

/// uvicorn's 64 KiB high-water mark for outbound buffers; resume below a quarter of it.
inline constexpr std::size_t kSendHighWater = 64 * 1024;
inline constexpr std::size_t kSendLowWater = 16 * 1024;

/// Shared by the backend and the app side for one exchange.
struct ExchangeFlow {
  std::atomic<std::size_t> unsent_bytes{0};  ///< submitted by the app, not yet written
  /// Set by the app side when its send() is about to wait, before it reads unsent_bytes once
  /// more; the backend takes it (clears it) when the count falls below kSendLowWater and posts
  /// Drained only if it was set. Both sides use sequentially consistent operations, so a
  /// backend on another thread either sees the flag or wrote early enough for the app side's
  /// second read to see the lower count (and not wait).
  std::atomic<bool> drain_wanted{false};
};

// ---- backend -> app side ---------------------------------------------------------------------

struct RequestStarted {
  ExchangeId id = 0;
  asgi::HttpScope scope;
  bool expects_continue = false;        ///< the backend sends 100 on the first body_consumed()
  std::shared_ptr<ExchangeFlow> flow;   ///< shared with the backend for the exchange's life
};
/// Memory the app side owns from the start for `size` bytes of request body, which the backend
/// fills before posting it (AppPort::body_block()). `owner` keeps it alive; the app side knows
/// what it is (the bridge: a Python bytes object, handed to the app without a copy).
struct BodyBlock {
  char* data = nullptr;
  std::size_t size = 0;
  std::shared_ptr<const void> owner;
};
struct BodyReceived {
  ExchangeId id = 0;
  std::string bytes;
  bool more_body = false;
  /// Set instead of `bytes` (which is then empty): the body is all of block.data, filled.
  BodyBlock block;
};
struct ClientGone {
  ExchangeId id = 0;
};
struct Drained {
  ExchangeId id = 0;                    ///< unsent_bytes fell below kSendLowWater
};
/// A valid WebSocket opening handshake: the app answers with WsAccept or an HTTP response.
struct WebSocketRequested {
  ExchangeId id = 0;
  asgi::HttpScope scope;                  ///< type "websocket" (asgi::to_websocket_scope)
  std::vector<std::string> subprotocols;  ///< Sec-WebSocket-Protocol tokens, in order
  std::shared_ptr<ExchangeFlow> flow;     ///< WsSend backpressure, as for HTTP responses
};
/// One whole message from the client (text: valid UTF-8; decompressed).
struct WebSocketReceived {
  ExchangeId id = 0;
  std::string data;
  bool text = false;
};
/// The connection ended with a close code: the client's close (1005 when it had none), a
/// violation we answered (1002, 1007, 1009), a ping timeout (1011), the server's shutdown
/// (1001). The last message of the exchange.
struct WebSocketClosed {
  ExchangeId id = 0;
  std::string reason;
  std::uint16_t code = 1005;  // after `reason`: GCC 12 -Wmaybe-uninitialized misfires otherwise
};
using Inbound = std::variant<RequestStarted, BodyReceived, ClientGone, Drained,
                             WebSocketRequested, WebSocketReceived, WebSocketClosed>;

/// A batch of Inbound messages is swapped, never copied, between a backend's outbox, the app
/// port's queue and the app side's batch in hand, so a vector keeps the capacity of the biggest
/// burst it ever carried. An Inbound is about 500 bytes (the size of RequestStarted, the largest
/// alternative), and a burst is easily a thousand: 64 responses streamed in 64 KiB chunks post a
/// Drained per chunk. Empty a batch with reset_batch(): it clears it and gives back storage for
/// more than kBatchKeep messages (freed blocks that large are returned to the system), so a
/// burst's memory does not stay resident after it.
inline constexpr std::size_t kBatchKeep = 256;
inline void reset_batch(std::vector<Inbound>& batch) noexcept {
  batch.clear();
  if (batch.capacity() > kBatchKeep) std::vector<Inbound>().swap(batch);
}

/// Implemented by the app side (the bridge). Called from backend threads.
class AppPort {
 public:
  virtual ~AppPort() = default;
  /// Queues messages for the app side and wakes it once. Never blocks on the app.
  virtual void post(std::vector<Inbound>&& messages) = 0;
  /// Memory for `n` bytes of request body the app takes over without a copy. Called only on
  /// the app side's own thread (from a caller-driven Server's pump()). The default, and the
  /// answer on any other thread or failure: an empty block (owner unset), and the backend
  /// stages the body itself.
  virtual BodyBlock body_block(std::size_t /*n*/) { return {}; }
};

// ---- app side -> backend ---------------------------------------------------------------------

struct Header {
  std::string name;
  std::string value;
};
struct SendHead {  ///< a final response head, or a 1xx
  std::uint16_t status = 200;
  std::vector<Header> headers;
};
struct SendData {
  SendData() = default;
  explicit SendData(std::string b) : bytes(std::move(b)) {}

  std::string bytes;
  /// Zero-copy instead of `bytes`: when `hold` is set the body is `view`, which the app side
  /// keeps alive and unchanged until `hold` is released (the backend releases it on the
  /// thread that writes; the app side's deleter must be safe there).
  std::string_view view;
  std::shared_ptr<const void> hold;

  /// The body and what keeps it alive: the app's hold, or `bytes` moved into a shared string.
  std::pair<std::string_view, std::shared_ptr<const void>> take() {
    if (hold) return {view, std::move(hold)};
    auto owned = std::make_shared<std::string>(std::move(bytes));
    const std::string_view v = *owned;
    return {v, std::move(owned)};
  }
};
struct SendEnd {  ///< the response is complete
  std::vector<Header> trailers;
};
struct SendFile {  ///< http.response.pathsend: the backend reads the file; ends the response
  std::string path;
};
struct Abort {};  ///< close the connection without finishing the response
/// Accept a WebSocket handshake: 101 with the RFC 6455 headers, `subprotocol` (empty: none)
/// and the app's `headers` (validated by the app side).
struct WsAccept {
  std::string subprotocol;
  std::vector<Header> headers;
};
/// One WebSocket message (text: UTF-8).
struct WsSend {
  std::string data;
  bool text = false;
};
/// Our close frame (a code and reason the app side validated); ends the exchange.
struct WsClose {
  std::uint16_t code = 1000;
  std::string reason;
};
using Outbound = std::variant<SendHead, SendData, SendEnd, SendFile, Abort, WsAccept, WsSend,
                              WsClose>;

/// Implemented by every backend. Called from the app side's thread.
class ServerPort {
 public:
  virtual ~ServerPort() = default;
  /// Queues operations for an exchange, in order, and wakes the backend. Unknown or finished
  /// exchanges (the client left) are ignored.
  virtual void submit(ExchangeId id, std::vector<Outbound>&& ops) = 0;
  /// The app has consumed `bytes` of request body: the backend may read that much more.
  virtual void body_consumed(ExchangeId id, std::size_t bytes) = 0;
  /// The app has received `count` WebSocket messages of exchange `id`: the backend may post
  /// that many more. Routed like body_consumed() (the connection behind `id` knows that it
  /// serves a WebSocket), so a backend need not override it.
  virtual void messages_consumed(ExchangeId id, std::size_t count) { body_consumed(id, count); }
  /// Optional batching (app thread). Between hold_wakeups() and release_wakeups(), submit()
  /// and body_consumed() may only queue; release_wakeups() then wakes the backend once if
  /// anything was queued, so a batch of responses costs one wake-up (one context switch when
  /// both threads share a core). The defaults do nothing: every call wakes, as before.
  virtual void hold_wakeups() {}
  virtual void release_wakeups() {}
};

}  // namespace lancet::backend
