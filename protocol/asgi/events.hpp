// ASGI 3.0 HTTP events as C++ values: what `receive()` gives the app and what `send()` takes.
//
// Layer: protocol/asgi. Pure data plus the per-event validation (status range, header syntax,
// pathsend path). Order rules (start once, body after start, ...) live in http_cycle.hpp.
//
// Send events hold views: the bridge points them at the app's Python objects (bytes, the header
// list) without copying, and parse_send_event (json.hpp) points them at its own storage. A send
// event is valid as long as whatever its views point into; HttpCycle never keeps a view past
// the on_app_send() call that received it, except through the Actions it returns (see there).
// Receive events own their bytes (the request body arrives in pieces that must outlive the
// http1 connection's buffer).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/result.hpp"
#include "protocol/http1/message.hpp"

namespace lancet::asgi {

// ---- receive events (server -> app) ----------------------------------------------------------

/// `http.request`: a piece of the request body. The last piece has more_body = false.
struct HttpRequest {
  std::string body;
  bool more_body = false;
  friend bool operator==(const HttpRequest&, const HttpRequest&) = default;
};

/// `http.disconnect`: the client went away, or the response is complete (uvicorn 0.17.6).
struct HttpDisconnect {
  friend bool operator==(const HttpDisconnect&, const HttpDisconnect&) = default;
};

using ReceiveEvent = std::variant<HttpRequest, HttpDisconnect>;

/// The message type: "http.request" or "http.disconnect".
std::string_view event_type(const ReceiveEvent& event) noexcept;

// ---- send events (app -> server) -------------------------------------------------------------

/// `http.response.start`. `status` is wide so that an out-of-range value from the app can be
/// reported rather than truncated.
struct HttpResponseStart {
  std::int64_t status = 200;
  std::span<const http1::Header> headers;  ///< as the app gave them: case and order kept
  bool trailers = false;                   ///< an `http.response.trailers` event will follow
};

/// `http.response.body`.
struct HttpResponseBody {
  std::string_view body;
  bool more_body = false;
};

/// `http.response.trailers` (the HTTP trailers extension).
struct HttpResponseTrailers {
  std::span<const http1::Header> headers;
  bool more_trailers = false;
};

/// `http.response.pathsend` (the path send extension): the server sends the file's contents
/// as the (final) body.
struct HttpResponsePathsend {
  std::string_view path;
};

using SendEvent =
    std::variant<HttpResponseStart, HttpResponseBody, HttpResponseTrailers, HttpResponsePathsend>;

/// The message type, e.g. "http.response.start".
std::string_view event_type(const SendEvent& event) noexcept;

/// Content equality (header lists compared element by element), for tests and round trips.
bool operator==(const HttpResponseStart& a, const HttpResponseStart& b) noexcept;
bool operator==(const HttpResponseBody& a, const HttpResponseBody& b) noexcept;
bool operator==(const HttpResponseTrailers& a, const HttpResponseTrailers& b) noexcept;
bool operator==(const HttpResponsePathsend& a, const HttpResponsePathsend& b) noexcept;

/// Same names, values and order.
bool equal_headers(std::span<const http1::Header> a, std::span<const http1::Header> b) noexcept;

// ---- validation ------------------------------------------------------------------------------

/// The ASGI HTTP spec version this module implements, reported in scope["asgi"]["spec_version"].
/// 2.4 is the version that says send() after the client disconnected raises an OSError subclass
/// (HttpCycle reports that as a distinct error for the bridge) and receive() then returns
/// http.disconnect; every earlier rule (2.0-2.3) is implemented too. uvicorn 0.17.6 reports
/// "2.3" and Starlette 0.26 does not read the key. We claim no later version.
inline constexpr std::string_view kHttpSpecVersion = "2.4";

/// Checks one header list: names RFC 9110 tokens (§5.6.2), values field-values (§5.5: no CR,
/// LF, NUL or other controls except HTAB). Errors (local): invalid_response_header_name,
/// invalid_response_header_value.
Result<void> validate_headers(std::span<const http1::Header> headers);

/// Checks one send event on its own (not its order). Errors (local):
///   - invalid_status: status outside 200..599, or a 1xx: ASGI's http.response.start is the
///     final response, and interim responses (100, 103, 101) are the server's business.
///   - invalid_response_header_name, invalid_response_header_value: start or trailers headers.
///   - invalid_event_field: a pathsend path that is empty, relative or contains NUL.
Result<void> validate_send_event(const SendEvent& event);

}  // namespace lancet::asgi
