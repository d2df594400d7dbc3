// SHA-1 (FIPS 180-4), only for the opening handshake's Sec-WebSocket-Accept (RFC 6455 §4.2.2).
//
// Layer: protocol/websocket. SHA-1 is broken for collision resistance; RFC 6455 uses it as a
// fixed transform, not for security, so a small local implementation beats a crypto dependency.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace lancet::websocket {

using Sha1Digest = std::array<std::uint8_t, 20>;

/// The SHA-1 digest of `bytes`.
Sha1Digest sha1(std::string_view bytes) noexcept;

}  // namespace lancet::websocket
