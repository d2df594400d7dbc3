// Test helpers for the websocket core: a client-side frame encoder that masks (written here
// from RFC 6455 §5.2, independent of frame.cpp), a decoder for the server's unmasked frames,
// zlib helpers acting as a permessage-deflate client, and an event trace.
#pragma once

#include <zlib.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/websocket/connection.hpp"

namespace lancet::websocket::testing {

struct ClientFrame {
  std::uint8_t opcode = 0x1;
  std::string payload;
  bool fin = true;
  bool rsv1 = false;
  bool masked = true;
  std::array<std::uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d};
};

/// Encodes a client frame, masked unless told otherwise, with the minimal length encoding.
inline std::string encode(const ClientFrame& f) {
  std::string out;
  out += static_cast<char>((f.fin ? 0x80 : 0) | (f.rsv1 ? 0x40 : 0) | (f.opcode & 0x0f));
  const std::uint8_t m = f.masked ? 0x80 : 0;
  const std::uint64_t n = f.payload.size();
  if (n < 126) {
    out += static_cast<char>(m | n);
  } else if (n < 65536) {
    out += static_cast<char>(m | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  }
  if (f.masked) {
    for (auto b : f.mask) out += static_cast<char>(b);
  }
  for (std::size_t i = 0; i < f.payload.size(); ++i) {
    out += static_cast<char>(static_cast<std::uint8_t>(f.payload[i]) ^ (f.masked ? f.mask[i % 4] : 0));
  }
  return out;
}

inline std::string frame(std::uint8_t opcode, std::string_view payload, bool fin = true) {
  ClientFrame f;
  f.opcode = opcode;
  f.payload = std::string(payload);
  f.fin = fin;
  return encode(f);
}

inline std::string text(std::string_view s, bool fin = true) { return frame(0x1, s, fin); }
inline std::string binary(std::string_view s, bool fin = true) { return frame(0x2, s, fin); }
inline std::string cont(std::string_view s, bool fin = true) { return frame(0x0, s, fin); }
inline std::string ping(std::string_view s) { return frame(0x9, s); }
inline std::string pong(std::string_view s) { return frame(0xa, s); }
inline std::string close_frame(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xff);
  p += reason;
  return frame(0x8, p);
}

struct ServerFrame {
  bool fin = false;
  bool rsv1 = false;
  std::uint8_t opcode = 0;
  std::string payload;
  bool operator==(const ServerFrame&) const = default;
};

/// Decodes the server's output: unmasked frames, any length encoding. Marks a malformed or
/// masked frame with opcode 0xff.
inline std::vector<ServerFrame> decode_server(std::string_view b) {
  std::vector<ServerFrame> out;
  std::size_t i = 0;
  while (i + 2 <= b.size()) {
    ServerFrame f;
    const auto b0 = static_cast<std::uint8_t>(b[i]);
    const auto b1 = static_cast<std::uint8_t>(b[i + 1]);
    f.fin = b0 & 0x80;
    f.rsv1 = b0 & 0x40;
    f.opcode = b0 & 0x0f;
    if (b1 & 0x80) f.opcode = 0xff;
    std::uint64_t n = b1 & 0x7f;
    i += 2;
    const std::size_t ext = n == 126 ? 2 : n == 127 ? 8 : 0;
    if (ext) {
      n = 0;
      for (std::size_t k = 0; k < ext; ++k) n = n << 8 | static_cast<std::uint8_t>(b[i + k]);
      i += ext;
    }
    f.payload = std::string(b.substr(i, n));
    i += n;
    out.push_back(std::move(f));
  }
  if (i != b.size()) out.push_back(ServerFrame{false, false, 0xff, {}});
  return out;
}

