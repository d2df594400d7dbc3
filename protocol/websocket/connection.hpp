// Connection: the server side of one WebSocket connection after the 101, sans-io (wsproto's
// shape in C++, h11's rhythm: receive_data / next_event / send_* / pending_output).
//
// Layer: protocol/websocket. No sockets, clocks or threads: bytes in, events out; messages in,
// bytes out; time arrives as a number of milliseconds on the caller's monotonic scale. Not
// thread-safe: one connection, one thread at a time.
//
// Theory of operation
//   Input: receive_data() appends to the connection's buffer; next_event() decodes frames and
//   returns one event at a time: a complete Text (UTF-8 checked) or Binary message, a Ping
//   (already answered: the pong is queued), a Pong, a Close, or NeedData. Data frame payloads
//   are unmasked and (with permessage-deflate) inflated as they arrive, so limits and UTF-8 are
//   checked before a message ends: 1009 as soon as a frame header announces too much, 1007 at
//   the first impossible byte.
//   Violations become events (wsproto): a frame that breaks RFC 6455 yields Close(code,
//   reason) with the code of §7.4.1 (1002, 1007, 1009), the matching close frame is queued,
//   error() holds the Error, and every later input is ignored. next_event() itself never fails.
//   The transport ending without a close frame (receive_eof()) yields Close(1006) and queues
//   nothing; a server ping left unanswered (on_timer) yields Close(1011) and queues it.
//   Close handshake (§5.5.1, §7.1): a Close from the peer is echoed (same code and reason)
//   unless we already sent ours, and the connection is closed; after our send_close() the
//   connection keeps reading until the peer's Close. Once closed, the caller writes the pending
//   output and closes the socket (should_close()); §7.1.1: the server closes TCP first.
//   Output: send_*() queue frames (never masked, §5.1); the caller drains pending_output() and
//   reports consume_output(n).
//
//   States:   open --send_close()--> closing --peer Close--> closed
//             open --peer Close (echoed)--> closed
//             any  --violation / EOF / ping timeout--> closed
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/result.hpp"
#include "protocol/websocket/deflate.hpp"
#include "protocol/websocket/extensions.hpp"
#include "protocol/websocket/frame.hpp"
#include "protocol/websocket/utf8.hpp"

namespace lancet::websocket {

/// Limits and negotiated settings of one connection.
struct Options {
  /// Largest message, after decompression (1009 above it). 16 MiB is uvicorn's --ws-max-size
  /// default; websockets' own default is 1 MiB. SECURITY: a message is held whole in memory,
  /// so this bounds the memory one connection can make the server hold per message.
  std::size_t max_message_bytes = 16 * 1024 * 1024;
  /// permessage-deflate parameters when the handshake negotiated it (Acceptance::deflate).
  std::optional<DeflateParams> deflate;
  /// Send a ping this often while open (0: never). uvicorn's --ws-ping-interval default is 20 s.
  std::uint64_t ping_interval_ms = 0;
  /// Close with 1011 "keepalive ping timeout" when the pong is this late (0: wait forever).
  /// 1011 is what websockets (hence uvicorn) sends: the peer is alive enough to read a close.
  std::uint64_t ping_timeout_ms = 0;
};

/// Events. Views are valid until the next next_event() call (or the Connection's end).
struct Text {
  std::string_view data;  ///< a complete message, valid UTF-8
};
struct Binary {
  std::string_view data;  ///< a complete message
};
struct Ping {
  std::string_view payload;  ///< already answered with a pong
};
struct Pong {
  std::string_view payload;
};
/// The connection is closing: the peer's close (code 1005 when its frame had no code), a
/// violation (1002/1007/1009, reason = the error's detail), the transport's end (1006) or a
/// ping timeout (1011).
struct Close {
  std::uint16_t code = kCloseNormal;
  std::string_view reason;
};
struct NeedData {};

using Event = std::variant<Text, Binary, Ping, Pong, Close, NeedData>;

enum class State : std::uint8_t {
  open,     ///< both directions open
  closing,  ///< we sent a close frame and wait for the peer's
  closed,   ///< done: write what is pending, then close the socket
};

class Connection {
 public:
  /// `now_ms` is the time the connection opened (schedules the first server ping).
  explicit Connection(Options options = {}, std::uint64_t now_ms = 0);

  // ---- input -------------------------------------------------------------------------------
  /// Appends bytes from the peer (ignored once closed). Never fails. The caller bounds how
  /// much it feeds before calling next_event() (backpressure is the I/O layer's job).
  void receive_data(std::string_view bytes);
  /// The peer closed its sending side: unless a close handshake finished, the next
  /// next_event() that runs out of bytes returns Close(1006).
  void receive_eof() noexcept { eof_ = true; }
  /// The next event; never fails (violations are Close events, see error()).
  Event next_event();

