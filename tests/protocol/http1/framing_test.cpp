// decide_framing: every branch of RFC 9112 §6 / RFC 9110 §6.4.1 as the server applies them.
#include <gtest/gtest.h>

#include "protocol/http1/framing.hpp"

namespace lancet::http1 {
namespace {

RequestFacts get11() { return RequestFacts{Version::http11, false, true, false, false}; }

TEST(Http1Framing, DeclaredLengthWins) {
  auto f = decide_framing(get11(), {200, 12, false, false});
  EXPECT_EQ(f.body, BodyFraming::content_length);
  EXPECT_EQ(f.length, 12u);
  EXPECT_TRUE(f.keep_alive);
  EXPECT_FALSE(f.add_chunked_field);
}

TEST(Http1Framing, NoLengthOnHttp11IsChunked) {
  auto f = decide_framing(get11(), {200, std::nullopt, false, false});
  EXPECT_EQ(f.body, BodyFraming::chunked);
  EXPECT_TRUE(f.add_chunked_field);
}

TEST(Http1Framing, AppChunkedIsNotAddedTwice) {
  auto f = decide_framing(get11(), {200, std::nullopt, true, false});
  EXPECT_EQ(f.body, BodyFraming::chunked);
  EXPECT_FALSE(f.add_chunked_field);
}

TEST(Http1Framing, NoLengthOnHttp10RunsUntilClose) {
  RequestFacts r = get11();
  r.version = Version::http10;
  auto f = decide_framing(r, {200, std::nullopt, false, false});
  EXPECT_EQ(f.body, BodyFraming::until_close);
  EXPECT_FALSE(f.keep_alive);
}

TEST(Http1Framing, Http10NeverGetsTransferEncoding) {
  RequestFacts r = get11();
  r.version = Version::http10;
  auto f = decide_framing(r, {200, std::nullopt, true, false});
  EXPECT_EQ(f.body, BodyFraming::until_close);
  EXPECT_TRUE(f.strip_length_fields);
}

TEST(Http1Framing, InformationalAndNoContentHaveNoBodyAndNoLength) {
  for (std::uint16_t status : {100, 103, 204}) {
    auto f = decide_framing(get11(), {status, 5, false, false});
    EXPECT_EQ(f.body, BodyFraming::none) << status;
    EXPECT_TRUE(f.strip_length_fields) << status;
  }
}

TEST(Http1Framing, HeadAndNotModifiedHaveNoBodyButKeepLength) {
  RequestFacts head = get11();
  head.is_head = true;
  auto f = decide_framing(head, {200, 5, false, false});
  EXPECT_EQ(f.body, BodyFraming::none);
  EXPECT_FALSE(f.strip_length_fields);
  auto g = decide_framing(get11(), {304, 5, false, false});
  EXPECT_EQ(g.body, BodyFraming::none);
  EXPECT_FALSE(g.strip_length_fields);
}

TEST(Http1Framing, AnyCloseWishEndsKeepAlive) {
  RequestFacts client_close = get11();
  client_close.keep_alive = false;
  EXPECT_FALSE(decide_framing(client_close, {200, 0, false, false}).keep_alive);
  RequestFacts draining = get11();
  draining.close_requested = true;
  EXPECT_FALSE(decide_framing(draining, {200, 0, false, false}).keep_alive);
  EXPECT_FALSE(decide_framing(get11(), {200, 0, false, true}).keep_alive);
  RequestFacts waiting = get11();
  waiting.unread_body_waiting_for_continue = true;
  EXPECT_FALSE(decide_framing(waiting, {417, 0, false, false}).keep_alive);
}

}  // namespace
}  // namespace lancet::http1
