// websocket::Connection. See connection.hpp for the theory of operation.
#include "protocol/websocket/connection.hpp"

#include <algorithm>

namespace lancet::websocket {
namespace {

Error local(Errc code, const char* detail) { return make_local_error(code, detail); }

// Compressed payloads may exceed the decompressed limit a little (deflate's worst case adds a
// few bytes per 16 KiB block); allow that much slack on the wire size of a compressed message.
std::uint64_t wire_limit(std::size_t max_message_bytes) {
  return static_cast<std::uint64_t>(max_message_bytes) + (max_message_bytes >> 6) + 64;
}

}  // namespace

Connection::Connection(Options options, std::uint64_t now_ms) : options_(std::move(options)) {
  if (options_.deflate) {
    inflater_.emplace(*options_.deflate);
    deflater_.emplace(*options_.deflate);
  }
  next_ping_ms_ = now_ms + options_.ping_interval_ms;
}

// ---- input -------------------------------------------------------------------------------------

void Connection::receive_data(std::string_view bytes) {
  if (state_ == State::closed) return;
  if (in_pos_ == in_.size()) {
    in_.clear();
    in_pos_ = 0;
  } else if (in_pos_ >= 4096 && in_pos_ * 2 >= in_.size()) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  in_.append(bytes);
}

Event Connection::next_event() {
  if (message_delivered_) {
    message_.clear();
    message_delivered_ = false;
  }
  if (close_pending_) return take_close_event();
  if (state_ == State::closed) return NeedData{};
  for (;;) {
    if (!have_header_) {
      auto parsed = decode_frame_header(unread(), inflater_.has_value());
      if (!parsed) return fail(parsed.error());
      if (!parsed->complete) return need_data();
      header_ = parsed->header;
      in_pos_ += header_.header_size;
      have_header_ = true;
      payload_seen_ = 0;
      if (auto started = on_frame_start(); !started) return fail(started.error());
    }
    const std::uint64_t remaining = header_.length - payload_seen_;
    if (is_control(header_.opcode)) {
      if (unread().size() < remaining) return need_data();
      const std::size_t n = static_cast<std::size_t>(remaining);
      control_.assign(in_, in_pos_, n);
      in_pos_ += n;
      apply_mask(control_.data(), n, header_.mask, 0);
      have_header_ = false;
      auto event = on_control();
      if (!event) return fail(event.error());
      return *event;
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(unread().size(), remaining));
    if (n == 0 && remaining > 0) return need_data();
    apply_mask(in_.data() + in_pos_, n, header_.mask, payload_seen_);  // our own buffer
    if (auto fed = feed_payload(in_.data() + in_pos_, n); !fed) return fail(fed.error());
    in_pos_ += n;
    payload_seen_ += n;
    if (payload_seen_ < header_.length) return need_data();
    have_header_ = false;
    if (header_.fin) {
      auto event = finish_message();
      if (!event) return fail(event.error());
      return *event;
    }
  }
}

Event Connection::need_data() {
  if (eof_) {
    // §7.1.5: closed without a close frame: "The WebSocket Connection Close Code is considered
    // to be 1006." Never sent on the wire (close_now skips it).
    return fail(make_ws_error(Errc::ws_connection_lost, "connection lost without a close frame"));
  }
  return NeedData{};
}

Event Connection::fail(const Error& e) {
  close_now(e);
  return take_close_event();
}

// A violation, a lost transport or a ping timeout: queue our close frame (never 1006), close,
// and leave a Close event for next_event().
void Connection::close_now(const Error& e) {
  error_ = e;
  has_error_ = true;
  if (!close_sent_ && e.ws_close_hint != kCloseAbnormal) {
    queue_close(e.ws_close_hint, std::string_view(e.detail).substr(
                                     0, std::min(kMaxCloseReason, std::string_view(e.detail).size())));
  }
  close_sent_ = true;
  state_ = State::closed;
  close_pending_ = true;
  close_code_ = e.ws_close_hint;
  close_reason_ = e.detail;
}

Event Connection::take_close_event() {
  close_pending_ = false;
  return Close{close_code_, close_reason_};
}

// Checks that need the message state: §5.4 fragmentation order, RFC 7692 §6.1 RSV1 placement,
// and the message size limit as soon as a header announces the bytes.
Result<void> Connection::on_frame_start() {
  const Opcode op = header_.opcode;
  if (is_control(op)) {
    // RFC 7692 §6.1: permessage-deflate never applies to control frames.
    if (header_.rsv1) return unexpected(make_ws_error(Errc::ws_reserved_bits, "RSV1 on a control frame"));
    return ok();
  }
  if (op == Opcode::continuation) {
    if (message_op_ == Opcode::continuation) {
      return unexpected(make_ws_error(Errc::ws_unexpected_continuation, "continuation without a message"));
    }
    // RFC 7692 §6.1: RSV1 only on the first frame of a message.
    if (header_.rsv1) return unexpected(make_ws_error(Errc::ws_reserved_bits, "RSV1 on a continuation"));
  } else {
    if (message_op_ != Opcode::continuation) {
      return unexpected(make_ws_error(Errc::ws_expected_continuation, "new message inside a fragmented one"));
    }
    message_op_ = op;
    message_compressed_ = header_.rsv1;
    message_wire_bytes_ = 0;
  }
  const Error too_big = make_ws_error(Errc::ws_message_too_big, "message too big");
  if (message_compressed_) {
    message_wire_bytes_ += header_.length;  // no overflow: length < 2^63, checked each frame
    if (message_wire_bytes_ > wire_limit(options_.max_message_bytes)) return unexpected(too_big);
  } else {
    if (header_.length > options_.max_message_bytes - message_.size()) return unexpected(too_big);
    if (header_.fin) message_.reserve(message_.size() + static_cast<std::size_t>(header_.length));
  }
  return ok();
}

Result<void> Connection::feed_payload(char* bytes, std::size_t n) {
  const std::size_t before = message_.size();
  if (message_compressed_) {
    LANCET_TRY(inflater_->inflate(std::string_view(bytes, n), options_.max_message_bytes, message_));
  } else {
    message_.append(bytes, n);
  }
  // §8.1: fail as soon as the text cannot be UTF-8, not only at the message's end.
  if (message_op_ == Opcode::text && !utf8_.feed(std::string_view(message_).substr(before))) {
    return unexpected(make_ws_error(Errc::ws_invalid_utf8, "invalid UTF-8 in text message"));
  }
  return ok();
}

Result<Event> Connection::finish_message() {
  if (message_compressed_) {
    const std::size_t before = message_.size();
    LANCET_TRY(inflater_->finish_message(options_.max_message_bytes, message_));
    if (message_op_ == Opcode::text) utf8_.feed(std::string_view(message_).substr(before));
  }
  const Opcode op = message_op_;
  message_op_ = Opcode::continuation;
  message_delivered_ = true;
  if (op == Opcode::text) {
    const bool complete = utf8_.complete();
    utf8_.reset();
    if (!complete) {
      return unexpected(make_ws_error(Errc::ws_invalid_utf8, "invalid UTF-8 in text message"));
    }
    return Event{Text{message_}};
  }
  return Event{Binary{message_}};
}

Result<Event> Connection::on_control() {
  if (header_.opcode == Opcode::ping) {
    // §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response
    // ... unless it already received a Close frame"; and none after our own close.
    if (!close_sent_) queue_frame(Opcode::pong, true, false, control_);
    return Event{Ping{control_}};
  }
  if (header_.opcode == Opcode::pong) {
    if (awaiting_pong_ && control_ == ping_payload_) {
      awaiting_pong_ = false;
      next_ping_ms_ = ping_sent_ms_ + options_.ping_interval_ms;
    }
    return Event{Pong{control_}};
  }
  // Close, §5.5.1: empty, or a 2-byte code followed by a UTF-8 reason.
  std::uint16_t code = kCloseNoStatus;
  std::string_view reason;
  if (control_.size() == 1) {
    return unexpected(make_ws_error(Errc::ws_invalid_close_payload, "one-byte close payload"));
  }
  if (control_.size() >= 2) {
    code = static_cast<std::uint16_t>(static_cast<std::uint8_t>(control_[0]) << 8 |
                                      static_cast<std::uint8_t>(control_[1]));
    reason = std::string_view(control_).substr(2);
    if (!is_valid_close_code(code)) {
      return unexpected(make_ws_error(Errc::ws_invalid_close_code, "invalid close code"));
    }
    if (!is_valid_utf8(reason)) {
      return unexpected(make_ws_error(Errc::ws_invalid_utf8, "invalid UTF-8 in close reason"));
    }
  }
  // §5.5.1: "If an endpoint receives a Close frame and did not previously send a Close frame,
  // the endpoint MUST send a Close frame in response." We echo the code and reason.
  if (!close_sent_) {
    queue_close(code, reason);
    close_sent_ = true;
  }
  state_ = State::closed;
  return Event{Close{code, reason}};
}

// ---- output ------------------------------------------------------------------------------------

Result<void> Connection::send_text(std::string_view text, bool fin) {
  return send_data(Opcode::text, text, fin);
}

Result<void> Connection::send_binary(std::string_view bytes, bool fin) {
  return send_data(Opcode::binary, bytes, fin);
}

Result<void> Connection::send_data(Opcode op, std::string_view data, bool fin) {
  if (close_sent_) return unexpected(local(Errc::ws_send_after_close, "close already sent"));
  if (out_message_op_ != Opcode::continuation && out_message_op_ != op) {
    return unexpected(local(Errc::send_out_of_order, "another message is being fragmented"));
  }
  if (op == Opcode::text) {
    Utf8Validator v = out_utf8_;
    if (!v.feed(data) || (fin && !v.complete())) {
      return unexpected(local(Errc::ws_invalid_send, "text is not valid UTF-8"));
    }
    out_utf8_ = fin ? Utf8Validator{} : v;
  }
  const bool first = out_message_op_ == Opcode::continuation;
  const Opcode frame_op = first ? op : Opcode::continuation;
  out_message_op_ = fin ? Opcode::continuation : op;
  if (deflater_) {
    std::string compressed;
    LANCET_TRY(deflater_->compress(data, fin, compressed));
    queue_frame(frame_op, fin, first, compressed);  // RFC 7692 §6: RSV1 on the first frame
  } else {
    queue_frame(frame_op, fin, false, data);
  }
  return ok();
}

Result<void> Connection::send_ping(std::string_view payload) {
  if (close_sent_) return unexpected(local(Errc::ws_send_after_close, "close already sent"));
  if (payload.size() > kMaxControlPayload) {
    return unexpected(local(Errc::ws_invalid_send, "ping payload over 125 bytes"));
  }
  queue_frame(Opcode::ping, true, false, payload);
  return ok();
}

Result<void> Connection::send_pong(std::string_view payload) {
  if (close_sent_) return unexpected(local(Errc::ws_send_after_close, "close already sent"));
  if (payload.size() > kMaxControlPayload) {
    return unexpected(local(Errc::ws_invalid_send, "pong payload over 125 bytes"));
  }
  queue_frame(Opcode::pong, true, false, payload);
  return ok();
}

Result<void> Connection::send_close(std::uint16_t code, std::string_view reason) {
  if (close_sent_) return unexpected(local(Errc::ws_send_after_close, "close already sent"));
  if (code == kCloseNoStatus ? !reason.empty() : !is_valid_close_code(code)) {
    return unexpected(local(Errc::ws_invalid_send, "close code not allowed on the wire"));
  }
  if (reason.size() > kMaxCloseReason || !is_valid_utf8(reason)) {
    return unexpected(local(Errc::ws_invalid_send, "close reason over 123 bytes or not UTF-8"));
  }
  queue_close(code, reason);
  close_sent_ = true;
  if (state_ == State::open) state_ = State::closing;
  return ok();
}

void Connection::queue_close(std::uint16_t code, std::string_view reason) {
  std::string payload;
  if (code != kCloseNoStatus) {
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xff);
    payload += reason;
  }
  queue_frame(Opcode::close, true, false, payload);
}

