// Base64 against RFC 4648 §10 vectors, strictness, and a round-trip property.
#include "protocol/websocket/base64.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace {

using lancet::websocket::base64_decode;
using lancet::websocket::base64_encode;

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesRfc4648Vectors) {
  EXPECT_EQ(base64_decode(""), std::string());
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_EQ(base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(base64_decode("dGhlIHNhbXBsZSBub25jZQ=="), "the sample nonce");
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(base64_decode("Zg="));        // length not a multiple of 4
  EXPECT_FALSE(base64_decode("Zg=a"));       // data after padding
  EXPECT_FALSE(base64_decode("Z==="));       // three pads
  EXPECT_FALSE(base64_decode("Zg==Zg=="));   // padding in the middle
  EXPECT_FALSE(base64_decode("Zm9v YmFy"));  // whitespace
  EXPECT_FALSE(base64_decode("Zm9-"));       // URL alphabet
  EXPECT_FALSE(base64_decode("Zh=="));       // non-canonical trailing bits
  EXPECT_FALSE(base64_decode("Zm9="));       // non-canonical trailing bits
}

RC_GTEST_PROP(Base64, DecodeInvertsEncode, (const std::string& bytes)) {
  RC_ASSERT(base64_decode(base64_encode(bytes)) == bytes);
}

}  // namespace
