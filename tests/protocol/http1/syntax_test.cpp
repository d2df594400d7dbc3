// Field syntax helpers (RFC 9110 §5).
#include <gtest/gtest.h>

#include "protocol/http1/message.hpp"
#include "protocol/http1/syntax.hpp"

namespace lancet::http1 {
namespace {

TEST(Http1Syntax, TokensAreTcharOnlyAndNonEmpty) {
  EXPECT_TRUE(is_token("Content-Type"));
  EXPECT_TRUE(is_token("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(is_token(""));
  EXPECT_FALSE(is_token("a b"));
  EXPECT_FALSE(is_token("a:b"));
  EXPECT_FALSE(is_token("a\"b"));
  EXPECT_FALSE(is_token("\xc3\xa9"));
}

TEST(Http1Syntax, FieldValuesRejectControlsButAllowTabAndObsText) {
  EXPECT_TRUE(is_field_value("a\tb \xc3\xa9"));
  EXPECT_TRUE(is_field_value(""));
  EXPECT_FALSE(is_field_value("a\rb"));
  EXPECT_FALSE(is_field_value("a\nb"));
  EXPECT_FALSE(is_field_value(std::string_view("a\0b", 3)));
  EXPECT_FALSE(is_field_value("a\x7f"));
}

TEST(Http1Syntax, ContentLengthIsPlainDecimal) {
  EXPECT_EQ(parse_content_length("0"), 0u);
  EXPECT_EQ(parse_content_length("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_content_length("18446744073709551616"));
  EXPECT_FALSE(parse_content_length("+1"));
  EXPECT_FALSE(parse_content_length(" 1"));
  EXPECT_FALSE(parse_content_length("1,1"));
  EXPECT_FALSE(parse_content_length(""));
}

TEST(Http1Syntax, ListTokensAreFoundCaseInsensitively) {
  EXPECT_TRUE(list_has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(list_has_token(" close ", "close"));
  EXPECT_FALSE(list_has_token("closed", "close"));
  EXPECT_FALSE(list_has_token("", "close"));
  EXPECT_EQ(trim_ows(" \ta b\t "), "a b");
  EXPECT_TRUE(iequals("HoSt", "host"));
  EXPECT_FALSE(iequals("host", "hosts"));
}

TEST(Http1Syntax, ReasonPhrasesAreStandard) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(599), "");
}

}  // namespace
}  // namespace lancet::http1
