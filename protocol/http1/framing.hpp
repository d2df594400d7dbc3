// Response framing, decided in exactly one place (RFC 9112 §6, RFC 9110 §6.4.1, §8.6, §9.3.2).
//
// Layer: protocol/http1. A pure function of facts about the request and the response head.
#pragma once

#include <cstdint>
#include <optional>

#include "protocol/http1/message.hpp"

namespace lancet::http1 {

enum class BodyFraming : std::uint8_t {
  none,            ///< no body on the wire (HEAD, 1xx, 204, 304)
  content_length,  ///< exactly Framing::length bytes
  chunked,         ///< Transfer-Encoding: chunked (HTTP/1.1 only)
  until_close,     ///< body ends when the connection closes (HTTP/1.0 without a length)
};

/// What the request says about how its response may be framed.
struct RequestFacts {
  Version version = Version::http11;
  bool is_head = false;
  bool keep_alive = true;          ///< the client's wish (version + Connection)
  bool close_requested = false;    ///< the server is draining
  bool unread_body_waiting_for_continue = false;  ///< Expect: 100-continue never answered
};

/// What the app's response head says.
struct ResponseFacts {
  std::uint16_t status = 200;
  std::optional<std::uint64_t> content_length;  ///< the app's Content-Length, parsed
  bool app_chunked = false;                     ///< the app sent Transfer-Encoding: chunked
  bool app_close = false;                       ///< the app sent Connection: close
};

struct Framing {
  BodyFraming body = BodyFraming::none;
  std::uint64_t length = 0;         ///< for content_length
  bool keep_alive = true;           ///< the connection is reused after this response
  bool strip_length_fields = false; ///< drop the app's Content-Length/TE (1xx, 204: RFC 9110 §8.6)
  bool add_chunked_field = false;   ///< we add "transfer-encoding: chunked"
};

/// The framing of a final response. Never fails: conflicting app fields are rejected earlier
/// (ServerConnection::send reports response_framing_conflict).
Framing decide_framing(const RequestFacts& request, const ResponseFacts& response) noexcept;

}  // namespace lancet::http1