/// One line per event: "text:hello", "binary:...", "ping:..", "pong:..", "close:1000:reason".
inline std::string describe(const Event& ev) {
  if (auto* t = std::get_if<Text>(&ev)) return "text:" + std::string(t->data);
  if (auto* b = std::get_if<Binary>(&ev)) return "binary:" + std::string(b->data);
  if (auto* p = std::get_if<Ping>(&ev)) return "ping:" + std::string(p->payload);
  if (auto* p = std::get_if<Pong>(&ev)) return "pong:" + std::string(p->payload);
  if (auto* c = std::get_if<Close>(&ev)) {
    return "close:" + std::to_string(c->code) + ":" + std::string(c->reason);
  }
  return "need_data";
}

/// Pulls events until NeedData (or a Close), returning their descriptions.
inline std::vector<std::string> drain_events(Connection& conn) {
  std::vector<std::string> out;
  for (int guard = 0; guard < 100000; ++guard) {
    const Event ev = conn.next_event();
    if (std::holds_alternative<NeedData>(ev)) break;
    out.push_back(describe(ev));
    if (std::holds_alternative<Close>(ev)) break;
  }
  return out;
}

/// Feeds `bytes` whole and returns the events.
inline std::vector<std::string> feed(Connection& conn, std::string_view bytes) {
  conn.receive_data(bytes);
  return drain_events(conn);
}

/// The close code of the first Close event a feed produces (0 if none).
inline std::uint16_t close_code_after(std::string_view bytes, Options options = {}) {
  Connection conn(options);
  conn.receive_data(bytes);
  for (int guard = 0; guard < 100000; ++guard) {
    const Event ev = conn.next_event();
    if (auto* c = std::get_if<Close>(&ev)) return c->code;
    if (std::holds_alternative<NeedData>(ev)) return 0;
  }
  return 0;
}

/// A permessage-deflate client compressor: raw deflate, Z_SYNC_FLUSH, tail stripped.
class ClientDeflater {
 public:
  explicit ClientDeflater(int window_bits = 15, bool no_context_takeover = false)
      : no_context_takeover_(no_context_takeover) {
    deflateInit2(&z_, 6, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY);
  }
  ~ClientDeflater() { deflateEnd(&z_); }
  ClientDeflater(const ClientDeflater&) = delete;
  ClientDeflater& operator=(const ClientDeflater&) = delete;
  std::string compress(std::string_view in) {
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    std::array<char, 4096> buf;
    do {
      z_.next_out = reinterpret_cast<Bytef*>(buf.data());
      z_.avail_out = buf.size();
      deflate(&z_, Z_SYNC_FLUSH);
      out.append(buf.data(), buf.size() - z_.avail_out);
    } while (z_.avail_out == 0);
    if (out.size() >= 4 && out.compare(out.size() - 4, 4, std::string("\0\0\xff\xff", 4)) == 0) {
      out.resize(out.size() - 4);
    }
    if (no_context_takeover_) deflateReset(&z_);
    return out;
  }

 private:
  z_stream z_{};
  bool no_context_takeover_;
};

/// A permessage-deflate client decompressor for the server's messages.
class ClientInflater {
 public:
  explicit ClientInflater(bool no_context_takeover = false) : reset_(no_context_takeover) {
    inflateInit2(&z_, -15);
  }
  ~ClientInflater() { inflateEnd(&z_); }
  ClientInflater(const ClientInflater&) = delete;
  ClientInflater& operator=(const ClientInflater&) = delete;
  /// nullopt on a zlib error.
  std::optional<std::string> decompress(std::string payload) {
    payload.append("\0\0\xff\xff", 4);
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(payload.data());
    z_.avail_in = static_cast<uInt>(payload.size());
    std::array<char, 4096> buf;
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(buf.data());
      z_.avail_out = buf.size();
      const int rc = inflate(&z_, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return std::nullopt;
      out.append(buf.data(), buf.size() - z_.avail_out);
      if (z_.avail_out == 0) continue;
      if (z_.avail_in == 0) break;
      if (rc == Z_BUF_ERROR) return std::nullopt;
    }
    if (reset_) inflateReset(&z_);
    return out;
  }

 private:
  z_stream z_{};
  bool reset_;
};

}  // namespace lancet::websocket::testing
