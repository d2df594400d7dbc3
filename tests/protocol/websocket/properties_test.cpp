// Properties of websocket::Connection (STYLE 11.7): round trip for any payload and
// fragmentation, split invariance of the decoder, deflate round trips, UTF-8 across fragments.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/websocket/connection.hpp"
#include "protocol/websocket/utf8.hpp"
#include "tests/protocol/websocket/harness.hpp"

namespace {

using namespace lancet;
using namespace lancet::websocket;
using namespace lancet::websocket::testing;
using Events = std::vector<std::string>;

struct Message {
  bool is_text = false;
  std::string data;
};

// A message split into 1..4 fragments at generated points, each frame with its own mask.
std::string encode_fragmented(const Message& m, std::vector<std::string>* pieces_out = nullptr) {
  const std::size_t parts = *rc::gen::inRange<std::size_t>(1, 5);
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < parts; ++i) cuts.push_back(*rc::gen::inRange<std::size_t>(0, m.data.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  cuts.push_back(m.data.size());
  std::string wire;
  std::size_t at = 0;
  for (std::size_t i = 0; i < cuts.size(); ++i) {
    ClientFrame f;
    f.opcode = i == 0 ? (m.is_text ? 0x1 : 0x2) : 0x0;
    f.payload = m.data.substr(at, cuts[i] - at);
    f.fin = i + 1 == cuts.size();
    f.mask = *rc::gen::arbitrary<std::array<std::uint8_t, 4>>();
    if (pieces_out) pieces_out->push_back(f.payload);
    wire += encode(f);
    at = cuts[i];
  }
  return wire;
}

Message gen_message() {
  Message m;
  m.is_text = *rc::gen::arbitrary<bool>();
  m.data = *rc::gen::arbitrary<std::string>();
  if (m.is_text && !is_valid_utf8(m.data)) m.data = "text";
  if (*rc::gen::inRange(0, 10) == 0) m.data = std::string(*rc::gen::inRange(126, 70000), 'x');
  return m;
}

std::string expected_event(const Message& m) { return (m.is_text ? "text:" : "binary:") + m.data; }

RC_GTEST_PROP(WebSocketProperties, AnyFragmentedMessagesRoundTrip, ()) {
  const auto count = *rc::gen::inRange(0, 6);
  std::string wire;
  Events expected;
  for (int i = 0; i < count; ++i) {
    const Message m = gen_message();
    wire += encode_fragmented(m);
    expected.push_back(expected_event(m));
  }
  Connection conn;
  RC_ASSERT(feed(conn, wire) == expected);
  RC_ASSERT(conn.pending_output_bytes() == 0u);
}

// Feeds `wire` in the given pieces, pulling events after each; returns every event.
Events feed_in_pieces(Connection& conn, const std::string& wire, const std::vector<std::size_t>& cuts) {
  Events all;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    conn.receive_data(std::string_view(wire).substr(at, cut - at));
    for (auto& e : drain_events(conn)) all.push_back(std::move(e));
    at = cut;
  }
  conn.receive_data(std::string_view(wire).substr(at));
  for (auto& e : drain_events(conn)) all.push_back(std::move(e));
  return all;
}

std::vector<std::size_t> gen_cuts(std::size_t size) {
  auto cuts = *rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(0, size + 1));
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

RC_GTEST_PROP(WebSocketProperties, AnySplitOfValidInputGivesTheSameEvents, ()) {
  std::string wire;
  const auto count = *rc::gen::inRange(1, 5);
  for (int i = 0; i < count; ++i) {
    wire += encode_fragmented(gen_message());
    if (*rc::gen::arbitrary<bool>()) wire += ping(*rc::gen::container<std::string>(*rc::gen::inRange(0, 126), rc::gen::arbitrary<char>()));
  }
  if (*rc::gen::arbitrary<bool>()) wire += close_frame(1000, "done");
  Connection whole;
  const Events expected = feed(whole, wire);
  Connection split;
  RC_ASSERT(feed_in_pieces(split, wire, gen_cuts(wire.size())) == expected);
  RC_ASSERT(split.take_output() == whole.take_output());
}

RC_GTEST_PROP(WebSocketProperties, ByteByByteFeedingGivesTheSameEvents, ()) {
  const std::string wire = encode_fragmented(gen_message()) + ping("x") + close_frame(1001);
  Connection whole;
  const Events expected = feed(whole, wire);
  std::vector<std::size_t> cuts(wire.size());
  for (std::size_t i = 0; i < cuts.size(); ++i) cuts[i] = i;
  Connection split;
  RC_ASSERT(feed_in_pieces(split, wire, cuts) == expected);
}

RC_GTEST_PROP(WebSocketProperties, AnySplitOfInvalidInputGivesTheSameCloseCode, ()) {
  // Valid traffic followed by one arbitrary frame-ish tail: the verdict must not depend on splits.
  std::string wire = encode_fragmented(gen_message()) + *rc::gen::arbitrary<std::string>();
  Connection whole;
  whole.receive_eof();
  const Events expected = feed(whole, wire);
  Connection split;
  Events got = feed_in_pieces(split, wire, gen_cuts(wire.size()));
  split.receive_eof();
  for (auto& e : drain_events(split)) got.push_back(std::move(e));
  // `whole` saw EOF up front; the split run may first return NeedData, then the same close.
  RC_ASSERT(got == expected);
}

RC_GTEST_PROP(WebSocketProperties, ValidUtf8SplitAnywhereAcrossFragmentsIsAccepted, ()) {
  const std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // 1-, 2-, 3-, 4-byte code points
  Message m{true, s};
  Connection conn;
  RC_ASSERT(feed(conn, encode_fragmented(m)) == Events{"text:" + s});
}

RC_GTEST_PROP(WebSocketProperties, ServerMessagesRoundTripThroughAClientDecoder, (bool deflate)) {
  Options o;
  if (deflate) o.deflate = DeflateParams{};
  Connection conn(o);
  ClientInflater client;
  const auto messages = *rc::gen::container<std::vector<std::string>>(rc::gen::arbitrary<std::string>());
  for (const std::string& m : messages) {
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, m.size() + 1);
    RC_ASSERT(conn.send_binary(m.substr(0, cut), false));
    RC_ASSERT(conn.send_binary(m.substr(cut)));
    const auto frames = decode_server(conn.take_output());
    RC_ASSERT(frames.size() == 2u);
    RC_ASSERT(frames[0].opcode == 0x2 && !frames[0].fin && frames[0].rsv1 == deflate);
    RC_ASSERT(frames[1].opcode == 0x0 && frames[1].fin && !frames[1].rsv1);
    const std::string payload = frames[0].payload + frames[1].payload;
    RC_ASSERT((deflate ? client.decompress(payload) : std::optional<std::string>(payload)) == m);
  }
}

