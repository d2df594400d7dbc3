// ServerConnection: the server side of one HTTP/1.1 connection, sans-io (h11's shape in C++).
//
// Layer: protocol/http1. No sockets, clocks or threads: bytes in, events out; response parts
// in, bytes out. Not thread-safe: one connection, one thread at a time.
//
// Theory of operation
//   Input: receive_data() appends to the connection's buffer; lend_data() lets next_event()
//   parse the caller's bytes in place (no copy) until keep_input() copies what is left of them
//   (a partial head, pipelined bytes). Several buffers may be lent before the first is parsed
//   (a backend lends each receive buffer of a loop turn); each is parsed where it is, and only
//   bytes the parser must see again joined to the next (an unfinished method, or what follows
//   a finished request when more than one buffer holds it) are copied. The connection's own
//   buffer is let go once parsed when it grew past kKeptInputCapacity.
//   next_event() runs llhttp over the input and returns one event at a time: RequestHead,
//   then Data* and EndOfMessage, then Paused until start_next_cycle(). Pipelined bytes stay
//   buffered and unparsed while Paused, so one request is in flight at a time. NeedData means
//   "feed me"; ConnectionClosed means the peer closed cleanly between requests. Errors are
//   sticky: after a remote error every next_event() returns it again, and the caller may still
//   send the error response (send_error_response) before closing.
//   Output: send(head), send_data(bytes), send_end(trailers) queue bytes; the framing of the
//   response (Content-Length, chunked, close-delimited, none) is decided once per response in
//   framing.cpp. The caller drains pending_output() and reports consume_output(n).
//   States (state.hpp holds the table): their side idle -> send_body -> done (-> paused);
//   our side idle -> send_body -> done; must_close / closed / error / switched_protocol.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"
#include "protocol/http1/framing.hpp"
#include "protocol/http1/limits.hpp"
#include "protocol/http1/message.hpp"
#include "protocol/http1/state.hpp"

namespace lancet::http1 {

/// Keeps borrowed body bytes alive while they sit in the output queue (e.g. a Python bytes
/// object held by the bridge). Released once those bytes are consumed.
using Hold = std::shared_ptr<const void>;

class RequestParser;  // the llhttp adapter (parser.hpp)

/// The connection's own input buffer keeps up to this capacity once its bytes are parsed (a
/// head that came in pieces); larger, it is freed.
inline constexpr std::size_t kKeptInputCapacity = 16 * 1024;

class ServerConnection {
 public:
  explicit ServerConnection(Options options = {});
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // ---- input -------------------------------------------------------------------------------
  /// Appends bytes received from the peer. Never fails; parsing happens in next_event().
  void receive_data(std::string_view bytes);
  /// Lends bytes received from the peer: next_event() parses them where they are, and Data
  /// events view them. They must stay valid and unchanged until keep_input() or the next
  /// receive_data(); further lend_data() calls queue behind them. (When copied bytes are still
  /// unparsed, they are copied as receive_data() would.)
  void lend_data(std::string_view bytes);
  /// Copies the unparsed rest of lent bytes into the connection's own buffer: call before the
  /// lent memory is reused or freed. Cheap when everything was parsed.
  void keep_input();
  /// The peer closed its sending side.
  void receive_eof();
  /// Received bytes not parsed yet (lent or copied).
  std::size_t unparsed_bytes() const noexcept;
  /// Bytes of memory the connection holds for input (its own buffer's capacity).
  std::size_t input_capacity() const noexcept { return in_.capacity(); }
  /// The next event. Errors (remote, sticky): every http1 Errc of the remote section.
  Result<Event> next_event();

  // ---- output ------------------------------------------------------------------------------
  /// Queues a response head: a 1xx interim response (100, 103; 101 only for an upgrade request)
  /// or the final response. Errors (local): invalid_status, invalid_response_header_name,
  /// invalid_response_header_value, invalid_response_content_length, response_framing_conflict,
  /// send_out_of_order.
  Result<void> send(const ResponseHead& head);
  /// Queues body bytes (framed as the head decided; dropped for HEAD/204/304). With a hold,
  /// large bodies are referenced, not copied. Errors: body_exceeds_content_length,
  /// send_out_of_order.
  Result<void> send_data(std::string_view bytes, Hold hold = {});
  /// How the current response's body goes on the wire (set by send(head)): only a raw body
  /// (content_length, until_close) may be written by the caller itself, bytes as they are.
  BodyFraming body_framing() const noexcept { return framing_.body; }
  /// Counts `n` body bytes the caller wrote to the peer itself (a file spliced to the socket),
  /// checked against Content-Length as send_data() would. Only while nothing is queued (they
  /// follow everything queued) and the body is raw. Errors (local): send_out_of_order (no
  /// body being sent, output still queued, or a framed/absent body),
  /// body_exceeds_content_length.
  Result<void> send_data_written(std::size_t n);
  /// Ends the response; trailers only go out on a chunked response. Errors:
  /// body_shorter_than_content_length, invalid_response_header_*, send_out_of_order.
  Result<void> send_end(std::span<const Header> trailers = {});
  /// Queues a complete plain-text error response for `error` (its status hint, its detail as
  /// the body, Connection: close) if no response has started; the connection must then close.
  /// Used after a remote error, for 408 on a header deadline, and for 503 at capacity.
  void send_error_response(const Error& error);

