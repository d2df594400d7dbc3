// HttpCycle: one ASGI HTTP request/response cycle as a state machine, sans-io.
//
// Layer: protocol/asgi. Takes the app's send events, checks them and their order, and says
// what to do on the http1 connection as data (Actions); takes request body pieces and the
// disconnect, and says what the app's receive() returns. Not thread-safe: one cycle, one thread.
// http_cycle.md beside this file has the state diagram and the event flow.
//
// Theory of operation
//   Response side: awaiting_start --start--> awaiting_body --final body--> done
//                                                         \--final body, trailers=true-->
//                                                            awaiting_trailers --final--> done
//   http.response.pathsend counts as the final body. on_app_exit() ends the cycle from any
//   state: a 500 when nothing reached the wire, Abort when part of a response did.
//   The start is held back until the first body (granian): when that body is also the last
//   and the app gave neither Content-Length nor Transfer-Encoding, the cycle adds
//   `content-length: <len>` so the response goes out in one piece instead of chunked.
//   Receive side: body pieces queue up in order, as they came (small neighbours merged, large
//   ones kept apart so no buffer is copied to grow); next_receive() pops them merged into one
//   event, next_receive_parts() unmerged for a caller that copies them once into its own
//   buffer (the bridge: straight into the app's bytes). Either then reports nothing available until the client disconnects or the response
//   completes, after which it returns http.disconnect forever (uvicorn 0.17.6; ASGI 2.4).
//
// Lifetimes of the views in returned Actions:
//   - SendData::bytes, SendFile::path, and SendHead/SendEnd headers that came straight from the
//     event point into the event passed to on_app_send(): valid while that event's storage is.
//   - A held-back start's headers and merged trailers are copied into the cycle: valid until
//     the cycle is destroyed.
//   - The 500 response of on_app_exit() points at static storage.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "protocol/asgi/events.hpp"
#include "protocol/core/result.hpp"
#include "protocol/http1/message.hpp"

namespace lancet::asgi {

// ---- actions: what to do on the http1 connection ----------------------------------------------

/// Send the final response head (http1::ServerConnection::send).
struct SendHead {
  std::uint16_t status = 200;
  std::span<const http1::Header> headers;
};
/// Send body bytes (send_data). Never empty.
struct SendData {
  std::string_view bytes;
};
/// End the response, with trailers if any (send_end).
struct SendEnd {
  std::span<const http1::Header> trailers;
};
/// Send the contents of the file at `path` as body (the backend does the file I/O; a SendEnd
/// follows unless trailers were announced). When the app gave no Content-Length, the preceding
/// SendHead has none either: a backend that knows the file size may add one.
struct SendFile {
  std::string_view path;
};
/// Close the connection without finishing the response.
struct Abort {};

using Action = std::variant<SendHead, SendData, SendEnd, SendFile, Abort>;

/// Stable action name for traces: "send_head", "send_data", "send_end", "send_file", "abort".
std::string_view action_name(const Action& action) noexcept;

/// The actions of one call, in order; at most three (head, data or file, end). No allocation.
class Actions {
 public:
  static constexpr std::size_t kCapacity = 3;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const Action& operator[](std::size_t i) const noexcept { return items_[i]; }
  const Action* begin() const noexcept { return items_.data(); }
  const Action* end() const noexcept { return items_.data() + size_; }
  /// Appends an action; more than kCapacity is a bug in the cycle (asserted).
  void push(Action action) noexcept;

 private:
  std::array<Action, kCapacity> items_{};
  std::size_t size_ = 0;
};

namespace detail {

/// Owned copies of header lines plus views over them: what a held-back start or merged
/// trailers keep after the app's event is gone. A typical response's headers fit in the inline
/// storage (every request holds its start back: no allocation for it).
class HeaderStore {
 public:
  void append(std::span<const http1::Header> headers);
  void append(std::string_view name, std::string_view value);
  /// Views over the copies; valid until the next append() or the store's destruction.
  std::span<const http1::Header> view();
  /// A header with this name (ASCII case-insensitive) was stored.
  bool has(std::string_view name) const noexcept;
  bool empty() const noexcept { return slices_.empty(); }

 private:
  struct Slice {
    std::size_t name_at, name_len, value_at, value_len;
  };
  static constexpr std::size_t kInlineBytes = 256;
  static constexpr std::size_t kInlineFields = 8;
  boost::container::small_vector<char, kInlineBytes> bytes_;
  boost::container::small_vector<Slice, kInlineFields> slices_;
  boost::container::small_vector<http1::Header, kInlineFields> views_;
};

}  // namespace detail

// ---- the cycle -------------------------------------------------------------------------------

/// How the app's coroutine ended.
enum class Outcome : std::uint8_t {
  returned,  ///< returned normally
  raised,    ///< raised an exception (the bridge logs it)
};

/// Where the response is.
enum class ResponseState : std::uint8_t {
  awaiting_start,     ///< nothing sent yet
  awaiting_body,      ///< start received; body events until more_body=false
  awaiting_trailers,  ///< final body sent, trailers announced: trailers until more_trailers=false
  done,               ///< complete, aborted, or answered by on_app_exit()
};

/// An http.request as the body pieces it arrived in (next_receive_parts()).
struct RequestParts {
  std::vector<std::string> pieces;  ///< in order; their concatenation is the event's body
  std::size_t bytes = 0;            ///< total size of the pieces
  bool more_body = false;
  /// Or, when set (`pieces` then empty): the body is `held_bytes`, memory the server side made
  /// and `held` keeps alive (the bridge: a Python bytes object, handed over without a copy).
  std::shared_ptr<const void> held;
  std::string_view held_bytes;
};
using ReceiveParts = std::variant<RequestParts, HttpDisconnect>;

/// Stable name for traces: "awaiting_start", ...
std::string_view to_string(ResponseState state) noexcept;

/// Per-request settings of a cycle (HttpCycle::options_for builds them from the head).
struct CycleOptions {
  /// The request is HEAD: never add a Content-Length (the app's describes the GET body).
  bool head_request = false;
  /// Hold the start back until the first body (and add Content-Length for one-piece bodies).
  /// Off: the start goes out as SendHead at once, its headers viewing the event.
  bool hold_back_start = true;
};

/// One ASGI HTTP request/response cycle; see the file comment and http_cycle.md.
class HttpCycle {
 public:
  /// A cycle awaiting the app's start, with no request body yet. Never fails.
  explicit HttpCycle(CycleOptions options = {}) noexcept : options_(options) {}
  /// Options for `head`: head_request from its method.
  static CycleOptions options_for(const http1::RequestHead& head) noexcept;