void Connection::queue_frame(Opcode op, bool fin, bool rsv1, std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 10);
  append_frame_header(frame, op, fin, rsv1, payload.size());
  frame += payload;
  pending_bytes_ += frame.size();
  out_.push_back(std::move(frame));
}

std::size_t Connection::pending_output(std::span<std::string_view> out) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < out_.size() && n < out.size(); ++i) {
    std::string_view piece = out_[i];
    if (i == 0) piece.remove_prefix(out_offset_);
    if (!piece.empty()) out[n++] = piece;
  }
  return n;
}

void Connection::consume_output(std::size_t n) {
  LANCET_ASSERT(n <= pending_bytes_, "consumed more output than pending");
  pending_bytes_ -= n;
  while (n > 0 && !out_.empty()) {
    const std::size_t left = out_.front().size() - out_offset_;
    if (n < left) {
      out_offset_ += n;
      return;
    }
    n -= left;
    out_.pop_front();
    out_offset_ = 0;
  }
}

std::string Connection::take_output() {
  std::string all;
  all.reserve(pending_bytes_);
  for (std::size_t i = 0; i < out_.size(); ++i) {
    all.append(std::string_view(out_[i]).substr(i == 0 ? out_offset_ : 0));
  }
  consume_output(pending_bytes_);
  return all;
}