  /// Fills `out` with up to out.size() pending output pieces (for writev/send) and returns how
  /// many. Views are valid until the next consume_output() or send*().
  std::size_t pending_output(std::span<std::string_view> out) const;
  /// Total bytes waiting to be written.
  std::size_t pending_output_bytes() const noexcept { return pending_bytes_; }
  /// The caller wrote `n` bytes of pending output.
  void consume_output(std::size_t n);
  /// All pending output as one string, consumed (for tools and tests; servers use
  /// pending_output() to write without copying).
  std::string take_output();

  // ---- cycle -------------------------------------------------------------------------------
  /// Both sides are done and the connection is kept alive: reset for the next request (the
  /// pipelined bytes are parsed next). Errors: cycle_not_done.
  Result<void> start_next_cycle();
  /// Date header value for responses (IMF-fixdate, see date.hpp); the caller refreshes it.
  void set_date(std::string_view imf_fixdate);
  /// Every response from now on says Connection: close (graceful shutdown).
  void request_close() noexcept { close_requested_ = true; }

  // ---- state -------------------------------------------------------------------------------
  State our_state() const noexcept { return our_state_; }
  State their_state() const noexcept { return their_state_; }
  /// The connection will be reused after this cycle (nobody asked to close, framing allows).
  bool keep_alive() const noexcept { return keep_alive_; }
  /// The caller should read from the socket (false while paused on too many pipelined bytes,
  /// after the peer's EOF, or after an error).
  bool wants_read() const noexcept;
  /// There is output to write.
  bool wants_write() const noexcept { return pending_bytes_ > 0; }
  /// Nothing more will happen: close the socket once pending output is written.
  bool should_close() const noexcept;
  /// After a 101 response: the bytes the peer sent after the upgrade request.
  std::string_view trailing_data() const noexcept;
  /// The sticky error, if any (their_state() == State::error).
  const Error* error() const noexcept { return has_error_ ? &error_ : nullptr; }

 private:
  // One piece of output: owned bytes (heads, chunk framing, copied small bodies) or a borrowed
  // span kept alive by `hold`. `offset` bytes of it are already written.
  struct Segment {
    std::string owned;
    std::string_view borrowed;
    Hold hold;
    std::size_t offset = 0;
    bool is_borrowed = false;
    std::string_view view() const noexcept {
      return (is_borrowed ? borrowed : std::string_view(owned)).substr(offset);
    }
  };
  struct HeadFacts;

  Result<Event> fail(const Error& e);
  Result<void> send_informational(const ResponseHead& head);
  Result<void> send_final(const ResponseHead& head, const HeadFacts& facts);
  void append_status_line(std::string& out, const ResponseHead& head);
  void pop_front_segment();
  void push_body(std::string_view bytes, Hold hold);
  std::string& writable_tail();
  void append(std::string_view bytes);

  Options options_;
  std::unique_ptr<RequestParser> parser_;
  std::string date_;
  std::string in_;            // received bytes; [in_pos_, end) not yet parsed
  std::size_t in_pos_ = 0;
  // lend_data()'s buffers not yet parsed, in order; in_ has no unparsed bytes while there are
  // any. The first is the one being parsed.
  std::vector<std::string_view> lent_;
  std::string_view unparsed() const noexcept {
    return lent_.empty() ? std::string_view(in_).substr(in_pos_) : lent_.front();
  }
  /// Parsing stopped before the end of the input: join what is left into in_ when it spans
  /// more than one lent buffer, so that it can be parsed (or handed on) as one.
  void join_lent();

  State our_state_ = State::idle;
  State their_state_ = State::idle;
  bool keep_alive_ = true;
  bool close_requested_ = false;
  bool eof_ = false;
  bool has_error_ = false;
  Error error_{};

  // the current request, as the response needs it
  bool request_is_head_ = false;
  bool request_is_upgrade_ = false;
  bool continue_pending_ = false;  // client waits for 100-continue and none was sent
  Version request_version_ = Version::http11;

  // the current response
  Framing framing_{};
  std::uint64_t body_sent_ = 0;

  std::deque<Segment> out_;
  std::size_t pending_bytes_ = 0;
  // The buffer of the last owned segment written out, emptied, kept for the next one: a
  // response head is written without allocating (see writable_tail).
  std::string spare_;
};

}  // namespace lancet::http1
