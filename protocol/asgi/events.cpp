// See events.hpp. Messages follow uvicorn's tone: say what was expected and what came.
#include "protocol/asgi/events.hpp"

#include "protocol/http1/syntax.hpp"

namespace lancet::asgi {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

Result<void> validate_start(const HttpResponseStart& start) {
  if (start.status >= 100 && start.status <= 199) {
    return unexpected(make_local_error(
        Errc::invalid_status,
        "expected 'status' of a final response (200..599) in 'http.response.start', got a 1xx "
        "status: interim responses are not ASGI messages"));
  }
  if (start.status < 200 || start.status > 599) {
    return unexpected(make_local_error(
        Errc::invalid_status,
        "expected 'status' to be an integer from 200 to 599 in 'http.response.start', got a "
        "value out of range"));
  }
  return validate_headers(start.headers);
}

Result<void> validate_pathsend(const HttpResponsePathsend& pathsend) {
  if (pathsend.path.empty() || pathsend.path.front() != '/') {
    return unexpected(make_local_error(
        Errc::invalid_event_field,
        "expected 'path' of 'http.response.pathsend' to be an absolute path, got a relative or "
        "empty one"));
  }
  if (pathsend.path.find('\0') != std::string_view::npos) {
    return unexpected(make_local_error(
        Errc::invalid_event_field,
        "expected 'path' of 'http.response.pathsend' without NUL characters, got one"));
  }
  return ok();
}

}  // namespace

std::string_view event_type(const ReceiveEvent& event) noexcept {
  return std::holds_alternative<HttpRequest>(event) ? "http.request" : "http.disconnect";
}

std::string_view event_type(const SendEvent& event) noexcept {
  switch (event.index()) {
    case 0: return "http.response.start";
    case 1: return "http.response.body";
    case 2: return "http.response.trailers";
    default: return "http.response.pathsend";
  }
}

bool equal_headers(std::span<const http1::Header> a, std::span<const http1::Header> b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  }
  return true;
}

bool operator==(const HttpResponseStart& a, const HttpResponseStart& b) noexcept {
  return a.status == b.status && a.trailers == b.trailers && equal_headers(a.headers, b.headers);
}

bool operator==(const HttpResponseBody& a, const HttpResponseBody& b) noexcept {
  return a.body == b.body && a.more_body == b.more_body;
}

bool operator==(const HttpResponseTrailers& a, const HttpResponseTrailers& b) noexcept {
  return a.more_trailers == b.more_trailers && equal_headers(a.headers, b.headers);
}

bool operator==(const HttpResponsePathsend& a, const HttpResponsePathsend& b) noexcept {
  return a.path == b.path;
}

Result<void> validate_headers(std::span<const http1::Header> headers) {
  for (const http1::Header& header : headers) {
    if (!http1::is_token(header.name)) {
      return unexpected(make_local_error(
          Errc::invalid_response_header_name,
          "expected header names to be RFC 9110 tokens, got an empty name or one with a "
          "character outside tchar"));
    }
    if (!http1::is_field_value(header.value)) {
      return unexpected(make_local_error(
          Errc::invalid_response_header_value,
          "expected header values without CR, LF, NUL or other control characters, got one"));
    }
  }
  return ok();
}

Result<void> validate_send_event(const SendEvent& event) {
  return std::visit(Overloaded{
                        [](const HttpResponseStart& e) { return validate_start(e); },
                        [](const HttpResponseBody&) { return ok(); },
                        [](const HttpResponseTrailers& e) { return validate_headers(e.headers); },
                        [](const HttpResponsePathsend& e) { return validate_pathsend(e); },
                    },
                    event);
}

}  // namespace lancet::asgi
