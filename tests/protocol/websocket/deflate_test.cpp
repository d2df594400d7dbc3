// permessage-deflate compression/decompression: round trips against zlib as the client, context
// takeover, and the decompressed-size bound.
#include "protocol/websocket/deflate.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/protocol/websocket/harness.hpp"

namespace {

using namespace lancet;
using namespace lancet::websocket;
using lancet::websocket::testing::ClientDeflater;
using lancet::websocket::testing::ClientInflater;

TEST(MessageDeflater, EmptyMessageIsOneZeroByte) {
  MessageDeflater d(DeflateParams{});
  std::string out;
  ASSERT_TRUE(d.compress("", true, out));
  EXPECT_EQ(out, std::string(1, '\0'));
}

TEST(MessageInflater, Rfc7692ExampleHelloDecodes) {
  // RFC 7692 §7.2.3.1: "Hello" compressed, no context takeover needed.
  MessageInflater inf(DeflateParams{});
  std::string out;
  ASSERT_TRUE(inf.inflate(std::string("\xf2\x48\xcd\xc9\xc9\x07\x00", 7), 100, out));
  ASSERT_TRUE(inf.finish_message(100, out));
  EXPECT_EQ(out, "Hello");
}

TEST(MessageInflater, ZipBombStopsAtTheLimit) {
  ClientDeflater client;
  const std::string big(8 * 1024 * 1024, 'a');
  const std::string compressed = client.compress(big);
  ASSERT_LT(compressed.size(), 64 * 1024u);
  MessageInflater inf(DeflateParams{});
  std::string out;
  const std::size_t limit = 1024 * 1024;
  auto r = inf.inflate(compressed, limit, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::ws_message_too_big);
  EXPECT_EQ(r.error().ws_close_hint, 1009);
  EXPECT_LE(out.size(), limit);
  EXPECT_LE(out.capacity(), limit + 64 * 1024);
}

TEST(MessageInflater, ExactlyTheLimitIsAccepted) {
  ClientDeflater client;
  const std::string msg(100000, 'z');
  MessageInflater inf(DeflateParams{});
  std::string out;
  ASSERT_TRUE(inf.inflate(client.compress(msg), msg.size(), out));
  ASSERT_TRUE(inf.finish_message(msg.size(), out));
  EXPECT_EQ(out, msg);
  MessageInflater tight(DeflateParams{});
  std::string out2;
  EXPECT_FALSE(tight.inflate(ClientDeflater().compress(msg), msg.size() - 1, out2));
}

TEST(MessageInflater, GarbageIsInvalidCompressedData) {
  MessageInflater inf(DeflateParams{});
  std::string out;
  auto r = inf.inflate(std::string("\xff\xff\xff\xff\xff", 5), 1000, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::ws_invalid_compressed_data);
  EXPECT_EQ(r.error().ws_close_hint, 1007);
}

TEST(MessageInflater, FinalBlockEndsTheStreamForTheMessage) {
  // BFINAL=1 stored block holding "hi", then the next message starts a fresh stream.
  MessageInflater inf(DeflateParams{});
  std::string out;
  const std::string final_block("\x01\x02\x00\xfd\xffhi", 7);
  ASSERT_TRUE(inf.inflate(final_block, 100, out));
  ASSERT_TRUE(inf.finish_message(100, out));
  EXPECT_EQ(out, "hi");
  std::string next;
  ASSERT_TRUE(inf.inflate(ClientDeflater().compress("again"), 100, next));
  ASSERT_TRUE(inf.finish_message(100, next));
  EXPECT_EQ(next, "again");
}

RC_GTEST_PROP(MessageDeflater, ClientInflatesAnySequenceOfMessages, (bool no_context_takeover)) {
  const auto messages = *rc::gen::container<std::vector<std::string>>(rc::gen::arbitrary<std::string>());
  DeflateParams p;
  p.server_no_context_takeover = no_context_takeover;
  p.server_max_window_bits = static_cast<std::uint8_t>(*rc::gen::inRange(9, 16));
  MessageDeflater d(p);
  ClientInflater client(no_context_takeover);
  for (const std::string& m : messages) {
    // Split each message into fragments compressed one by one.
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, m.size() + 1);
    std::string wire;
    RC_ASSERT(d.compress(m.substr(0, cut), false, wire));
    RC_ASSERT(d.compress(m.substr(cut), true, wire));
    RC_ASSERT(client.decompress(wire) == std::optional<std::string>(m));
  }
}

RC_GTEST_PROP(MessageInflater, InflatesAnyClientMessages, (bool no_context_takeover)) {
  const auto messages = *rc::gen::container<std::vector<std::string>>(rc::gen::arbitrary<std::string>());
  DeflateParams p;
  p.client_no_context_takeover = no_context_takeover;
  ClientDeflater client(15, no_context_takeover);
  MessageInflater inf(p);
  for (const std::string& m : messages) {
    const std::string wire = client.compress(m);
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, wire.size() + 1);
    std::string out;
    RC_ASSERT(inf.inflate(std::string_view(wire).substr(0, cut), 1 << 20, out));
    RC_ASSERT(inf.inflate(std::string_view(wire).substr(cut), 1 << 20, out));
    RC_ASSERT(inf.finish_message(1 << 20, out));
    RC_ASSERT(out == m);
  }
}

}  // namespace
