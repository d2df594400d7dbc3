// Incremental UTF-8 validation: Table 3-7 boundaries, early failure, split invariance.
#include "protocol/websocket/utf8.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace {

using lancet::websocket::is_valid_utf8;
using lancet::websocket::Utf8Validator;

TEST(Utf8Validator, AcceptsWellFormedSequences) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("hello"));
  EXPECT_TRUE(is_valid_utf8("\xc2\x80"));
  EXPECT_TRUE(is_valid_utf8("\xe0\xa0\x80"));          // U+0800
  EXPECT_TRUE(is_valid_utf8("\xed\x9f\xbf"));          // U+D7FF
  EXPECT_TRUE(is_valid_utf8("\xee\x80\x80"));          // U+E000
  EXPECT_TRUE(is_valid_utf8("\xf0\x90\x80\x80"));      // U+10000
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // Autobahn 6.2
}

TEST(Utf8Validator, RejectsIllFormedSequences) {
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // over U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));          // truncated
}

TEST(Utf8Validator, FailsAtTheFirstImpossibleByte) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("ok \xed"));
  EXPECT_FALSE(v.feed("\xa0"));  // a surrogate is impossible after ED at its second byte
  EXPECT_TRUE(v.failed());
  EXPECT_FALSE(v.feed("a"));     // stays failed
  Utf8Validator w;
  EXPECT_TRUE(w.feed("\xf4"));
  EXPECT_FALSE(w.feed("\x90"));  // > U+10FFFF known at the second byte
}

TEST(Utf8Validator, CodePointSplitAcrossFeedsIsAccepted) {
  Utf8Validator v;
  EXPECT_TRUE(v.feed("\xf0\x9f"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x98"));
  EXPECT_TRUE(v.feed("\x80"));
  EXPECT_TRUE(v.complete());
}

RC_GTEST_PROP(Utf8Validator, AnySplitGivesTheSameVerdict, (const std::string& bytes)) {
  const std::size_t cut = *rc::gen::inRange<std::size_t>(0, bytes.size() + 1);
  Utf8Validator v;
  const bool ok = v.feed(bytes.substr(0, cut)) && v.feed(bytes.substr(cut)) && v.complete();
  RC_ASSERT(ok == is_valid_utf8(bytes));
}

RC_GTEST_PROP(Utf8Validator, EncodedCodePointsAreValid, ()) {
  const auto cps = *rc::gen::container<std::vector<std::uint32_t>>(rc::gen::oneOf(
      rc::gen::inRange<std::uint32_t>(0, 0xd800), rc::gen::inRange<std::uint32_t>(0xe000, 0x110000)));
  std::string s;
  for (std::uint32_t c : cps) {
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else if (c < 0x800) {
      s += static_cast<char>(0xc0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      s += static_cast<char>(0xe0 | (c >> 12));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      s += static_cast<char>(0xf0 | (c >> 18));
      s += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  RC_ASSERT(is_valid_utf8(s));
}

}  // namespace
