// SHA-1 against the FIPS 180 / RFC 3174 test vectors.
#include "protocol/websocket/sha1.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string hex(const lancet::websocket::Sha1Digest& d) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto b : d) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

TEST(Sha1, EmptyInputMatchesVector) {
  EXPECT_EQ(hex(lancet::websocket::sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(Sha1, AbcMatchesVector) {
  EXPECT_EQ(hex(lancet::websocket::sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Sha1, TwoBlockMessageMatchesVector) {
  EXPECT_EQ(hex(lancet::websocket::sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

TEST(Sha1, MillionAsMatchesVector) {
  EXPECT_EQ(hex(lancet::websocket::sha1(std::string(1000000, 'a'))),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, PaddingBoundariesDifferFromEachOther) {
  // 55, 56 and 64 bytes straddle the one-or-two padding blocks decision.
  EXPECT_EQ(hex(lancet::websocket::sha1(std::string(55, 'a'))),
            "c1c8bbdc22796e28c0e15163d20899b65621d65a");
  EXPECT_EQ(hex(lancet::websocket::sha1(std::string(56, 'a'))),
            "c2db330f6083854c99d4b5bfb6e8f29f201be699");
  EXPECT_EQ(hex(lancet::websocket::sha1(std::string(64, 'a'))),
            "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

}  // namespace
