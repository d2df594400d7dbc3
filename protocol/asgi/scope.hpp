// The ASGI 3.0 HTTP connection scope as a value, built by a pure function of the request head.
//
// Layer: protocol/asgi. The bridge turns an HttpScope (or the same fields) into the Python dict;
// lancet-trace prints it as JSON (json.hpp). Field meanings follow the ASGI HTTP spec and what
// uvicorn 0.17.6 gives Starlette 0.26:
//   - path: the request-target's path, %XX-decoded, as UTF-8; bytes that are not valid UTF-8
//     after decoding become U+FFFD (Python's unquote(errors='replace')). '+' stays '+'. A '%'
//     not followed by two hex digits stays as is. path does NOT include root_path (uvicorn 0.17).
//   - raw_path: the path bytes exactly as sent, without the query.
//   - query_string: the bytes after '?', as sent (no decoding).
//   - absolute-form "http://host/p?q" gives path "/p" (RFC 9112 §3.2.2: the server uses the
//     target's path; Host is ignored); asterisk-form "*" gives path "*".
//   - headers: names lowercased, values as sent, in order, duplicates kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/asgi/events.hpp"
#include "protocol/asgi/websocket_events.hpp"
#include "protocol/http1/message.hpp"

namespace lancet::asgi {

/// A (host, port) pair as ASGI's client and server keys.
struct Address {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const Address&, const Address&) = default;
};

/// What the scope needs to know about the connection that the request head does not say.
struct ConnectionInfo {
  std::optional<Address> client;     ///< the peer; none for a Unix socket
  std::optional<Address> server;     ///< the local address; none when unknown
  std::string_view scheme = "http";  ///< "http" or "https" (TLS terminated by us)
  std::string_view root_path;        ///< --root-path: the mount point, not part of path
};

/// One scope header: lowercased name, value as sent.
struct ScopeHeader {
  std::string name;
  std::string value;
  friend bool operator==(const ScopeHeader&, const ScopeHeader&) = default;
};

/// scope for an HTTP request (ASGI 3.0; HTTP spec version kHttpSpecVersion). Owns its strings.
struct HttpScope {
  std::string type = "http";
  std::string asgi_version = "3.0";
  std::string spec_version = std::string(kHttpSpecVersion);
  std::string http_version = "1.1";  ///< "1.0" or "1.1"
  std::string method;                ///< as sent (methods are case-sensitive)
  std::string scheme = "http";
  std::string path;          ///< decoded UTF-8, see the file comment
  std::string raw_path;      ///< bytes as sent, no query
  std::string query_string;  ///< bytes after '?', as sent
  std::string root_path;
  std::vector<ScopeHeader> headers;
  std::optional<Address> client;
  std::optional<Address> server;
  friend bool operator==(const HttpScope&, const HttpScope&) = default;
};

/// Builds the scope for `head` on a connection described by `info`. Never fails: the request
/// head was validated by the http1 parser.
HttpScope make_http_scope(const http1::RequestHead& head, const ConnectionInfo& info);
/// make_http_scope() into `scope`, a default-constructed HttpScope (built where it is kept: a
/// scope is a dozen strings, and moving it copies each one's bytes).
void fill_http_scope(HttpScope& scope, const http1::RequestHead& head, const ConnectionInfo& info);

/// Makes the scope of a WebSocket handshake request (make_http_scope, then proxy headers) its
/// 'websocket' scope: type "websocket", spec_version kWebSocketSpecVersion, scheme "wss" when
/// it was "https" or "wss" (TLS, or a trusted proxy's X-Forwarded-Proto), else "ws". The
/// method stays in the value; the 'websocket' scope has no 'method' key.
void to_websocket_scope(HttpScope& scope);

/// The path and query parts of a request-target (views into `target`).
struct TargetParts {
  std::string_view path;   ///< "/" when an absolute-form target has an empty path
  std::string_view query;  ///< without the '?'; a '#fragment' is dropped
};

/// Splits a request-target by its form (RFC 9112 §3.2).
TargetParts split_target(std::string_view target, http1::TargetForm form) noexcept;

/// %XX-decodes `raw` and returns UTF-8, replacing each maximal invalid subsequence with
/// U+FFFD as Python's bytes.decode('utf-8', 'replace') does.
std::string percent_decode_path(std::string_view raw);

}  // namespace lancet::asgi
