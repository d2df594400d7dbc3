// ServerConnection. See connection.hpp for the theory of operation.
#include "protocol/http1/connection.hpp"

#include <charconv>

#include "protocol/http1/parser.hpp"
#include "protocol/http1/syntax.hpp"

namespace lancet::http1 {
namespace {

// Bodies smaller than this are copied into the output buffer even when the caller offers a
// hold: one iovec and one memcpy beat an extra iovec for small writes.
constexpr std::size_t kBorrowThreshold = 4096;
// A new owned output segment starts with this much room (a status line and a few headers), and
// a written one up to kSpareMax is kept for the next (ServerConnection::spare_): larger ones are
// freed, so an idle connection holds at most this.
constexpr std::size_t kSegmentStart = 512;
constexpr std::size_t kSpareMax = 4096;

unexpected local(Errc code, const char* detail) {
  return unexpected(make_local_error(code, detail));
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

void append_hex(std::string& out, std::size_t n) {
  char buf[20];
  auto res = std::to_chars(buf, buf + sizeof buf, n, 16);
  out.append(buf, res.ptr);
}

}  // namespace

/// What the response's own fields say, gathered once while validating them.
struct ServerConnection::HeadFacts {
  std::optional<std::uint64_t> content_length;
  bool transfer_encoding = false;
  bool app_close = false;
  bool has_server = false;
  bool has_date = false;
};

namespace {

Result<void> validate_fields(std::span<const Header> fields) {
  for (const Header& h : fields) {
    if (!is_token(h.name)) {
      return local(Errc::invalid_response_header_name, "header name is not a token");
    }
    if (!is_field_value(h.value)) {
      return local(Errc::invalid_response_header_value, "header value has CR, LF, NUL or CTL");
    }
  }
  return ok();
}

}  // namespace

ServerConnection::ServerConnection(Options options)
    : options_(std::move(options)),
      parser_(std::make_unique<RequestParser>(options_.limits, options_.lenient)) {}

ServerConnection::~ServerConnection() = default;

// ---- input ------------------------------------------------------------------------------------

void ServerConnection::receive_data(std::string_view bytes) {
  if (bytes.empty()) return;
  keep_input();
  if (in_pos_ > 0) {
    in_.erase(0, in_pos_);
    in_pos_ = 0;
  }
  in_.append(bytes);
}

void ServerConnection::lend_data(std::string_view bytes) {
  if (bytes.empty()) return;
  if (in_pos_ < in_.size()) return receive_data(bytes);  // keep the order: append after them
  if (lent_.empty()) {
    in_.clear();
    in_pos_ = 0;
  }
  lent_.push_back(bytes);
}

void ServerConnection::keep_input() {
  if (lent_.empty()) return;
  // in_ holds no unparsed bytes while anything is lent.
  in_.clear();
  in_pos_ = 0;
  for (const std::string_view bytes : lent_) in_.append(bytes);
  lent_.clear();
}

void ServerConnection::join_lent() {
  if (lent_.size() > 1) keep_input();
}

std::size_t ServerConnection::unparsed_bytes() const noexcept {
  if (lent_.empty()) return in_.size() - in_pos_;
  std::size_t n = 0;
  for (const std::string_view bytes : lent_) n += bytes.size();
  return n;
}

void ServerConnection::receive_eof() { eof_ = true; }

Result<Event> ServerConnection::fail(const Error& e) {
  has_error_ = true;
  error_ = e;
  their_state_ = State::error;
  keep_alive_ = false;
  return unexpected(e);
}

Result<Event> ServerConnection::next_event() {
  if (has_error_) return unexpected(error_);
  if (in_pos_ == in_.size()) {  // all parsed (the last event's views are spent by now)
    if (in_.capacity() > kKeptInputCapacity) {
      std::string().swap(in_);
    } else {
      in_.clear();
    }
    in_pos_ = 0;
  }
  switch (their_state_) {
    case State::done:
    case State::must_close:
    case State::switched_protocol:
      join_lent();  // the next cycle, or trailing_data(), takes the rest as one piece
      return Event{Paused{}};
    case State::closed: return Event{ConnectionClosed{}};
    default: break;
  }
  RequestParser::Step step = parser_->execute(unparsed());
  for (;;) {
    if (lent_.empty()) {
      in_pos_ += step.consumed;
      break;
    }
    lent_.front().remove_prefix(step.consumed);
    if (step.kind != RequestParser::StepKind::need_data || lent_.size() == 1) break;
    // More was lent: go on with the next buffer, or with the rest joined to it when llhttp
    // left bytes it must see again with what follows (an unfinished method).
    if (lent_.front().empty()) {
      lent_.erase(lent_.begin());
    } else {
      keep_input();
    }
    step = parser_->execute(unparsed());
  }
  if (!lent_.empty() && lent_.front().empty()) {
    lent_.erase(lent_.begin());
  }
  switch (step.kind) {
    case RequestParser::StepKind::need_data: {
      if (!eof_) return Event{NeedData{}};
      const auto end = parser_->finish();
      if (end.kind == RequestParser::StepKind::error) return fail(parser_->error());
      their_state_ = State::closed;
      return Event{ConnectionClosed{}};
    }
    case RequestParser::StepKind::head: {
      const RequestHead& head = parser_->head();
      their_state_ = State::send_body;
      request_is_head_ = head.method == "HEAD";
      request_is_upgrade_ = head.is_upgrade;
      request_version_ = head.version;
      continue_pending_ = head.expects_continue && head.version == Version::http11;
      keep_alive_ = head.keep_alive && !close_requested_;
      return Event{head};
    }
    case RequestParser::StepKind::data: return Event{Data{step.data}};
    case RequestParser::StepKind::message_complete:
      their_state_ = State::done;
      continue_pending_ = false;
      return Event{EndOfMessage{parser_->trailers()}};
    case RequestParser::StepKind::error: break;
  }
  return fail(parser_->error());
}

// ---- output -----------------------------------------------------------------------------------

std::string& ServerConnection::writable_tail() {
  if (out_.empty() || out_.back().is_borrowed || out_.back().offset > 0) {
    std::string& owned = out_.emplace_back().owned;
    owned.swap(spare_);
    if (owned.capacity() < kSegmentStart) owned.reserve(kSegmentStart);
  }
  return out_.back().owned;
}

void ServerConnection::append(std::string_view bytes) {
  writable_tail().append(bytes);
  pending_bytes_ += bytes.size();
}

void ServerConnection::push_body(std::string_view bytes, Hold hold) {
  if (hold && bytes.size() >= kBorrowThreshold) {
    Segment& s = out_.emplace_back();
    s.borrowed = bytes;
    s.hold = std::move(hold);
    s.is_borrowed = true;
    pending_bytes_ += bytes.size();
    return;
  }
  append(bytes);
}

void ServerConnection::append_status_line(std::string& out, const ResponseHead& head) {
  out.append("HTTP/1.1 ");
  out.append(std::to_string(head.status));
  out += ' ';
  out.append(head.reason.empty() ? reason_phrase(head.status) : head.reason);
  out.append("\r\n");
}

Result<void> ServerConnection::send(const ResponseHead& head) {
  if (our_state_ != State::idle) return local(Errc::send_out_of_order, "response already started");
  if (their_state_ != State::send_body && their_state_ != State::done) {
    return local(Errc::send_out_of_order, "no request to respond to");
  }
  if (head.status < 100 || head.status > 599) {
    return local(Errc::invalid_status, "status must be between 100 and 599");
  }
  if (!is_field_value(head.reason)) {
    return local(Errc::invalid_response_header_value, "reason phrase has CR, LF or NUL");
  }
  LANCET_TRY(validate_fields(head.headers));
  if (head.status < 200) return send_informational(head);

  HeadFacts facts;
  for (const Header& h : head.headers) {
    if (iequals(h.name, "content-length")) {
      auto n = parse_content_length(h.value);
      if (!n || (facts.content_length && *facts.content_length != *n)) {
        return local(Errc::invalid_response_content_length,
                     "Content-Length must be one non-negative decimal");
      }
      facts.content_length = n;
    } else if (iequals(h.name, "transfer-encoding")) {
      if (!iequals(trim_ows(h.value), "chunked") || facts.transfer_encoding) {
        return local(Errc::response_framing_conflict, "Transfer-Encoding may only be chunked");
      }
      facts.transfer_encoding = true;
    } else if (iequals(h.name, "connection")) {
      facts.app_close = facts.app_close || list_has_token(h.value, "close");
    } else if (iequals(h.name, "server")) {
      facts.has_server = true;
    } else if (iequals(h.name, "date")) {
      facts.has_date = true;
    }
  }
  if (facts.content_length && facts.transfer_encoding) {
    return local(Errc::response_framing_conflict,
                 "Content-Length and Transfer-Encoding are mutually exclusive");
  }
  return send_final(head, facts);
}

Result<void> ServerConnection::send_informational(const ResponseHead& head) {
  if (head.status == 101) {
    // RFC 9110 §15.2.2: switching protocols answers an Upgrade request, once it is complete.
    if (!request_is_upgrade_) {
      return local(Errc::invalid_status, "101 answers only an upgrade request");
    }
    if (their_state_ != State::done) {
      return local(Errc::send_out_of_order, "101 before the upgrade request was complete");
    }
  } else if (request_version_ == Version::http10) {
    // RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client." Dropped.
    return ok();
  }
  std::string& out = writable_tail();
  const std::size_t before = out.size();
  append_status_line(out, head);
  for (const Header& h : head.headers) append_header(out, h.name, h.value);
  out.append("\r\n");
  pending_bytes_ += out.size() - before;
  if (head.status == 100) continue_pending_ = false;
  if (head.status == 101) our_state_ = their_state_ = State::switched_protocol;
  return ok();
}

Result<void> ServerConnection::send_final(const ResponseHead& head, const HeadFacts& facts) {
  const RequestFacts request{request_version_, request_is_head_, keep_alive_, close_requested_,
                             continue_pending_ && their_state_ == State::send_body};
  const ResponseFacts response{head.status, facts.content_length, facts.transfer_encoding,
                               facts.app_close};
  framing_ = decide_framing(request, response);

  std::string& out = writable_tail();
  const std::size_t before = out.size();
  append_status_line(out, head);
  if (options_.date_header && !facts.has_date && !date_.empty()) append_header(out, "date", date_);
  if (!options_.server_header.empty() && !facts.has_server) {
    append_header(out, "server", options_.server_header);
  }
  for (const Header& h : head.headers) {
    if (iequals(h.name, "connection")) continue;  // hop-by-hop: we write our own below
    if (framing_.strip_length_fields &&
        (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding"))) {
      continue;
    }
    append_header(out, h.name, h.value);
  }
  if (framing_.add_chunked_field) out.append("transfer-encoding: chunked\r\n");
  if (!framing_.keep_alive) {
    out.append("connection: close\r\n");
  } else if (request_version_ == Version::http10) {
    out.append("connection: keep-alive\r\n");
  }
  out.append("\r\n");
  pending_bytes_ += out.size() - before;

  keep_alive_ = framing_.keep_alive;
  continue_pending_ = false;
  body_sent_ = 0;
  our_state_ = State::send_body;
  return ok();
}

Result<void> ServerConnection::send_data(std::string_view bytes, Hold hold) {
  if (our_state_ != State::send_body) {
    return local(Errc::send_out_of_order, "body sent outside a response");
  }
  switch (framing_.body) {
    case BodyFraming::none: break;  // HEAD, 204, 304: the body is not sent (RFC 9110 §9.3.2)
    case BodyFraming::content_length:
      if (bytes.size() > framing_.length - body_sent_) {
        our_state_ = State::error;
        keep_alive_ = false;
        return local(Errc::body_exceeds_content_length, "more body than Content-Length says");
      }
      push_body(bytes, std::move(hold));
      break;
    case BodyFraming::chunked: {
      if (bytes.empty()) break;  // an empty chunk would end the body
      std::string& out = writable_tail();
      const std::size_t before = out.size();
      append_hex(out, bytes.size());
      out.append("\r\n");
      pending_bytes_ += out.size() - before;
      push_body(bytes, std::move(hold));
      append("\r\n");
      break;
    }
    case BodyFraming::until_close: push_body(bytes, std::move(hold)); break;
  }
  body_sent_ += bytes.size();
  return ok();
}

Result<void> ServerConnection::send_data_written(std::size_t n) {
  if (our_state_ != State::send_body || pending_bytes_ != 0 ||
      (framing_.body != BodyFraming::content_length && framing_.body != BodyFraming::until_close)) {
    return local(Errc::send_out_of_order,
                 "body written past the output queue while it is framed, queued or not sent");
  }
  if (framing_.body == BodyFraming::content_length && n > framing_.length - body_sent_) {
    our_state_ = State::error;
    keep_alive_ = false;
    return local(Errc::body_exceeds_content_length, "more body than Content-Length says");
  }
  body_sent_ += n;
  return ok();
}

Result<void> ServerConnection::send_end(std::span<const Header> trailers) {
  if (our_state_ != State::send_body) {
    return local(Errc::send_out_of_order, "end of a response that was not started");
  }
  if (framing_.body == BodyFraming::content_length && body_sent_ < framing_.length) {
    our_state_ = State::error;
    keep_alive_ = false;
    return local(Errc::body_shorter_than_content_length, "less body than Content-Length says");
  }
  if (framing_.body == BodyFraming::chunked) {
    LANCET_TRY(validate_fields(trailers));
    std::string& out = writable_tail();
    const std::size_t before = out.size();
    out.append("0\r\n");
    for (const Header& h : trailers) append_header(out, h.name, h.value);
    out.append("\r\n");
    pending_bytes_ += out.size() - before;
  }
  our_state_ = keep_alive_ ? State::done : State::must_close;
  return ok();
}

void ServerConnection::send_error_response(const Error& error) {
  keep_alive_ = false;
  if (our_state_ != State::idle) {
    if (our_state_ != State::switched_protocol) our_state_ = State::must_close;
    return;
  }
  ResponseHead head;
  head.status = error.http_status_hint != 0 ? error.http_status_hint : 500;
  std::string body = error.detail;
  body += '\n';
  std::string& out = writable_tail();
  const std::size_t before = out.size();
  append_status_line(out, head);
  if (options_.date_header && !date_.empty()) append_header(out, "date", date_);
  if (!options_.server_header.empty()) append_header(out, "server", options_.server_header);
  out.append("content-type: text/plain; charset=utf-8\r\ncontent-length: ");
  out.append(std::to_string(body.size()));
  out.append("\r\nconnection: close\r\n\r\n");
  if (!(request_is_head_ && their_state_ != State::idle)) out.append(body);
  pending_bytes_ += out.size() - before;
  our_state_ = State::must_close;
}

std::size_t ServerConnection::pending_output(std::span<std::string_view> out) const {
  std::size_t n = 0;
  for (auto it = out_.begin(); it != out_.end() && n < out.size(); ++it) {
    if (!it->view().empty()) out[n++] = it->view();
  }
  return n;
}

void ServerConnection::consume_output(std::size_t n) {
  LANCET_ASSERT(n <= pending_bytes_, "consumed more output than pending");
  pending_bytes_ -= n;
  while (n > 0 && !out_.empty()) {
    Segment& front = out_.front();
    const std::size_t left = front.view().size();
    if (n < left) {
      front.offset += n;
      return;
    }
    n -= left;
    pop_front_segment();
  }
  while (!out_.empty() && out_.front().view().empty()) pop_front_segment();
}

void ServerConnection::pop_front_segment() {
  Segment& front = out_.front();
  if (!front.is_borrowed && front.owned.capacity() <= kSpareMax &&
      front.owned.capacity() > spare_.capacity()) {
    front.owned.clear();
    spare_.swap(front.owned);
  }
  out_.pop_front();
}

std::string ServerConnection::take_output() {
  std::string out;
  out.reserve(pending_bytes_);
  for (const Segment& s : out_) out.append(s.view());
  consume_output(pending_bytes_);
  return out;
}

// ---- cycle ------------------------------------------------------------------------------------

Result<void> ServerConnection::start_next_cycle() {
  if (our_state_ != State::done || their_state_ != State::done || !keep_alive_ || has_error_) {
    return local(Errc::cycle_not_done, "both sides must finish a kept-alive cycle first");
  }
  parser_->start_next_message();
  our_state_ = their_state_ = State::idle;
  request_is_head_ = request_is_upgrade_ = continue_pending_ = false;
  request_version_ = Version::http11;
  framing_ = {};
  body_sent_ = 0;
  keep_alive_ = !close_requested_;
  return ok();
}

void ServerConnection::set_date(std::string_view imf_fixdate) { date_.assign(imf_fixdate); }

bool ServerConnection::wants_read() const noexcept {
  if (eof_ || has_error_) return false;
  switch (their_state_) {
    case State::idle:
    case State::send_body: return true;
    case State::done: return unparsed_bytes() < options_.limits.max_pipelined_bytes;
    default: return false;
  }
}

bool ServerConnection::should_close() const noexcept {
  return our_state_ == State::must_close || our_state_ == State::error ||
         their_state_ == State::closed || (has_error_ && our_state_ != State::send_body);
}

std::string_view ServerConnection::trailing_data() const noexcept { return unparsed(); }

}  // namespace lancet::http1
