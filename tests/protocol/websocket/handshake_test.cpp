// The opening handshake: accept key, every rejection, subprotocols, the 101 headers.
#include "protocol/websocket/handshake.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace {

using namespace lancet;
using namespace lancet::websocket;

struct Req {
  std::string method = "GET";
  http1::Version version = http1::Version::http11;
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Host", "example.com"},
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"},
  };
  std::vector<http1::Header> views;

  Req& set(const std::string& name, const std::string& value) {
    erase(name);
    fields.emplace_back(name, value);
    return *this;
  }
  Req& erase(const std::string& name) {
    std::erase_if(fields, [&](const auto& f) { return f.first == name; });
    return *this;
  }
  http1::RequestHead head() {
    views.clear();
    for (const auto& [n, v] : fields) views.push_back({n, v});
    http1::RequestHead h;
    h.method = method;
    h.target = "/chat";
    h.version = version;
    h.headers = views;
    return h;
  }
};

Errc rejection_of(Req r) {
  auto v = validate_handshake(r.head());
  EXPECT_FALSE(v.has_value());
  return v ? Errc::bad_request : v.error().code;
}

TEST(WebSocketHandshake, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(make_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, ValidRequestIsAcceptedWith101Headers) {
  Req r;
  auto v = validate_handshake(r.head());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->key, "dGhlIHNhbXBsZSBub25jZQ==");
  auto a = make_acceptance(*v, "", DeflateConfig{});
  ASSERT_TRUE(a);
  ASSERT_EQ(a->headers.size(), 3u);
  EXPECT_EQ(a->headers[0].name, "Upgrade");
  EXPECT_EQ(a->headers[1].value, "Upgrade");
  EXPECT_EQ(a->headers[2].name, "Sec-WebSocket-Accept");
  EXPECT_EQ(a->headers[2].value, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_FALSE(a->deflate);
  EXPECT_EQ(header_views(a->headers).size(), 3u);
}

TEST(WebSocketHandshake, HeaderTokensAreCaseInsensitiveLists) {
  Req r;
  r.set("upgrade", "WebSocket").set("connection", "keep-alive, UPGRADE");
  r.erase("Upgrade").erase("Connection");
  EXPECT_TRUE(validate_handshake(r.head()));
}

TEST(WebSocketHandshake, EveryRejectionHasItsCodeAndStatus) {
  Req post;
  post.method = "POST";
  EXPECT_EQ(rejection_of(post), Errc::ws_handshake_not_get);
  Req http10;
  http10.version = http1::Version::http10;
  EXPECT_EQ(rejection_of(http10), Errc::ws_handshake_not_http11);
  EXPECT_EQ(rejection_of(Req().erase("Upgrade")), Errc::ws_handshake_no_upgrade);
  EXPECT_EQ(rejection_of(Req().set("Upgrade", "h2c")), Errc::ws_handshake_no_upgrade);
  EXPECT_EQ(rejection_of(Req().erase("Connection")), Errc::ws_handshake_no_connection_upgrade);
  EXPECT_EQ(rejection_of(Req().set("Connection", "keep-alive")),
            Errc::ws_handshake_no_connection_upgrade);
  EXPECT_EQ(rejection_of(Req().erase("Sec-WebSocket-Version")), Errc::ws_handshake_invalid_version);
  EXPECT_EQ(rejection_of(Req().set("Sec-WebSocket-Version", "8")), Errc::ws_handshake_invalid_version);
  EXPECT_EQ(rejection_of(Req().erase("Sec-WebSocket-Key")), Errc::ws_handshake_invalid_key);
  EXPECT_EQ(rejection_of(Req().set("Sec-WebSocket-Key", "not base64!")), Errc::ws_handshake_invalid_key);
  EXPECT_EQ(rejection_of(Req().set("Sec-WebSocket-Key", "Zm9vYmFy")), Errc::ws_handshake_invalid_key);
  Req twice;
  twice.fields.emplace_back("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(rejection_of(twice), Errc::ws_handshake_invalid_key);
  EXPECT_EQ(rejection_of(Req().set("Sec-WebSocket-Protocol", "chat, a b")),
            Errc::ws_handshake_invalid_field);
}

TEST(WebSocketHandshake, MalformedRequestIsAnswered400) {
  auto v = validate_handshake(Req().erase("Sec-WebSocket-Key").head());
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().http_status_hint, 400);
  const Rejection r = make_rejection(v.error());
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(r.body.empty());
  EXPECT_EQ(r.headers[1].value, std::to_string(r.body.size()));
}

TEST(WebSocketHandshake, WrongVersionIsAnswered426WithVersion13) {
  auto v = validate_handshake(Req().set("Sec-WebSocket-Version", "8").head());
  ASSERT_FALSE(v);
  const Rejection r = make_rejection(v.error());
  EXPECT_EQ(r.status, 426);
  bool has_version = false;
  for (const auto& h : r.headers) has_version |= h.name == "Sec-WebSocket-Version" && h.value == "13";
  EXPECT_TRUE(has_version);
}

TEST(WebSocketHandshake, SubprotocolsAreParsedInOrderAcrossFieldLines) {
  Req r;
  r.fields.emplace_back("Sec-WebSocket-Protocol", "chat, superchat");
  r.fields.emplace_back("Sec-WebSocket-Protocol", " ,v2.json ");
  auto v = validate_handshake(r.head());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->subprotocols, (std::vector<std::string>{"chat", "superchat", "v2.json"}));
  auto a = make_acceptance(*v, "superchat", DeflateConfig{});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->subprotocol, "superchat");
  EXPECT_EQ(a->headers.back().name, "Sec-WebSocket-Protocol");
  EXPECT_EQ(a->headers.back().value, "superchat");
  EXPECT_FALSE(make_acceptance(*v, "bad value", DeflateConfig{}));
}

TEST(WebSocketHandshake, DeflateIsNegotiatedWhenOfferedAndEnabled) {
  Req r;
  r.set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
  auto v = validate_handshake(r.head());
  ASSERT_TRUE(v);
  ASSERT_EQ(v->extensions.size(), 1u);
  DeflateConfig cfg;
  EXPECT_FALSE(make_acceptance(*v, "", cfg)->deflate);  // disabled by default
  cfg.enabled = true;
  auto a = make_acceptance(*v, "", cfg);
  ASSERT_TRUE(a && a->deflate);
  EXPECT_EQ(a->headers.back().name, "Sec-WebSocket-Extensions");
  EXPECT_EQ(a->headers.back().value, "permessage-deflate");
}

TEST(WebSocketHandshake, MalformedExtensionHeaderIsIgnoredNotRejected) {
  auto v = validate_handshake(Req().set("Sec-WebSocket-Extensions", "permessage-deflate;;").head());
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->extensions.empty());
}

}  // namespace
