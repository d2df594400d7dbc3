// The llhttp adapter. See parser.hpp for the theory of operation.
#include "protocol/http1/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "protocol/http1/syntax.hpp"

namespace lancet::http1 {
namespace {

RequestParser& self(llhttp_t* p) { return *static_cast<RequestParser*>(p->data); }
std::string_view span(const char* at, std::size_t n) { return {at, n}; }

int cb_message_begin(llhttp_t* p) { return self(p).on_message_begin(); }
int cb_method(llhttp_t* p, const char* at, std::size_t n) { return self(p).on_method(span(at, n)); }
int cb_url(llhttp_t* p, const char* at, std::size_t n) { return self(p).on_url(span(at, n)); }
int cb_method_complete(llhttp_t* p) { return self(p).on_method_complete(); }
int cb_url_complete(llhttp_t* p) { return self(p).on_url_complete(); }
int cb_version(llhttp_t* p, const char* at, std::size_t n) {
  return self(p).on_version(span(at, n));
}
int cb_header_field(llhttp_t* p, const char* at, std::size_t n) {
  return self(p).on_header_field(span(at, n));
}
int cb_header_value(llhttp_t* p, const char* at, std::size_t n) {
  return self(p).on_header_value(span(at, n));
}
int cb_header_value_complete(llhttp_t* p) { return self(p).on_header_value_complete(); }
int cb_headers_complete(llhttp_t* p) { return self(p).on_headers_complete(); }
int cb_body(llhttp_t* p, const char* at, std::size_t n) { return self(p).on_body(span(at, n)); }
int cb_chunk_header(llhttp_t* p) { return self(p).on_chunk_header(); }
int cb_message_complete(llhttp_t* p) { return self(p).on_message_complete(); }

// RFC 3986 reg-name / IP-literal / port characters: what a Host value may contain.
bool is_host_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("-._~!$&'()*+,;=:[]%", c) != nullptr && c != 0;
}

bool is_valid_host(std::string_view v) {
  for (char c : v) {
    if (!is_host_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool starts_with_scheme(std::string_view target) {
  auto colon = target.find("://");
  if (colon == std::string_view::npos) return false;
  auto scheme = target.substr(0, colon);
  return iequals(scheme, "http") || iequals(scheme, "https");
}

}  // namespace

RequestParser::RequestParser(const Limits& limits, const Leniency& lenient) : limits_(limits) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = cb_message_begin;
  settings_.on_method = cb_method;
  settings_.on_url = cb_url;
  settings_.on_version = cb_version;
  settings_.on_method_complete = cb_method_complete;
  settings_.on_url_complete = cb_url_complete;
  settings_.on_header_field = cb_header_field;
  settings_.on_header_value = cb_header_value;
  settings_.on_header_value_complete = cb_header_value_complete;
  settings_.on_headers_complete = cb_headers_complete;
  settings_.on_body = cb_body;
  settings_.on_chunk_header = cb_chunk_header;
  settings_.on_message_complete = cb_message_complete;
  llhttp_init(&llhttp_, HTTP_REQUEST, &settings_);
  llhttp_.data = this;
  if (lenient.headers) llhttp_set_lenient_headers(&llhttp_, 1);
  if (lenient.chunked_length) llhttp_set_lenient_chunked_length(&llhttp_, 1);
  if (lenient.keep_alive) llhttp_set_lenient_keep_alive(&llhttp_, 1);
  if (lenient.transfer_encoding) llhttp_set_lenient_transfer_encoding(&llhttp_, 1);
}

// ---- driving llhttp ---------------------------------------------------------------------------

RequestParser::Step RequestParser::execute(std::string_view input) {
  if (phase_ == Phase::failed) return {StepKind::error, 0, {}};
  if (phase_ == Phase::complete) return {StepKind::need_data, 0, {}};
  if (phase_ == Phase::method_pending) return decide_method(input, 0);
  std::size_t total = 0;
  bool stepped_empty = false;  // llhttp may need one call without bytes to finish a message
  for (;;) {
    std::string_view rest = input.substr(total);
    const Phase before = phase_;
    std::size_t* fed = before == Phase::head       ? &head_fed_
                       : before == Phase::trailers ? &trailer_fed_
                                                   : nullptr;
    std::string_view window = rest;
    if (fed != nullptr) window = rest.substr(0, limits_.max_head_bytes - *fed);
    // Inside the request-target, llhttp gets at most one byte more than the target may still
    // take: on_url (called when the span ends, at the latest at the end of this execute()) then
    // sees the limit passed at exactly that byte, before anything later is looked at, so the
    // error does not depend on how the input was split.
    if (before == Phase::head && in_target_) {
      const std::size_t room = limits_.max_target_bytes - url_len_;
      window = window.substr(0, room == SIZE_MAX ? room : room + 1);
    }
    if (window.empty() && !rest.empty()) {
      return fail(make_remote_error(Errc::head_too_large, before == Phase::head
                                                              ? "request head too large"
                                                              : "trailer section too large"),
                  total);
    }
    if (window.empty()) {
      if (stepped_empty) return {StepKind::need_data, total, {}};
      stepped_empty = true;
    }
    pending_ = StepKind::need_data;
    callback_failed_ = false;
    const llhttp_errno_t err = llhttp_execute(&llhttp_, window.data(), window.size());
    std::size_t used = window.size();
    if (err != HPE_OK) {
      const char* pos = llhttp_get_error_pos(&llhttp_);
      used = (pos >= window.data() && pos <= window.data() + window.size())
                 ? static_cast<std::size_t>(pos - window.data())
                 : 0;
    }
    if (before == Phase::head && line_start_.size() < kLineStartBytes) {
      line_start_.append(window.substr(0, std::min(used, kLineStartBytes - line_start_.size())));
    }
    if (fed != nullptr) {
      *fed += used;
      // Exactly the bytes llhttp consumed: its error position does not depend on the split, so
      // neither does what the scan finds (it never looks at the byte llhttp stopped on).
      if (!scan_head_bytes(window.substr(0, used))) return fail(error_, total + used);
    }
    total += used;
    if (err == HPE_OK) {
      if (window.empty()) return {StepKind::need_data, total, {}};
      continue;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
      if (err == HPE_PAUSED) {
        llhttp_resume(&llhttp_);
      } else {
        llhttp_resume_after_upgrade(&llhttp_);
      }
      if (pending_ == StepKind::need_data) continue;  // a silent pause (last chunk)
      return {pending_, total, pending_ == StepKind::data ? body_span_ : std::string_view{}};
    }
    return map_llhttp_error(err, input, total);
  }
}

// llhttp knows a fixed set of methods and stops at the first byte that leaves it. A well-formed
// token it does not know is 501 (RFC 9110 §9.1: "An origin server that receives a request
// method that is unrecognized or not implemented SHOULD respond with the 501"); anything else
// is 400. Which one needs the whole method, which may not have arrived yet: until the SP is
// seen, the bytes after the stop stay unconsumed, so the answer does not depend on how the
// input was split.
RequestParser::Step RequestParser::decide_method(std::string_view rest, std::size_t consumed) {
  std::string line = line_start_;
  line.append(rest.substr(0, kLineStartBytes));
  std::string_view candidate(line);
  while (!candidate.empty() && (candidate.front() == '\r' || candidate.front() == '\n')) {
    candidate.remove_prefix(1);
  }
  const auto sp = candidate.find(' ');
  const auto method = candidate.substr(0, sp);
  if (sp != std::string_view::npos || !is_token(method) || line.size() >= 2 * kLineStartBytes) {
    const bool known_shape = sp != std::string_view::npos && is_token(method);
    return fail(known_shape
                    ? make_remote_error(Errc::method_not_implemented, "method not implemented")
                    : make_remote_error(Errc::invalid_method, "invalid method"),
                consumed);
  }
  return {StepKind::need_data, consumed, {}};
}

RequestParser::Step RequestParser::finish() {
  if (phase_ == Phase::failed) return {StepKind::error, 0, {}};
  if (phase_ == Phase::complete || at_message_start()) return {StepKind::need_data, 0, {}};
  return fail(make_remote_error(Errc::incomplete_request, "connection closed mid-request"), 0);
}

void RequestParser::start_next_message() {
  if (phase_ == Phase::failed) return;
  phase_ = Phase::head;
  pending_ = StepKind::need_data;
  head_fed_ = trailer_fed_ = 0;
  scan_prev_ = 0;
  body_seen_ = 0;
  storage_.clear();
  method_len_ = url_at_ = url_len_ = 0;
  version_.clear();
  line_start_.clear();
  in_target_ = false;
  fields_.clear();
  trailer_storage_.clear();
  trailer_fields_.clear();
  field_open_ = value_open_ = false;
  current_ = {};
  headers_.clear();
  trailers_.clear();
  head_ = {};
}

RequestParser::Step RequestParser::fail(const Error& e, std::size_t consumed) {
  error_ = e;
  phase_ = Phase::failed;
  return {StepKind::error, consumed, {}};
}

int RequestParser::fail_in_callback(const Error& e) noexcept {
  error_ = e;
  callback_failed_ = true;
  return HPE_USER;
}

// RFC 9112 forbids what llhttp 8.1.0 lets through: a bare CR (§2.2, CVE-2023-30589), a bare LF
// in the head (we do not take §2.2's MAY of accepting it), obs-fold (§5.2, CVE-2024-27982) and
// NUL (RFC 9110 §5.5). `bytes` are exactly the head or trailer bytes llhttp consumed.
bool RequestParser::scan_head_bytes(std::string_view bytes) {
  // Only NUL, CR, LF and the byte after a CR or LF can break a rule: the bytes between are
  // skipped with one table lookup each.
  static constexpr auto kStops = [] {
    std::array<bool, 256> t{};
    t[0] = t['\r'] = t['\n'] = true;
    return t;
  }();
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  unsigned char prev = scan_prev_;
  while (p != end) {
    if (prev != '\r' && prev != '\n') {
      // `prev` stays as it is: any byte skipped is as ordinary as it.
      while (p != end && !kStops[static_cast<unsigned char>(*p)]) ++p;
      if (p == end) break;
    }
    const auto c = static_cast<unsigned char>(*p++);
    if (c == 0) {
      error_ = make_remote_error(Errc::nul_byte, "NUL byte in request head");
      return false;
    }
    if (prev == '\r' && c != '\n') {
      error_ = make_remote_error(Errc::bare_cr, "CR not followed by LF");
      return false;
    }
    if (c == '\n' && prev != '\r') {
      error_ = make_remote_error(Errc::bare_lf, "LF without CR in request head");
      return false;
    }
    if (prev == '\n' && (c == ' ' || c == '\t')) {
      error_ = make_remote_error(Errc::obs_fold, "obsolete line folding is not allowed");
      return false;
    }
    prev = c;
  }
  scan_prev_ = prev;
  return true;
}

RequestParser::Step RequestParser::map_llhttp_error(llhttp_errno_t err, std::string_view input,
                                                    std::size_t consumed) {
  const char* reason = llhttp_get_error_reason(&llhttp_);
  if (reason == nullptr) reason = "malformed request";
  const std::string_view rest = input.substr(consumed);
  // A callback of ours refused: llhttp reports HPE_USER or HPE_CB_<name>; ours is in error_.
  if (callback_failed_) return fail(error_, consumed);
  switch (err) {
    case HPE_INVALID_METHOD:
      phase_ = Phase::method_pending;
      return decide_method(rest, consumed);
    case HPE_INVALID_URL: return fail(make_remote_error(Errc::invalid_target, reason), consumed);
    case HPE_INVALID_VERSION:
      // llhttp 8.1.0 only knows 0.9, 1.0, 1.1 and 2.0; a well-formed DIGIT "." DIGIT it does not
      // know (HTTP/1.2, HTTP/3.0) is a version we do not support: 505 (RFC 9110 §15.6.6).
      if (std::strcmp(reason, "Invalid HTTP version") == 0 && version_.size() == 3 &&
          version_[0] >= '0' && version_[0] <= '9' && version_[1] == '.' &&
          version_[2] >= '0' && version_[2] <= '9') {
        return fail(make_remote_error(Errc::unsupported_version,
                                      "only HTTP/1.0 and HTTP/1.1 are supported"),
                    consumed);
      }
      return fail(make_remote_error(Errc::invalid_version, reason), consumed);
    case HPE_INVALID_CONSTANT:
      return fail(make_remote_error(Errc::invalid_version, reason), consumed);
    case HPE_INVALID_HEADER_TOKEN: {
      // llhttp checks field bytes eagerly and stops on the offending byte itself: when that is a
      // LF without CR, it is the bare-LF shape our scan reports.
      if (!rest.empty() && rest.front() == '\n' && scan_prev_ != '\r') {
        return fail(make_remote_error(Errc::bare_lf, "LF without CR in request head"), consumed);
      }
      bool value = std::strstr(reason, "value") != nullptr;
      return fail(make_remote_error(value ? Errc::invalid_header_value : Errc::invalid_header_name,
                                    reason),
                  consumed);
    }
    case HPE_INVALID_CONTENT_LENGTH:
      return fail(make_remote_error(Errc::invalid_content_length, reason), consumed);
    case HPE_UNEXPECTED_CONTENT_LENGTH: {
      bool with_te = std::strstr(reason, "Transfer-Encoding") != nullptr;
      return fail(with_te ? make_remote_error(Errc::content_length_and_transfer_encoding,
                                              "Content-Length with Transfer-Encoding")
                          : make_remote_error(Errc::invalid_content_length,
                                              "duplicate Content-Length"),
                  consumed);
    }
    case HPE_INVALID_TRANSFER_ENCODING:
      return fail(make_remote_error(Errc::invalid_transfer_encoding,
                                    "chunked must be the final transfer coding"),
                  consumed);
    default: break;
  }
  if (phase_ == Phase::body) return fail(make_remote_error(Errc::invalid_chunk, reason), consumed);
  if (scan_prev_ == '\r') {  // llhttp stopped after a consumed CR: the shape our scan reports
    return fail(make_remote_error(Errc::bare_cr, "CR not followed by LF"), consumed);
  }
  return fail(make_remote_error(Errc::bad_request, reason), consumed);
}

// ---- callbacks: the head --------------------------------------------------------------------

int RequestParser::on_message_begin() noexcept { return HPE_OK; }

int RequestParser::on_method(std::string_view s) noexcept {
  storage_.append(s);
  method_len_ += s.size();
  return HPE_OK;
}

int RequestParser::on_method_complete() noexcept {
  in_target_ = true;  // a silent pause: execute() narrows its window for the target
  pending_ = StepKind::need_data;
  return HPE_PAUSED;
}

int RequestParser::on_url_complete() noexcept {
  in_target_ = false;
  return HPE_OK;
}

int RequestParser::on_version(std::string_view s) noexcept {
  if (version_.size() + s.size() <= 8) version_.append(s);
  return HPE_OK;
}

int RequestParser::on_url(std::string_view s) noexcept {
  if (url_len_ == 0) url_at_ = storage_.size();
  storage_.append(s);
  url_len_ += s.size();
  if (url_len_ > limits_.max_target_bytes) {
    return fail_in_callback(make_remote_error(Errc::target_too_long, "request-target too long"));
  }
  return HPE_OK;
}

std::string& RequestParser::field_storage() noexcept {
  return phase_ == Phase::trailers ? trailer_storage_ : storage_;
}

int RequestParser::on_header_field(std::string_view s) noexcept {
  std::string& store = field_storage();
  if (!field_open_) {
    current_ = {};
    current_.name_at = store.size();
    field_open_ = true;
  }
  store.append(s);
  current_.name_len += s.size();
  return HPE_OK;
}

int RequestParser::on_header_value(std::string_view s) noexcept {
  std::string& store = field_storage();
  if (!value_open_) {
    current_.value_at = store.size();
    value_open_ = true;
  }
  store.append(s);
  current_.value_len += s.size();
  return HPE_OK;
}

int RequestParser::on_header_value_complete() noexcept {
  std::vector<FieldSpan>& list = phase_ == Phase::trailers ? trailer_fields_ : fields_;
  if (!value_open_) current_.value_at = field_storage().size();
  const bool named = field_open_ && current_.name_len > 0;
  field_open_ = value_open_ = false;
  if (!named) {
    return fail_in_callback(make_remote_error(Errc::empty_header_name, "empty header name"));
  }
  if (list.size() >= limits_.max_header_count) {
    return fail_in_callback(make_remote_error(
        Errc::too_many_headers,
        phase_ == Phase::trailers ? "too many trailer fields" : "too many header fields"));
  }
  list.push_back(current_);
  current_ = {};
  return HPE_OK;
}

int RequestParser::on_headers_complete() noexcept {
  if (int rc = finish_head(); rc != HPE_OK) return rc;
  phase_ = Phase::body;
  pending_ = StepKind::head;
  return HPE_PAUSED;
}

void RequestParser::build_views() {
  auto view = [this](std::size_t at, std::size_t len) {
    return std::string_view(storage_).substr(at, len);
  };
  headers_.clear();
  headers_.reserve(fields_.size());
  for (const FieldSpan& f : fields_) {
    headers_.push_back({view(f.name_at, f.name_len), trim_ows(view(f.value_at, f.value_len))});
  }
  head_.method = view(0, method_len_);
  head_.target = view(url_at_, url_len_);
  head_.headers = headers_;
}

int RequestParser::finish_head() noexcept {
  // llhttp reads a request line without a version as HTTP/0.9; RFC 9112 §3 requires one.
  if (llhttp_.http_major == 0) {
    return fail_in_callback(
        make_remote_error(Errc::invalid_version, "request line without an HTTP version"));
  }
  // RFC 9112 §2.3: only HTTP/1.0 and HTTP/1.1 are spoken here; anything else is 505.
  if (llhttp_.http_major != 1 || llhttp_.http_minor > 1) {
    return fail_in_callback(make_remote_error(Errc::unsupported_version,
                                              "only HTTP/1.0 and HTTP/1.1 are supported"));
  }
  if (llhttp_.method == HTTP_CONNECT) {
    return fail_in_callback(
        make_remote_error(Errc::method_not_implemented, "CONNECT is not supported"));
  }
  build_views();
  head_.version = llhttp_.http_minor == 0 ? Version::http10 : Version::http11;
  // RFC 9112 §3.2: origin-form, absolute-form, asterisk-form (OPTIONS only).
  const std::string_view target = head_.target;
  if (target.find('#') != std::string_view::npos) {
    return fail_in_callback(make_remote_error(Errc::invalid_target, "fragment in request-target"));
  }
  if (!target.empty() && target.front() == '/') {
    head_.target_form = TargetForm::origin;
  } else if (target == "*") {
    if (llhttp_.method != HTTP_OPTIONS) {
      return fail_in_callback(
          make_remote_error(Errc::invalid_target, "asterisk-form is only for OPTIONS"));
    }
    head_.target_form = TargetForm::asterisk;
  } else if (starts_with_scheme(target)) {
    head_.target_form = TargetForm::absolute;
  } else {
    return fail_in_callback(make_remote_error(Errc::invalid_target, "invalid request-target"));
  }
  if (int rc = check_head_fields(); rc != HPE_OK) return rc;
  head_.keep_alive = llhttp_should_keep_alive(&llhttp_) != 0;
  head_.is_upgrade = llhttp_.upgrade != 0;
  head_.chunked = (llhttp_.flags & F_CHUNKED) != 0;
  if ((llhttp_.flags & F_CONTENT_LENGTH) != 0 && !head_.chunked) {
    head_.content_length = llhttp_.content_length;
    if (llhttp_.content_length > limits_.max_body_bytes) {
      return fail_in_callback(make_remote_error(Errc::body_too_large, "request body too large"));
    }
  }
  return HPE_OK;
}

int RequestParser::check_head_fields() noexcept {
  std::size_t hosts = 0;
  std::string codings;
  for (const Header& h : headers_) {
    if (iequals(h.name, "host")) {
      ++hosts;
      if (!is_valid_host(h.value)) {
        return fail_in_callback(make_remote_error(Errc::bad_request, "invalid Host"));
      }
    } else if (iequals(h.name, "transfer-encoding")) {
      if (!codings.empty()) codings += ',';
      codings.append(h.value);
    } else if (iequals(h.name, "expect")) {
      head_.expects_continue = iequals(h.value, "100-continue");
    } else if (iequals(h.name, "upgrade")) {
      head_.upgrade = h.value;
    }
  }
  // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
  // request message that lacks a Host header field and to any request message that contains
  // more than one Host header field line".
  if (hosts > 1) {
    return fail_in_callback(make_remote_error(Errc::duplicate_host, "more than one Host"));
  }
  if (hosts == 0 && llhttp_.http_minor == 1) {
    return fail_in_callback(make_remote_error(Errc::missing_host, "HTTP/1.1 request without Host"));
  }
  if (!codings.empty()) return check_transfer_encoding(codings);
  return HPE_OK;
}

// RFC 9112 §6.1 and §7: the only coding we decode is chunked, applied once, last. A list whose
// final coding is chunked but that has others first is understood but unsupported (501);
// chunked twice, or not last, is malformed (400; llhttp already rejects "not last").
int RequestParser::check_transfer_encoding(std::string_view coding_list) noexcept {
  std::size_t items = 0, chunked = 0;
  std::string_view last;
  while (!coding_list.empty()) {
    auto comma = coding_list.find(',');
    auto item = trim_ows(coding_list.substr(0, comma));
    if (!item.empty()) {
      ++items;
      last = item;
      if (iequals(item, "chunked")) ++chunked;
    }
    if (comma == std::string_view::npos) break;
    coding_list.remove_prefix(comma + 1);
  }
  if (chunked > 1 || !iequals(last, "chunked")) {
    return fail_in_callback(make_remote_error(Errc::invalid_transfer_encoding,
                                              "chunked must be the final coding, applied once"));
  }
  if (items > 1) {
    return fail_in_callback(make_remote_error(Errc::unsupported_transfer_encoding,
                                              "only the chunked transfer coding is supported"));
  }
  // Our reading and llhttp's must agree, whatever leniency is on: a coding llhttp does not
  // frame as chunked (e.g. "chunked<TAB>") would otherwise let the body run to EOF.
  if ((llhttp_.flags & F_CHUNKED) == 0) {
    return fail_in_callback(make_remote_error(Errc::invalid_transfer_encoding,
                                              "Transfer-Encoding is not a plain 'chunked'"));
  }
  return HPE_OK;
}

// ---- callbacks: the body --------------------------------------------------------------------

int RequestParser::on_body(std::string_view s) noexcept {
  // llhttp flushes an open span at the end of every execute(), even an empty one: an empty
  // span is no event (else a feed of zero bytes would give Data{""} forever).
  if (s.empty()) return HPE_OK;
  body_seen_ += s.size();
  if (body_seen_ > limits_.max_body_bytes) {
    return fail_in_callback(make_remote_error(Errc::body_too_large, "request body too large"));
  }
  body_span_ = s;
  pending_ = StepKind::data;
  return HPE_PAUSED;
}

int RequestParser::on_chunk_header() noexcept {
  const std::uint64_t size = llhttp_.content_length;
  if (size > limits_.max_body_bytes - body_seen_) {
    return fail_in_callback(make_remote_error(Errc::body_too_large, "request body too large"));
  }
  if (size != 0) return HPE_OK;
  // The last chunk: what follows is the trailer section, scanned and limited like a head.
  phase_ = Phase::trailers;
  scan_prev_ = '\n';
  pending_ = StepKind::need_data;
  return HPE_PAUSED;
}

int RequestParser::on_message_complete() noexcept {
  auto view = [this](std::size_t at, std::size_t len) {
    return std::string_view(trailer_storage_).substr(at, len);
  };
  trailers_.clear();
  for (const FieldSpan& f : trailer_fields_) {
    trailers_.push_back({view(f.name_at, f.name_len), trim_ows(view(f.value_at, f.value_len))});
  }
  phase_ = Phase::complete;
  pending_ = StepKind::message_complete;
  return HPE_PAUSED;
}

}  // namespace lancet::http1