  // ---- output ------------------------------------------------------------------------------
  /// Queues a text message or one fragment of it (`fin` false: more follow, sent with the next
  /// calls of the same kind). Errors (local): ws_send_after_close; send_out_of_order (another
  /// kind of message is mid-fragmentation); ws_invalid_send (not UTF-8; checked across
  /// fragments).
  Result<void> send_text(std::string_view text, bool fin = true);
  /// Queues a binary message or one fragment of it. Errors: as send_text but for UTF-8.
  Result<void> send_binary(std::string_view bytes, bool fin = true);
  /// Queues a ping / pong. Errors: ws_send_after_close; ws_invalid_send (over 125 bytes).
  Result<void> send_ping(std::string_view payload = {});
  Result<void> send_pong(std::string_view payload = {});
  /// Queues our close frame (kCloseNoStatus: an empty one). Errors: ws_send_after_close;
  /// ws_invalid_send (a code is_valid_close_code() refuses, a reason over 123 bytes or not
  /// UTF-8).
  Result<void> send_close(std::uint16_t code = kCloseNormal, std::string_view reason = {});

  /// Fills `out` with up to out.size() pending pieces and returns how many. Views are valid
  /// until the next consume_output(): queuing more frames (send*(), a pong in next_event(), a
  /// ping in on_timer()) appends without moving what is queued, so an I/O layer may keep
  /// writing these views while it queues more (a deque of owned frames).
  std::size_t pending_output(std::span<std::string_view> out) const;
  std::size_t pending_output_bytes() const noexcept { return pending_bytes_; }
  /// The caller wrote `n` bytes of pending output.
  void consume_output(std::size_t n);
  /// All pending output as one string, consumed (tests and tools).
  std::string take_output();

  // ---- time --------------------------------------------------------------------------------
  /// Sends the keepalive ping when due; closes with 1011 when its pong is overdue (the Close
  /// event comes out of the next next_event()).
  void on_timer(std::uint64_t now_ms);
  /// When on_timer() next has something to do, or nullopt.
  std::optional<std::uint64_t> next_deadline() const noexcept;

  // ---- state -------------------------------------------------------------------------------
  State state() const noexcept { return state_; }
  bool wants_read() const noexcept { return state_ != State::closed && !eof_; }
  bool wants_write() const noexcept { return pending_bytes_ > 0; }
  /// Closed and everything written: close the socket.
  bool should_close() const noexcept { return state_ == State::closed && pending_bytes_ == 0; }
  /// The violation that closed the connection, if any (remote; ws_close_hint set).
  const Error* error() const noexcept { return has_error_ ? &error_ : nullptr; }

 private:
  std::string_view unread() const noexcept { return std::string_view(in_).substr(in_pos_); }
  Event need_data();
  Event fail(const Error& e);
  void close_now(const Error& e);
  Event take_close_event();
  Result<void> on_frame_start();
  Result<void> feed_payload(char* bytes, std::size_t n);
  Result<Event> finish_message();
  Result<Event> on_control();
  Result<void> send_data(Opcode op, std::string_view data, bool fin);
  void queue_frame(Opcode op, bool fin, bool rsv1, std::string_view payload);
  void queue_close(std::uint16_t code, std::string_view reason);

  Options options_;
  State state_ = State::open;
  bool eof_ = false;
  bool close_sent_ = false;
  bool has_error_ = false;
  Error error_{};
  bool close_pending_ = false;  // a Close event waits to come out of next_event()
  std::uint16_t close_code_ = 0;
  std::string close_reason_;

  // input
  std::string in_;
  std::size_t in_pos_ = 0;
  bool have_header_ = false;
  FrameHeader header_{};
  std::uint64_t payload_seen_ = 0;  // payload bytes of the current frame consumed
  Opcode message_op_ = Opcode::continuation;  // continuation: no message in progress
  bool message_compressed_ = false;
  std::uint64_t message_wire_bytes_ = 0;  // compressed payload bytes of the current message
  std::string message_;
  bool message_delivered_ = false;  // message_ was handed out: clear on the next call
  Utf8Validator utf8_;
  std::string control_;
  std::optional<MessageInflater> inflater_;

  // output
  std::deque<std::string> out_;
  std::size_t out_offset_ = 0;  // bytes of out_.front() already written
  std::size_t pending_bytes_ = 0;
  Opcode out_message_op_ = Opcode::continuation;  // a fragmented message we are sending
  Utf8Validator out_utf8_;
  std::optional<MessageDeflater> deflater_;

  // keepalive
  std::uint64_t next_ping_ms_ = 0;
  std::uint64_t ping_sent_ms_ = 0;
  bool awaiting_pong_ = false;
  std::uint32_t ping_count_ = 0;
  std::string ping_payload_;
};

}  // namespace lancet::websocket