  // ---- send side (app -> server) ---------------------------------------------------------------
  /// Validates `event` (validate_send_event) and its order; returns what to do. A rejected
  /// event changes nothing. Errors (local unless noted):
  ///   - the disconnect error (is_disconnect_error(), origin remote): the client is gone; the
  ///     bridge raises an OSError subclass (ASGI 2.4). Checked first.
  ///   - unexpected_event: wrong order, e.g. "expected 'http.response.start', got
  ///     'http.response.body'".
  ///   - event_after_response: anything after the response completed (or after on_app_exit).
  ///   - trailers_not_announced: http.response.trailers when start had trailers=false.
  ///   - invalid_status, invalid_response_header_name, invalid_response_header_value,
  ///     invalid_event_field: from validate_send_event.
  /// Views in the returned Actions: see the file comment.
  Result<Actions> on_app_send(const SendEvent& event);
  /// The app's coroutine ended. Returns a complete 500 response (plain text, Connection: close)
  /// when nothing reached the wire yet (not even a held-back start), Abort when part of the
  /// response did or the client is gone, nothing when the response was complete. Afterwards
  /// the cycle is done. Calling it twice returns nothing the second time.
  Actions on_app_exit(Outcome outcome);

  // ---- receive side (server -> app) ------------------------------------------------------------
  /// A piece of request body from the connection (copied); more_body=false marks the last
  /// (possibly empty) piece. Ignored after the last piece or after a disconnect.
  void on_body(std::string_view bytes, bool more_body);
  /// The same, taking the buffer (no copy, unless it is small and merged into the small piece
  /// before it).
  void take_body(std::string&& bytes, bool more_body);
  /// The same for bytes `hold` keeps alive: queued as they are when nothing else is queued
  /// (next_receive_parts() gives them as RequestParts::held), else copied behind the rest.
  void take_held(std::string_view bytes, std::shared_ptr<const void> hold, bool more_body);
  /// The client disconnected (EOF or a socket error before the cycle finished).
  void on_disconnect() noexcept { disconnected_ = true; }
  /// What the app's receive() gets now: http.request (queued body, in order), http.disconnect
  /// (the client is gone or the response is complete), or nullopt: nothing yet, wait for
  /// on_body() / on_disconnect() / the response to complete.
  std::optional<ReceiveEvent> next_receive();
  /// next_receive() without merging the body: the queued pieces in order, moved out (none for
  /// an empty body), or HttpDisconnect. Same rules, same state change.
  std::optional<ReceiveParts> next_receive_parts();

  // ---- state -----------------------------------------------------------------------------------
  ResponseState state() const noexcept { return state_; }
  bool is_disconnected() const noexcept { return disconnected_; }
  /// The response is complete or was ended by on_app_exit().
  bool is_done() const noexcept { return state_ == ResponseState::done; }
  /// A start was received but is still held back (nothing on the wire).
  bool is_start_held() const noexcept { return start_held_; }
  /// Request body bytes queued for the app (for the backend's read-side flow control).
  std::size_t pending_receive_bytes() const noexcept { return pending_bytes_; }

 private:
  Result<Actions> on_start(const HttpResponseStart& start);
  Result<Actions> on_body_event(const HttpResponseBody& body);
  Result<Actions> on_trailers(const HttpResponseTrailers& trailers);
  Result<Actions> on_pathsend(const HttpResponsePathsend& pathsend);
  void release_start(Actions& actions, std::optional<std::size_t> final_length);
  bool wants_content_length() const noexcept;
  void finish_body(Actions& actions);

  CycleOptions options_;
  ResponseState state_ = ResponseState::awaiting_start;
  bool trailers_announced_ = false;
  bool body_started_ = false;  // a body event or pathsend was accepted
  bool start_held_ = false;
  bool wire_touched_ = false;  // a SendHead was returned
  bool disconnected_ = false;

  std::uint16_t held_status_ = 200;
  detail::HeaderStore held_headers_;  // the held-back start's headers (+ content-length)
  detail::HeaderStore trailers_;      // trailers merged across more_trailers=true events

  // receive side: the queued pieces of the next http.request
  std::optional<RequestParts> pending_;
  std::size_t pending_bytes_ = 0;
  bool request_complete_ = false;
};

/// Pieces up to this size are merged with a small neighbour as they queue; larger ones stay
/// apart (merging them would copy a large buffer to grow it).
inline constexpr std::size_t kMergeBodyPieceBytes = 4096;

/// The error on_app_send() returns once the client is gone: origin remote, code
/// client_disconnected, detail "client disconnected".
Error make_disconnect_error() noexcept;
/// True for make_disconnect_error()'s value: the bridge raises an OSError subclass for it.
bool is_disconnect_error(const Error& error) noexcept;

}  // namespace lancet::asgi
