// Tests for protocol/asgi/scope.hpp: the HTTP scope built from a request head. Expected
// decodings were checked against CPython 3.11's urllib.parse.unquote (errors='replace').
#include "protocol/asgi/scope.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace lancet::asgi {
namespace {

using http1::Header;
using http1::RequestHead;
using http1::TargetForm;

RequestHead head_for(std::string_view target, TargetForm form = TargetForm::origin) {
  RequestHead head;
  head.method = "GET";
  head.target = target;
  head.target_form = form;
  return head;
}

HttpScope scope_for(std::string_view target, TargetForm form = TargetForm::origin) {
  return make_http_scope(head_for(target, form), ConnectionInfo{});
}

/// True when `s` is well-formed UTF-8 (a strict reference decoder for the property).
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k < n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3Fu);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

TEST(AsgiScope, PathIsPercentDecodedToUtf8) {
  EXPECT_EQ(scope_for("/caf%C3%A9/%e2%82%ac").path, "/café/€");
  EXPECT_EQ(scope_for("/%F0%9F%98%80").path, "/😀");
}

TEST(AsgiScope, EncodedSlashIsDecodedInPathButKeptInRawPath) {
  HttpScope scope = scope_for("/a%2Fb");
  EXPECT_EQ(scope.path, "/a/b");
  EXPECT_EQ(scope.raw_path, "/a%2Fb");
}

TEST(AsgiScope, InvalidUtf8AfterDecodingBecomesOneReplacementPerMaximalSubpart) {
  EXPECT_EQ(scope_for("/%FF").path, "/\uFFFD");
  EXPECT_EQ(scope_for("/%E2%82x").path, "/\uFFFDx");
  EXPECT_EQ(scope_for("/%E2%82").path, "/\uFFFD");
  EXPECT_EQ(scope_for("/%ED%A0%80").path, "/\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(scope_for("/%C0%AF").path, "/\uFFFD\uFFFD");
  EXPECT_EQ(scope_for("/%F4%90%80%80").path, "/\uFFFD\uFFFD\uFFFD\uFFFD");
}

TEST(AsgiScope, MalformedPercentSequenceIsLeftAsIs) {
  EXPECT_EQ(scope_for("/a%2").path, "/a%2");
  EXPECT_EQ(scope_for("/a%zz").path, "/a%zz");
  EXPECT_EQ(scope_for("/%%41").path, "/%A");
  EXPECT_EQ(scope_for("/100%").path, "/100%");
}

TEST(AsgiScope, PlusIsNotDecodedAsSpace) { EXPECT_EQ(scope_for("/a+b%20c").path, "/a+b c"); }

TEST(AsgiScope, RawPathIsThePathBytesAsSentWithoutQuery) {
  HttpScope scope = scope_for("/caf%C3%A9?x=%20");
  EXPECT_EQ(scope.raw_path, "/caf%C3%A9");
  EXPECT_EQ(scope.query_string, "x=%20");
}

TEST(AsgiScope, QueryStringIsEverythingAfterTheFirstQuestionMarkUndecoded) {
  EXPECT_EQ(scope_for("/p?a=1&b=%41+?c").query_string, "a=1&b=%41+?c");
  EXPECT_EQ(scope_for("/p?").query_string, "");
  EXPECT_EQ(scope_for("/p").query_string, "");
}

TEST(AsgiScope, AbsoluteFormGivesOnlyThePath) {
  HttpScope scope = scope_for("http://example.com:8080/p%20q?x=1", TargetForm::absolute);
  EXPECT_EQ(scope.path, "/p q");
  EXPECT_EQ(scope.raw_path, "/p%20q");
  EXPECT_EQ(scope.query_string, "x=1");
}

TEST(AsgiScope, AbsoluteFormWithEmptyPathGivesSlash) {
  HttpScope scope = scope_for("http://example.com?x=1", TargetForm::absolute);
  EXPECT_EQ(scope.path, "/");
  EXPECT_EQ(scope.raw_path, "/");
  EXPECT_EQ(scope.query_string, "x=1");
  EXPECT_EQ(scope_for("http://example.com", TargetForm::absolute).path, "/");
}

TEST(AsgiScope, AsteriskFormGivesStarPath) {
  HttpScope scope = scope_for("*", TargetForm::asterisk);
  EXPECT_EQ(scope.path, "*");
  EXPECT_EQ(scope.raw_path, "*");
  EXPECT_EQ(scope.query_string, "");
}

TEST(AsgiScope, HeaderNamesAreLowercasedValuesKeptInOrderWithDuplicates) {
  std::vector<Header> headers = {
      {"Host", "Example.COM"}, {"X-Dup", "A"}, {"Accept", "*/*"}, {"x-dup", "B"}};
  RequestHead head = head_for("/");
  head.headers = headers;
  HttpScope scope = make_http_scope(head, ConnectionInfo{});
  std::vector<ScopeHeader> expected = {
      {"host", "Example.COM"}, {"x-dup", "A"}, {"accept", "*/*"}, {"x-dup", "B"}};
  EXPECT_EQ(scope.headers, expected);
}

TEST(AsgiScope, ConnectionInfoFillsSchemeRootPathClientAndServer) {
  RequestHead head = head_for("/app/x");
  head.method = "PATCH";
  head.version = http1::Version::http10;
  ConnectionInfo info{Address{"10.0.0.2", 51000}, Address{"127.0.0.1", 8000}, "https", "/app"};
  HttpScope scope = make_http_scope(head, info);
  EXPECT_EQ(scope.type, "http");
  EXPECT_EQ(scope.asgi_version, "3.0");
  EXPECT_EQ(scope.spec_version, "2.4");
  EXPECT_EQ(scope.http_version, "1.0");
  EXPECT_EQ(scope.method, "PATCH");
  EXPECT_EQ(scope.scheme, "https");
  EXPECT_EQ(scope.root_path, "/app");
  EXPECT_EQ(scope.path, "/app/x");  // path does not strip or add root_path (uvicorn 0.17)
  EXPECT_EQ(scope.client, (Address{"10.0.0.2", 51000}));
  EXPECT_EQ(scope.server, (Address{"127.0.0.1", 8000}));
}

TEST(AsgiScope, MissingAddressesAreAbsentAndDefaultsAreHttp11) {
  HttpScope scope = scope_for("/");
  EXPECT_FALSE(scope.client.has_value());
  EXPECT_FALSE(scope.server.has_value());
  EXPECT_EQ(scope.http_version, "1.1");
  EXPECT_EQ(scope.scheme, "http");
  EXPECT_EQ(scope.root_path, "");
}

TEST(AsgiScope, FragmentIsDroppedFromPathAndQuery) {
  HttpScope scope = scope_for("/p?q=1#frag");
  EXPECT_EQ(scope.raw_path, "/p");
  EXPECT_EQ(scope.query_string, "q=1");
}

RC_GTEST_PROP(AsgiScope, DecodedPathIsAlwaysValidUtf8, (const std::string& raw)) {
  RC_ASSERT(is_valid_utf8(percent_decode_path(raw)));
}

RC_GTEST_PROP(AsgiScope, PercentEncodingOfValidUtf8DecodesBack, (const std::string& text)) {
  std::string utf8 = percent_decode_path(text);  // any string, made valid
  std::string encoded;
  const char* hex = "0123456789ABCDEF";
  for (char c : utf8) {
    auto b = static_cast<unsigned char>(c);
    encoded += '%';
    encoded += hex[b >> 4];
    encoded += hex[b & 15];
  }
  RC_ASSERT(percent_decode_path(encoded) == utf8);
}

}  // namespace
}  // namespace lancet::asgi
