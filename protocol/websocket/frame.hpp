// WebSocket frames (RFC 6455 §5.2): header decoding with every §5 check, header encoding for
// server frames, and close-code rules (§7.4).
//
// Layer: protocol/websocket. Pure functions over bytes; Connection holds the state.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-------+-+-------------+-------------------------------+
//  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//  | |1|2|3|       |K|             |                               |
//  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//  |     Extended payload length continued, if payload len == 127  |
//  + - - - - - - - - - - - - - - - +-------------------------------+
//  |                               |Masking-key, if MASK set to 1  |
//  +-------------------------------+-------------------------------+
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"

namespace lancet::websocket {

/// §5.2 opcodes; every other value is reserved (1002).
enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xa,
};

constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

/// Close codes used by the core (§7.4.1).
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseGoingAway = 1001;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseNoStatus = 1005;     ///< reported, never sent
inline constexpr std::uint16_t kCloseAbnormal = 1006;     ///< reported, never sent
inline constexpr std::uint16_t kCloseInvalidData = 1007;
inline constexpr std::uint16_t kCloseTooBig = 1009;
inline constexpr std::uint16_t kCloseInternalError = 1011;
inline constexpr std::size_t kMaxControlPayload = 125;    ///< §5.5
inline constexpr std::size_t kMaxCloseReason = 123;       ///< 125 minus the 2-byte code

/// §7.4: may `code` appear in a close frame on the wire? 1000-1003, 1007-1011 and 3000-4999.
/// 1004-1006 and 1015 are reserved or "MUST NOT be set"; 1012-1014 (IANA-registered later) and
/// everything else below 3000 are refused too, as Autobahn's 7.9.x cases expect.
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}

/// A decoded frame header.
struct FrameHeader {
  bool fin = false;
  bool rsv1 = false;
  Opcode opcode = Opcode::continuation;
  bool masked = false;
  std::uint64_t length = 0;
  std::array<std::uint8_t, 4> mask{};
  std::size_t header_size = 0;  ///< bytes the header took (2..14)
};

/// What decode_frame_header found.
struct HeaderParse {
  bool complete = false;  ///< false: more bytes are needed (no error seen so far)
  FrameHeader header;
};

/// Decodes a client frame header at the start of `bytes`. Checks as soon as the bytes allow:
/// RSV2/RSV3 always, RSV1 unless `allow_rsv1` (ws_reserved_bits); reserved opcodes
/// (ws_unknown_opcode); the mask bit (ws_unmasked_frame); control frames with FIN clear
/// (ws_fragmented_control_frame) or over 125 bytes (ws_control_frame_too_long); non-minimal
/// 16/64-bit lengths and a 64-bit length with its MSB set (ws_invalid_length).
Result<HeaderParse> decode_frame_header(std::string_view bytes, bool allow_rsv1);

/// Appends a server frame header (never masked, §5.1) for a payload of `length` bytes.
void append_frame_header(std::string& out, Opcode op, bool fin, bool rsv1, std::uint64_t length);

/// XORs `bytes` in place with `mask`, starting at payload offset `offset` (§5.3).
void apply_mask(char* bytes, std::size_t n, const std::array<std::uint8_t, 4>& mask,
                std::uint64_t offset) noexcept;

/// A remote websocket error with its close hint (error.cpp's default_ws_close_code).
Error make_ws_error(Errc code, const char* detail) noexcept;

}  // namespace lancet::websocket
