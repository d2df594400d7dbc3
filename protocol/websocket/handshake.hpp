// The server side of the opening handshake (RFC 6455 §4.2): validate the upgrade request, pick
// the subprotocol and extensions, build the 101 response or the rejection.
//
// Layer: protocol/websocket. Pure functions of an http1::RequestHead; every returned value
// owns its bytes (the RequestHead's views may die right after the call).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"
#include "protocol/http1/message.hpp"
#include "protocol/websocket/extensions.hpp"

namespace lancet::websocket {

/// The GUID of RFC 6455 §1.3 appended to the key before hashing.
inline constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A header with owned bytes (what the handshake answers hold).
struct OwnedHeader {
  std::string name;
  std::string value;
};

/// A valid upgrade request, as the server needs it.
struct HandshakeRequest {
  std::string key;                        ///< Sec-WebSocket-Key as sent (trimmed)
  std::vector<std::string> subprotocols;  ///< Sec-WebSocket-Protocol tokens, in order
  std::vector<ExtensionOffer> extensions;  ///< empty when none, or the header was malformed
};

/// Validates an upgrade request (§4.2.1): GET; HTTP/1.1; Upgrade with the "websocket" token
/// (case-insensitive); Connection with the "upgrade" token; Sec-WebSocket-Version exactly 13;
/// one Sec-WebSocket-Key that is base64 of exactly 16 bytes. Errors (remote, with
/// http_status_hint): ws_handshake_not_get, ws_handshake_not_http11, ws_handshake_no_upgrade,
/// ws_handshake_no_connection_upgrade (400); ws_handshake_invalid_version (426, checked before
/// the key so an old client learns the version we speak); ws_handshake_invalid_key and
/// ws_handshake_invalid_field (a Sec-WebSocket-Protocol element that is not a token) (400).
/// A malformed Sec-WebSocket-Extensions is not an error: no extension is accepted.
Result<HandshakeRequest> validate_handshake(const http1::RequestHead& head);

/// Sec-WebSocket-Accept for `key` (§4.2.2 step 5.4): base64(SHA-1(key + GUID)).
std::string make_accept_key(std::string_view key);

/// The 101 answer.
struct Acceptance {
  /// Upgrade, Connection, Sec-WebSocket-Accept, then Sec-WebSocket-Protocol and
  /// Sec-WebSocket-Extensions when chosen. The caller adds its own (e.g. the app's) headers.
  std::vector<OwnedHeader> headers;
  std::optional<DeflateParams> deflate;  ///< set when permessage-deflate was negotiated
  std::string subprotocol;               ///< the chosen one, or empty
};

/// Builds the 101 answer. `subprotocol` is the application's choice ("" for none); it must be
/// a token (§4.1 / RFC 9110 token), though it need not be one the client offered (the client
/// fails the connection then, §4.1). Errors: ws_invalid_send (local) for a non-token.
Result<Acceptance> make_acceptance(const HandshakeRequest& request, std::string_view subprotocol,
                                   const DeflateConfig& deflate);

/// A refused handshake: the HTTP response to send (Connection handling is left to http1).
struct Rejection {
  std::uint16_t status = 400;
  std::vector<OwnedHeader> headers;  ///< Content-Type, Content-Length; 426 adds Upgrade and
                                     ///< Sec-WebSocket-Version: 13 (§4.4, RFC 9110 §15.5.22)
  std::string body;                  ///< one short line naming the problem
};

/// The rejection for an error from validate_handshake().
Rejection make_rejection(const Error& error);

/// Views over owned headers, e.g. for http1::ResponseHead::headers. Valid while `headers` is.
std::vector<http1::Header> header_views(std::span<const OwnedHeader> headers);

}  // namespace lancet::websocket
