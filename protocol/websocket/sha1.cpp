// SHA-1 (FIPS 180-4 §6.1), straightforward and unoptimised: the handshake hashes 60 bytes.
#include "protocol/websocket/sha1.hpp"

#include <cstddef>

namespace lancet::websocket {
namespace {

constexpr std::uint32_t rotl(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }

void compress(std::array<std::uint32_t, 5>& h, const std::uint8_t* block) noexcept {
  std::array<std::uint32_t, 80> w{};
  for (std::size_t t = 0; t < 16; ++t) {
    w[t] = static_cast<std::uint32_t>(block[4 * t]) << 24 |
           static_cast<std::uint32_t>(block[4 * t + 1]) << 16 |
           static_cast<std::uint32_t>(block[4 * t + 2]) << 8 |
           static_cast<std::uint32_t>(block[4 * t + 3]);
  }
  for (std::size_t t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (std::size_t t = 0; t < 80; ++t) {
    std::uint32_t f = 0;
    std::uint32_t k = 0;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999u;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1u;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdcu;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6u;
    }
    const std::uint32_t temp = rotl(a, 5) + f + e + k + w[t];
    e = d;
    d = c;
    c = rotl(b, 30);
    b = a;
    a = temp;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

}  // namespace

Sha1Digest sha1(std::string_view bytes) noexcept {
  std::array<std::uint32_t, 5> h = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u,
                                    0xc3d2e1f0u};
  std::array<std::uint8_t, 64> block{};
  std::size_t i = 0;
  for (; i + 64 <= bytes.size(); i += 64) {
    for (std::size_t j = 0; j < 64; ++j) block[j] = static_cast<std::uint8_t>(bytes[i + j]);
    compress(h, block.data());
  }
  // Padding (§5.1.1): 0x80, zeros, then the bit length as a 64-bit big-endian number.
  const std::size_t rest = bytes.size() - i;
  block.fill(0);
  for (std::size_t j = 0; j < rest; ++j) block[j] = static_cast<std::uint8_t>(bytes[i + j]);
  block[rest] = 0x80;
  if (rest >= 56) {
    compress(h, block.data());
    block.fill(0);
  }
  const std::uint64_t bits = static_cast<std::uint64_t>(bytes.size()) * 8u;
  for (std::size_t j = 0; j < 8; ++j) {
    block[63 - j] = static_cast<std::uint8_t>(bits >> (8 * j));
  }
  compress(h, block.data());
  Sha1Digest out{};
  for (std::size_t j = 0; j < 5; ++j) {
    out[4 * j] = static_cast<std::uint8_t>(h[j] >> 24);
    out[4 * j + 1] = static_cast<std::uint8_t>(h[j] >> 16);
    out[4 * j + 2] = static_cast<std::uint8_t>(h[j] >> 8);
    out[4 * j + 3] = static_cast<std::uint8_t>(h[j]);
  }
  return out;
}

}  // namespace lancet::websocket