// ---- time --------------------------------------------------------------------------------------

void Connection::on_timer(std::uint64_t now_ms) {
  if (state_ != State::open || options_.ping_interval_ms == 0) return;
  if (awaiting_pong_) {
    if (options_.ping_timeout_ms != 0 && now_ms >= ping_sent_ms_ + options_.ping_timeout_ms) {
      close_now(make_ws_error(Errc::ws_ping_timeout, "keepalive ping timeout"));
    }
    return;
  }
  if (now_ms < next_ping_ms_) return;
  // A 4-byte counter, so a late pong for an older ping is not taken for this one.
  ++ping_count_;
  ping_payload_.clear();
  for (int shift = 24; shift >= 0; shift -= 8) {
    ping_payload_ += static_cast<char>((ping_count_ >> shift) & 0xff);
  }
  queue_frame(Opcode::ping, true, false, ping_payload_);
  awaiting_pong_ = true;
  ping_sent_ms_ = now_ms;
}

std::optional<std::uint64_t> Connection::next_deadline() const noexcept {
  if (state_ != State::open || options_.ping_interval_ms == 0) return std::nullopt;
  if (!awaiting_pong_) return next_ping_ms_;
  if (options_.ping_timeout_ms == 0) return std::nullopt;
  return ping_sent_ms_ + options_.ping_timeout_ms;
}

}  // namespace lancet::websocket
