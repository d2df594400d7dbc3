// HTTP/1.1 message data: what the server connection gives out (request events) and takes in
// (response parts). Plain values with views; no behaviour.
//
// Layer: protocol/http1. Shared by the connection, classify, asgi and the tools.
//
// View lifetimes (documented once, relied on everywhere):
//   - RequestHead (method, target, headers): valid until start_next_cycle() or destruction of
//     the ServerConnection that produced it.
//   - Data::bytes: valid until the next call to next_event(), receive_data() or
//     start_next_cycle().
//   - EndOfMessage::trailers: valid until start_next_cycle().
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

namespace lancet::http1 {

/// One field line. Names keep the case they were received in (or that the app sent).
struct Header {
  std::string_view name;
  std::string_view value;
};

/// RFC 9112 §3.2: the forms a request-target can take. authority-form (CONNECT) is refused.
enum class TargetForm : std::uint8_t {
  origin,    ///< "/path?query"
  absolute,  ///< "http://host/path?query" (RFC 9112 §3.2.2: Host is then ignored)
  asterisk,  ///< "*", OPTIONS only
};

enum class Version : std::uint8_t { http10, http11 };

/// The request line and header section of one request.
struct RequestHead {
  std::string_view method;
  std::string_view target;                    ///< raw request-target, as sent
  TargetForm target_form = TargetForm::origin;
  Version version = Version::http11;
  std::span<const Header> headers;            ///< in order, duplicates kept, original case
  bool keep_alive = true;                     ///< what the client asked for (version+Connection)
  bool expects_continue = false;              ///< Expect: 100-continue (the caller sends 100)
  bool is_upgrade = false;                    ///< Connection: upgrade with an Upgrade field
  std::string_view upgrade;                   ///< the Upgrade field's value when is_upgrade
  std::optional<std::uint64_t> content_length;  ///< the request's Content-Length, if any
  bool chunked = false;                       ///< Transfer-Encoding: chunked
};

/// A piece of request body (already de-chunked).
struct Data {
  std::string_view bytes;
};

/// The request is complete; trailers from a chunked body, if any.
struct EndOfMessage {
  std::span<const Header> trailers;
};

/// No complete event can be produced from the bytes so far: feed more with receive_data().
struct NeedData {};

/// The request cycle is complete and the next request (pipelined bytes, if any) waits for
/// start_next_cycle() (h11's PAUSED).
struct Paused {};

/// The peer closed its side cleanly between requests.
struct ConnectionClosed {};

using Event = std::variant<RequestHead, Data, EndOfMessage, NeedData, Paused, ConnectionClosed>;

/// A response head to send. Views need only live for the duration of the send() call.
struct ResponseHead {
  std::uint16_t status = 200;
  std::span<const Header> headers;
  std::string_view reason;  ///< empty: the standard phrase for status (or none if unknown)
};

/// The standard reason phrase for a status (RFC 9110 §15), or "" when there is none.
std::string_view reason_phrase(std::uint16_t status) noexcept;

/// Stable event name for traces: "request_head", "data", "end_of_message", ...
std::string_view event_name(const Event& event) noexcept;

}  // namespace lancet::http1
