// Frame header decoding and encoding. See frame.hpp.
#include "protocol/websocket/frame.hpp"

namespace lancet::websocket {

Error make_ws_error(Errc code, const char* detail) noexcept {
  Error e = make_remote_error(code, detail);
  e.http_status_hint = 0;
  e.ws_close_hint = default_ws_close_code(code);
  return e;
}

Result<HeaderParse> decode_frame_header(std::string_view bytes, bool allow_rsv1) {
  HeaderParse p;
  if (bytes.size() < 2) return p;
  const auto b0 = static_cast<std::uint8_t>(bytes[0]);
  const auto b1 = static_cast<std::uint8_t>(bytes[1]);
  FrameHeader& h = p.header;
  h.fin = (b0 & 0x80) != 0;
  h.rsv1 = (b0 & 0x40) != 0;
  // §5.2: "MUST be 0 unless an extension is negotiated that defines meanings for non-zero
  // values"; RFC 7692 §6 gives RSV1 to permessage-deflate, nothing uses RSV2/RSV3.
  if ((b0 & 0x30) != 0 || (h.rsv1 && !allow_rsv1)) {
    return unexpected(make_ws_error(Errc::ws_reserved_bits, "reserved bits set"));
  }
  const std::uint8_t op = b0 & 0x0f;
  if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xa) {
    return unexpected(make_ws_error(Errc::ws_unknown_opcode, "reserved opcode"));
  }
  h.opcode = static_cast<Opcode>(op);
  h.masked = (b1 & 0x80) != 0;
  // §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
  if (!h.masked) return unexpected(make_ws_error(Errc::ws_unmasked_frame, "client frame not masked"));
  const std::uint8_t len7 = b1 & 0x7f;
  if (is_control(h.opcode)) {
    // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT
    // be fragmented."
    if (!h.fin) {
      return unexpected(make_ws_error(Errc::ws_fragmented_control_frame, "fragmented control frame"));
    }
    if (len7 > kMaxControlPayload) {
      return unexpected(make_ws_error(Errc::ws_control_frame_too_long, "control frame too long"));
    }
  }
  std::size_t at = 2;
  if (len7 < 126) {
    h.length = len7;
  } else {
    const std::size_t n = len7 == 126 ? 2 : 8;
    if (bytes.size() < at + n) return p;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = v << 8 | static_cast<std::uint8_t>(bytes[at + i]);
    at += n;
    // §5.2: "the minimal number of bytes MUST be used to encode the length"; with 64 bits "the
    // most significant bit MUST be 0".
    if (n == 2 && v < 126) {
      return unexpected(make_ws_error(Errc::ws_invalid_length, "non-minimal 16-bit length"));
    }
    if (n == 8 && (v >> 63) != 0) {
      return unexpected(make_ws_error(Errc::ws_invalid_length, "64-bit length with MSB set"));
    }
    if (n == 8 && v <= 0xffff) {
      return unexpected(make_ws_error(Errc::ws_invalid_length, "non-minimal 64-bit length"));
    }
    h.length = v;
  }
  if (bytes.size() < at + 4) return p;
  for (std::size_t i = 0; i < 4; ++i) h.mask[i] = static_cast<std::uint8_t>(bytes[at + i]);
  h.header_size = at + 4;
  p.complete = true;
  return p;
}

void append_frame_header(std::string& out, Opcode op, bool fin, bool rsv1, std::uint64_t length) {
  out += static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<std::uint8_t>(op));
  if (length < 126) {
    out += static_cast<char>(length);
  } else if (length <= 0xffff) {
    out += static_cast<char>(126);
    out += static_cast<char>(length >> 8);
    out += static_cast<char>(length & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((length >> (8 * i)) & 0xff);
  }
}

void apply_mask(char* bytes, std::size_t n, const std::array<std::uint8_t, 4>& mask,
                std::uint64_t offset) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    bytes[i] = static_cast<char>(static_cast<std::uint8_t>(bytes[i]) ^ mask[(offset + i) & 3]);
  }
}

}  // namespace lancet::websocket
