// Base64 (RFC 4648 §4, standard alphabet, padded) for the handshake's key and accept values.
//
// Layer: protocol/websocket.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lancet::websocket {

/// The padded base64 encoding of `bytes`.
std::string base64_encode(std::string_view bytes);

/// Strict decoding: standard alphabet, length a multiple of 4, '=' padding only at the end,
/// unused trailing bits zero (RFC 4648 §3.5 canonical form), no whitespace. nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace lancet::websocket
