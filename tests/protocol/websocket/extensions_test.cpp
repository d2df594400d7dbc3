// Sec-WebSocket-Extensions parsing and permessage-deflate negotiation (RFC 7692 §7.1).
#include "protocol/websocket/extensions.hpp"

#include <gtest/gtest.h>

namespace {

using namespace lancet::websocket;

std::optional<DeflateAgreement> negotiate(std::string_view header, DeflateConfig cfg = {}) {
  cfg.enabled = true;
  auto offers = parse_extensions(header);
  if (!offers) return std::nullopt;
  return negotiate_deflate(*offers, cfg);
}

TEST(WebSocketExtensions, ParsesOffersWithParameters) {
  auto offers = parse_extensions(
      "permessage-deflate; client_max_window_bits; server_max_window_bits=\"10\", "
      "x-webkit-deflate-frame,, foo;bar=baz");
  ASSERT_TRUE(offers);
  ASSERT_EQ(offers->size(), 3u);
  EXPECT_EQ((*offers)[0].name, "permessage-deflate");
  ASSERT_EQ((*offers)[0].params.size(), 2u);
  EXPECT_EQ((*offers)[0].params[0].name, "client_max_window_bits");
  EXPECT_FALSE((*offers)[0].params[0].value);
  EXPECT_EQ((*offers)[0].params[1].value, "10");
  EXPECT_EQ((*offers)[1].name, "x-webkit-deflate-frame");
  EXPECT_EQ((*offers)[2].params[0].value, "baz");
}

TEST(WebSocketExtensions, RejectsMalformedHeaders) {
  for (const char* bad : {"permessage-deflate;", "permessage-deflate; a=", "; a", "a b",
                          "a; b=\"unterminated", "a; b=c d"}) {
    EXPECT_FALSE(parse_extensions(bad)) << bad;
  }
}

TEST(WebSocketExtensions, PlainOfferIsAcceptedWithDefaults) {
  auto a = negotiate("permessage-deflate");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate");
  EXPECT_FALSE(a->params.server_no_context_takeover);
  EXPECT_EQ(a->params.server_max_window_bits, 15);
}

TEST(WebSocketExtensions, ContextTakeoverParametersAreAgreed) {
  auto a = negotiate("permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->params.server_no_context_takeover);
  EXPECT_TRUE(a->params.client_no_context_takeover);
  EXPECT_EQ(a->response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  DeflateConfig cfg;
  cfg.server_no_context_takeover = true;
  auto b = negotiate("permessage-deflate", cfg);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->response, "permessage-deflate; server_no_context_takeover");
}

TEST(WebSocketExtensions, WindowBitsAreLimitedToTheOfferAndConfig) {
  auto a = negotiate("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->params.server_max_window_bits, 10);
  EXPECT_EQ(a->params.client_max_window_bits, 12);
  EXPECT_EQ(a->response, "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
  DeflateConfig cfg;
  cfg.server_max_window_bits = 11;
  cfg.client_max_window_bits = 9;
  auto b = negotiate("permessage-deflate; client_max_window_bits", cfg);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->response, "permessage-deflate; server_max_window_bits=11; client_max_window_bits=9");
  // Without the parameter in the offer the server must not limit the client.
  auto c = negotiate("permessage-deflate", cfg);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->response, "permessage-deflate; server_max_window_bits=11");
}

TEST(WebSocketExtensions, MalformedOffersAreDeclinedAndTheNextOneTried) {
  for (const char* bad : {"permessage-deflate; server_max_window_bits=7",
                          "permessage-deflate; server_max_window_bits=16",
                          "permessage-deflate; server_max_window_bits=010",
                          "permessage-deflate; server_max_window_bits",
                          "permessage-deflate; client_max_window_bits=abc",
                          "permessage-deflate; server_no_context_takeover=1",
                          "permessage-deflate; unknown",
                          "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                          "permessage-deflate; server_max_window_bits=8"}) {
    EXPECT_FALSE(negotiate(bad)) << bad;
  }
  auto a = negotiate("permessage-deflate; server_max_window_bits=8, permessage-deflate");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->response, "permessage-deflate");
}

TEST(WebSocketExtensions, DisabledConfigAcceptsNothing) {
  auto offers = parse_extensions("permessage-deflate");
  ASSERT_TRUE(offers);
  EXPECT_FALSE(negotiate_deflate(*offers, DeflateConfig{}));
}

}  // namespace