RC_GTEST_PROP(WebSocketProperties, CompressedClientMessagesRoundTrip, (bool no_context_takeover)) {
  Options o;
  DeflateParams p;
  p.client_no_context_takeover = no_context_takeover;
  o.deflate = p;
  Connection conn(o);
  ClientDeflater client(15, no_context_takeover);
  const auto messages = *rc::gen::container<std::vector<std::string>>(rc::gen::arbitrary<std::string>());
  std::string wire;
  Events expected;
  for (const std::string& m : messages) {
    // The compressed payload is itself fragmented at an arbitrary point.
    const std::string z = client.compress(m);
    const std::size_t cut = *rc::gen::inRange<std::size_t>(0, z.size() + 1);
    ClientFrame first;
    first.opcode = 0x2;
    first.rsv1 = true;
    first.fin = false;
    first.payload = z.substr(0, cut);
    wire += encode(first) + cont(z.substr(cut));
    expected.push_back("binary:" + m);
  }
  RC_ASSERT(feed_in_pieces(conn, wire, gen_cuts(wire.size())) == expected);
}

RC_GTEST_PROP(WebSocketProperties, OneByteOverTheLimitCloses1009, ()) {
  const auto limit = *rc::gen::inRange<std::size_t>(0, 3000);
  Options o;
  o.max_message_bytes = limit;
  Message m{false, std::string(limit, 'q')};
  RC_ASSERT(close_code_after(encode_fragmented(m), o) == 0);
  m.data += 'q';
  RC_ASSERT(close_code_after(encode_fragmented(m), o) == 1009);
}

}  // namespace
