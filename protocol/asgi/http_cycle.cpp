// See http_cycle.hpp and http_cycle.md.
#include "protocol/asgi/http_cycle.hpp"

#include <charconv>

#include "protocol/http1/syntax.hpp"

namespace lancet::asgi {
namespace {

// Index of each send event kind in SendEvent; the order tables below rely on it.
constexpr std::size_t kStart = 0;
constexpr std::size_t kBody = 1;
constexpr std::size_t kTrailers = 2;

// [expected][got]: the unexpected_event message. Entries where expected == got never occur.
constexpr const char* kOrderMessages[3][4] = {
    {"", "expected 'http.response.start', got 'http.response.body'",
     "expected 'http.response.start', got 'http.response.trailers'",
     "expected 'http.response.start', got 'http.response.pathsend'"},
    {"expected 'http.response.body', got 'http.response.start'", "",
     "expected 'http.response.body', got 'http.response.trailers'",
     "expected 'http.response.body', got 'http.response.pathsend'"},
    {"expected 'http.response.trailers', got 'http.response.start'",
     "expected 'http.response.trailers', got 'http.response.body'", "",
     "expected 'http.response.trailers', got 'http.response.pathsend'"},
};

// [got]: the event_after_response message.
constexpr const char* kAfterMessages[4] = {
    "unexpected 'http.response.start' after the response completed",
    "unexpected 'http.response.body' after the response completed",
    "unexpected 'http.response.trailers' after the response completed",
    "unexpected 'http.response.pathsend' after the response completed",
};

constexpr std::string_view kErrorBody = "Internal Server Error";
constexpr std::array<http1::Header, 3> kErrorHeaders{{
    {"content-type", "text/plain; charset=utf-8"},
    {"content-length", "21"},
    {"connection", "close"},
}};
static_assert(kErrorBody.size() == 21);

unexpected out_of_order(std::size_t expected, std::size_t got) noexcept {
  return unexpected(make_local_error(Errc::unexpected_event, kOrderMessages[expected][got]));
}

unexpected after_response(std::size_t got) noexcept {
  return unexpected(make_local_error(Errc::event_after_response, kAfterMessages[got]));
}

}  // namespace

// ---- Actions ---------------------------------------------------------------------------------

void Actions::push(Action action) noexcept {
  LANCET_ASSERT(size_ < kCapacity, "an HttpCycle call produced more than kCapacity actions");
  if (size_ < kCapacity) items_[size_++] = action;
}

std::string_view action_name(const Action& action) noexcept {
  switch (action.index()) {
    case 0: return "send_head";
    case 1: return "send_data";
    case 2: return "send_end";
    case 3: return "send_file";
    default: return "abort";
  }
}

std::string_view to_string(ResponseState state) noexcept {
  switch (state) {
    case ResponseState::awaiting_start: return "awaiting_start";
    case ResponseState::awaiting_body: return "awaiting_body";
    case ResponseState::awaiting_trailers: return "awaiting_trailers";
    case ResponseState::done: return "done";
  }
  return "unknown";
}

Error make_disconnect_error() noexcept {
  return Error{Errc::client_disconnected, Origin::remote, 0, 0, "client disconnected"};
}

bool is_disconnect_error(const Error& error) noexcept {
  return error.code == Errc::client_disconnected;
}

CycleOptions HttpCycle::options_for(const http1::RequestHead& head) noexcept {
  CycleOptions options;
  options.head_request = head.method == "HEAD";
  return options;
}

// ---- HeaderStore -----------------------------------------------------------------------------

namespace detail {

void HeaderStore::append(std::string_view name, std::string_view value) {
  Slice slice{bytes_.size(), name.size(), bytes_.size() + name.size(), value.size()};
  bytes_.insert(bytes_.end(), name.begin(), name.end());
  bytes_.insert(bytes_.end(), value.begin(), value.end());
  slices_.push_back(slice);
}

void HeaderStore::append(std::span<const http1::Header> headers) {
  std::size_t total = 0;
  for (const http1::Header& header : headers) total += header.name.size() + header.value.size();
  bytes_.reserve(bytes_.size() + total);
  slices_.reserve(slices_.size() + headers.size());
  for (const http1::Header& header : headers) append(header.name, header.value);
}

std::span<const http1::Header> HeaderStore::view() {
  const std::string_view all(bytes_.data(), bytes_.size());
  views_.clear();
  views_.reserve(slices_.size());
  for (const Slice& s : slices_) {
    views_.push_back({all.substr(s.name_at, s.name_len), all.substr(s.value_at, s.value_len)});
  }
  return views_;
}

bool HeaderStore::has(std::string_view name) const noexcept {
  const std::string_view all(bytes_.data(), bytes_.size());
  for (const Slice& s : slices_) {
    if (http1::iequals(all.substr(s.name_at, s.name_len), name)) return true;
  }
  return false;
}

}  // namespace detail

// ---- send side -------------------------------------------------------------------------------

Result<Actions> HttpCycle::on_app_send(const SendEvent& event) {
  if (disconnected_) return unexpected(make_disconnect_error());
  switch (event.index()) {
    case kStart: return on_start(std::get<HttpResponseStart>(event));
    case kBody: return on_body_event(std::get<HttpResponseBody>(event));
    case kTrailers: return on_trailers(std::get<HttpResponseTrailers>(event));
    default: return on_pathsend(std::get<HttpResponsePathsend>(event));
  }
}

Result<Actions> HttpCycle::on_start(const HttpResponseStart& start) {
  if (state_ == ResponseState::done) return after_response(kStart);
  if (state_ == ResponseState::awaiting_body) return out_of_order(kBody, kStart);
  if (state_ == ResponseState::awaiting_trailers) return out_of_order(kTrailers, kStart);
  LANCET_TRY(validate_send_event(start));
  Actions actions;
  // validate_send_event guarantees 200..599.
  auto status = static_cast<std::uint16_t>(start.status);
  trailers_announced_ = start.trailers;
  state_ = ResponseState::awaiting_body;
  if (options_.hold_back_start) {
    held_status_ = status;
    held_headers_.append(start.headers);
    start_held_ = true;
  } else {
    actions.push(SendHead{status, start.headers});
    wire_touched_ = true;
  }
  return actions;
}

Result<Actions> HttpCycle::on_body_event(const HttpResponseBody& body) {
  if (state_ == ResponseState::done) return after_response(kBody);
  if (state_ == ResponseState::awaiting_start) return out_of_order(kStart, kBody);
  if (state_ == ResponseState::awaiting_trailers) return out_of_order(kTrailers, kBody);
  Actions actions;
  std::optional<std::size_t> final_length;
  if (!body.more_body) final_length = body.body.size();
  release_start(actions, final_length);
  if (!body.body.empty()) actions.push(SendData{body.body});
  body_started_ = true;
  if (!body.more_body) finish_body(actions);
  return actions;
}

Result<Actions> HttpCycle::on_trailers(const HttpResponseTrailers& trailers) {
  if (state_ == ResponseState::done) return after_response(kTrailers);
  if (state_ == ResponseState::awaiting_start) return out_of_order(kStart, kTrailers);
  if (!trailers_announced_) {
    return unexpected(make_local_error(
        Errc::trailers_not_announced,
        "unexpected 'http.response.trailers': 'http.response.start' did not set trailers=true"));
  }
  if (state_ == ResponseState::awaiting_body) return out_of_order(kBody, kTrailers);
  LANCET_TRY(validate_send_event(trailers));
  Actions actions;
  if (trailers.more_trailers) {
    trailers_.append(trailers.headers);
    return actions;
  }
  if (trailers_.empty()) {
    actions.push(SendEnd{trailers.headers});  // the common case: one event, no copy
  } else {
    trailers_.append(trailers.headers);
    actions.push(SendEnd{trailers_.view()});
  }
  state_ = ResponseState::done;
  return actions;
}

Result<Actions> HttpCycle::on_pathsend(const HttpResponsePathsend& pathsend) {
  constexpr std::size_t kPathsend = 3;
  if (state_ == ResponseState::done) return after_response(kPathsend);
  if (state_ == ResponseState::awaiting_start) return out_of_order(kStart, kPathsend);
  if (state_ == ResponseState::awaiting_trailers) return out_of_order(kTrailers, kPathsend);
  // The file is the whole body: it cannot follow body bytes already sent.
  if (body_started_) return out_of_order(kBody, kPathsend);
  LANCET_TRY(validate_send_event(pathsend));
  Actions actions;
  release_start(actions, std::nullopt);  // the length is the backend's to find (stat)
  actions.push(SendFile{pathsend.path});
  body_started_ = true;
  finish_body(actions);
  return actions;
}

bool HttpCycle::wants_content_length() const noexcept {
  // RFC 9110 §8.6: no Content-Length in a 204; for a 304 or a HEAD response it would have to
  // describe the representation, which only the app knows. Trailers need chunked framing.
  return !options_.head_request && !trailers_announced_ && held_status_ != 204 &&
         held_status_ != 304 && !held_headers_.has("content-length") &&
         !held_headers_.has("transfer-encoding");
}

void HttpCycle::release_start(Actions& actions, std::optional<std::size_t> final_length) {
  if (!start_held_) return;
  start_held_ = false;
  if (final_length && wants_content_length()) {
    char digits[24];
    std::to_chars_result written = std::to_chars(digits, digits + sizeof digits, *final_length);
    held_headers_.append("content-length", std::string_view(digits, written.ptr));
  }
  actions.push(SendHead{held_status_, held_headers_.view()});
  wire_touched_ = true;
}

void HttpCycle::finish_body(Actions& actions) {
  if (trailers_announced_) {
    state_ = ResponseState::awaiting_trailers;
  } else {
    actions.push(SendEnd{});
    state_ = ResponseState::done;
  }
}

Actions HttpCycle::on_app_exit(Outcome /*outcome*/) {
  // uvicorn answers "returned without starting" and "raised" alike; the outcome only matters
  // to the bridge's log line.
  Actions actions;
  if (state_ == ResponseState::done) return actions;
  state_ = ResponseState::done;
  start_held_ = false;
  if (disconnected_ || wire_touched_) {
    actions.push(Abort{});
    return actions;
  }
  actions.push(SendHead{500, kErrorHeaders});
  actions.push(SendData{kErrorBody});
  actions.push(SendEnd{});
  wire_touched_ = true;
  return actions;
}

// ---- receive side ----------------------------------------------------------------------------

void HttpCycle::on_body(std::string_view bytes, bool more_body) {
  take_body(std::string(bytes), more_body);
}

void HttpCycle::take_body(std::string&& bytes, bool more_body) {
  if (request_complete_ || disconnected_) return;
  if (!more_body) request_complete_ = true;
  if (!pending_) {
    if (bytes.empty() && more_body) return;
    pending_.emplace();
  }
  pending_->more_body = more_body;
  if (bytes.empty()) return;
  pending_bytes_ += bytes.size();
  pending_->bytes += bytes.size();
  std::vector<std::string>& pieces = pending_->pieces;
  if (pending_->held) {  // bytes behind held ones: both become pieces, in order
    pieces.emplace_back(pending_->held_bytes);
    pending_->held.reset();
    pending_->held_bytes = {};
  }
  if (!pieces.empty() && pieces.back().size() + bytes.size() <= kMergeBodyPieceBytes) {
    pieces.back().append(bytes);
  } else {
    pieces.push_back(std::move(bytes));
  }
}

void HttpCycle::take_held(std::string_view bytes, std::shared_ptr<const void> hold,
                          bool more_body) {
  if (request_complete_ || disconnected_) return;
  if (bytes.empty() || (pending_ && (!pending_->pieces.empty() || pending_->held))) {
    take_body(std::string(bytes), more_body);
    return;
  }
  if (!more_body) request_complete_ = true;
  if (!pending_) pending_.emplace();
  pending_->more_body = more_body;
  pending_bytes_ += bytes.size();
  pending_->bytes += bytes.size();
  pending_->held = std::move(hold);
  pending_->held_bytes = bytes;
}

std::optional<ReceiveParts> HttpCycle::next_receive_parts() {
  if (disconnected_ || state_ == ResponseState::done) return ReceiveParts{HttpDisconnect{}};
  if (!pending_) return std::nullopt;
  ReceiveParts parts{std::move(*pending_)};
  pending_.reset();
  pending_bytes_ = 0;
  return parts;
}

std::optional<ReceiveEvent> HttpCycle::next_receive() {
  std::optional<ReceiveParts> parts = next_receive_parts();
  if (!parts) return std::nullopt;
  auto* request = std::get_if<RequestParts>(&*parts);
  if (request == nullptr) return ReceiveEvent{HttpDisconnect{}};
  HttpRequest event{{}, request->more_body};
  if (request->held) {
    event.body.assign(request->held_bytes);
  } else if (request->pieces.size() == 1) {
    event.body = std::move(request->pieces.front());
  } else {
    event.body.reserve(request->bytes);
    for (const std::string& piece : request->pieces) event.body.append(piece);
  }
  return ReceiveEvent{std::move(event)};
}

}  // namespace lancet::asgi
