// websocket::Connection: events, every violation's close code, ping/pong, close handshake,
// timers, sends and output.
#include "protocol/websocket/connection.hpp"

#include <gtest/gtest.h>

#include "tests/protocol/websocket/harness.hpp"

namespace {

using namespace lancet;
using namespace lancet::websocket;
using namespace lancet::websocket::testing;
using Events = std::vector<std::string>;

std::string raw(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s += static_cast<char>(b);
  return s;
}

TEST(WebSocketConnection, MaskedTextMessageIsDelivered) {
  Connection conn;
  // RFC 6455 §5.7: a single-frame masked text message "Hello".
  EXPECT_EQ(feed(conn, raw({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})),
            Events{"text:Hello"});
  EXPECT_EQ(conn.state(), State::open);
}

TEST(WebSocketConnection, FragmentedMessageWithInterleavedPingIsReassembled) {
  Connection conn;
  EXPECT_EQ(feed(conn, text("Hel", false) + ping("p") + cont("lo", false) + cont("!")),
            (Events{"ping:p", "text:Hello!"}));
  EXPECT_EQ(decode_server(conn.take_output()), (std::vector<ServerFrame>{{true, false, 0xa, "p"}}));
}

TEST(WebSocketConnection, BinaryAndEmptyMessagesAreDelivered) {
  Connection conn;
  EXPECT_EQ(feed(conn, binary(std::string("\0\x01\xff", 3)) + text("") + binary("", false) + cont("")),
            (Events{"binary:" + std::string("\0\x01\xff", 3), "text:", "binary:"}));
}

TEST(WebSocketConnection, LargeLengthsUse16And64BitEncodings) {
  Connection conn;
  const std::string medium(300, 'm');
  const std::string large(70000, 'L');
  EXPECT_EQ(feed(conn, binary(medium) + binary(large)), (Events{"binary:" + medium, "binary:" + large}));
}

TEST(WebSocketConnection, PingIsAnsweredWithPongAutomatically) {
  Connection conn;
  EXPECT_EQ(feed(conn, ping("are you there")), Events{"ping:are you there"});
  EXPECT_EQ(decode_server(conn.take_output()),
            (std::vector<ServerFrame>{{true, false, 0xa, "are you there"}}));
}

TEST(WebSocketConnection, PongIsSurfacedAndNotAnswered) {
  Connection conn;
  EXPECT_EQ(feed(conn, pong("x")), Events{"pong:x"});
  EXPECT_EQ(conn.pending_output_bytes(), 0u);
}

TEST(WebSocketConnection, CloseIsEchoedOnceAndEndsTheConnection) {
  Connection conn;
  EXPECT_EQ(feed(conn, close_frame(1000, "bye") + text("ignored")), Events{"close:1000:bye"});
  EXPECT_EQ(conn.state(), State::closed);
  const std::string expected = std::string("\x03\xe8", 2) + "bye";
  EXPECT_EQ(decode_server(conn.take_output()), (std::vector<ServerFrame>{{true, false, 0x8, expected}}));
  EXPECT_TRUE(conn.should_close());
  EXPECT_EQ(feed(conn, close_frame(1000)), Events{});
  EXPECT_EQ(conn.pending_output_bytes(), 0u);
  EXPECT_EQ(conn.error(), nullptr);
  EXPECT_FALSE(conn.send_text("late"));
}

TEST(WebSocketConnection, EmptyCloseIsReported1005AndEchoedEmpty) {
  Connection conn;
  EXPECT_EQ(feed(conn, frame(0x8, "")), Events{"close:1005:"});
  EXPECT_EQ(decode_server(conn.take_output()), (std::vector<ServerFrame>{{true, false, 0x8, ""}}));
}

TEST(WebSocketConnection, OurCloseWaitsForThePeersClose) {
  Connection conn;
  ASSERT_TRUE(conn.send_close(1001, "going"));
  EXPECT_EQ(conn.state(), State::closing);
  EXPECT_EQ(decode_server(conn.take_output()),
            (std::vector<ServerFrame>{{true, false, 0x8, std::string("\x03\xe9", 2) + "going"}}));
  EXPECT_EQ(feed(conn, text("still") + ping("p") + close_frame(1001)),
            (Events{"text:still", "ping:p", "close:1001:"}));
  EXPECT_EQ(conn.state(), State::closed);
  EXPECT_EQ(conn.pending_output_bytes(), 0u);  // no pong and no second close after ours
  EXPECT_EQ(conn.send_close().error().code, Errc::ws_send_after_close);
}

struct Violation {
  std::string name;
  std::string bytes;
  std::uint16_t code;
  Errc errc;
};

std::vector<Violation> violations() {
  ClientFrame unmasked;
  unmasked.masked = false;
  unmasked.payload = "x";
  ClientFrame rsv1;
  rsv1.rsv1 = true;
  return {
      {"unmasked", encode(unmasked), 1002, Errc::ws_unmasked_frame},
      {"rsv1 without deflate", encode(rsv1), 1002, Errc::ws_reserved_bits},
      {"rsv2", raw({0xa1, 0x80, 0, 0, 0, 0}), 1002, Errc::ws_reserved_bits},
      {"opcode 3", frame(0x3, "x"), 1002, Errc::ws_unknown_opcode},
      {"opcode 0xb", frame(0xb, ""), 1002, Errc::ws_unknown_opcode},
      {"16-bit length under 126", raw({0x82, 0xfe, 0x00, 0x05, 0, 0, 0, 0, 1, 2, 3, 4, 5}), 1002,
       Errc::ws_invalid_length},
      {"64-bit length under 65536", raw({0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0}), 1002,
       Errc::ws_invalid_length},
      {"64-bit length MSB", raw({0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}), 1002, Errc::ws_invalid_length},
      {"ping over 125", raw({0x89, 0xfe, 0, 126}), 1002, Errc::ws_control_frame_too_long},
      {"fragmented ping", frame(0x9, "x", false), 1002, Errc::ws_fragmented_control_frame},
      {"continuation first", cont("x"), 1002, Errc::ws_unexpected_continuation},
      {"text inside fragmented", text("a", false) + text("b"), 1002, Errc::ws_expected_continuation},
      {"close one byte", frame(0x8, "\x03"), 1002, Errc::ws_invalid_close_payload},
      {"close code 1005", close_frame(1005), 1002, Errc::ws_invalid_close_code},
      {"close code 1006", close_frame(1006), 1002, Errc::ws_invalid_close_code},
      {"close code 1004", close_frame(1004), 1002, Errc::ws_invalid_close_code},
      {"close code 1015", close_frame(1015), 1002, Errc::ws_invalid_close_code},
      {"close code 999", close_frame(999), 1002, Errc::ws_invalid_close_code},
      {"close code 5000", close_frame(5000), 1002, Errc::ws_invalid_close_code},
      {"close reason not utf8", close_frame(1000, "\xff"), 1007, Errc::ws_invalid_utf8},
      {"text not utf8", text("a\xc0\xafz"), 1007, Errc::ws_invalid_utf8},
      {"text truncated code point", text("\xe2\x82"), 1007, Errc::ws_invalid_utf8},
  };
}

TEST(WebSocketConnection, EveryViolationClosesWithItsCode) {
  for (const Violation& v : violations()) {
    SCOPED_TRACE(v.name);
    Connection conn;
    conn.receive_data(v.bytes);
    const Event ev = conn.next_event();
    ASSERT_TRUE(std::holds_alternative<Close>(ev));
    EXPECT_EQ(std::get<Close>(ev).code, v.code);
    ASSERT_NE(conn.error(), nullptr);
    EXPECT_EQ(conn.error()->code, v.errc);
    EXPECT_EQ(conn.error()->ws_close_hint, v.code);
    EXPECT_EQ(conn.state(), State::closed);
    const auto frames = decode_server(conn.take_output());
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].opcode, 0x8);
    ASSERT_GE(frames[0].payload.size(), 2u);
    EXPECT_EQ(static_cast<std::uint8_t>(frames[0].payload[0]) << 8 |
                  static_cast<std::uint8_t>(frames[0].payload[1]),
              v.code);
    // Further input is ignored.
    EXPECT_EQ(feed(conn, text("more")), Events{});
    EXPECT_TRUE(std::holds_alternative<NeedData>(conn.next_event()));
    EXPECT_TRUE(conn.should_close());
  }
}

TEST(WebSocketConnection, InvalidUtf8IsDetectedBeforeTheMessageEnds) {
  Connection conn;
  EXPECT_EQ(feed(conn, text("ok", false) + cont("\xed\xa0", false)),
            Events{"close:1007:invalid UTF-8 in text message"});
}

TEST(WebSocketConnection, InvalidUtf8IsDetectedMidFrame) {
  Connection conn;
  const std::string frame_bytes = text(std::string(1000, 'a') + "\xff" + std::string(1000, 'b'));
  EXPECT_EQ(feed(conn, frame_bytes.substr(0, 1200)), Events{"close:1007:invalid UTF-8 in text message"});
}

TEST(WebSocketConnection, CodePointSplitAcrossFragmentsIsAccepted) {
  Connection conn;
  EXPECT_EQ(feed(conn, text("\xf0\x9f", false) + cont("\x98", false) + cont("\x80")),
            Events{"text:\xf0\x9f\x98\x80"});
}

TEST(WebSocketConnection, MessageOverTheLimitCloses1009FromTheHeader) {
  Options o;
  o.max_message_bytes = 10;
  EXPECT_EQ(close_code_after(text("0123456789"), o), 0);
  EXPECT_EQ(close_code_after(text("0123456789a"), o), 1009);
  EXPECT_EQ(close_code_after(text("01234", false) + cont("56789", false) + cont("a"), o), 1009);
  Connection conn(o);
  conn.receive_data(raw({0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0}));  // header of a 4 GiB frame
  conn.receive_data(raw({1, 2, 3, 4}));
  EXPECT_EQ(drain_events(conn), Events{"close:1009:message too big"});
}

TEST(WebSocketConnection, EofWithoutCloseIs1006AndSendsNothing) {
  Connection conn;
  conn.receive_data(text("partial").substr(0, 4));
  conn.receive_eof();
  EXPECT_EQ(drain_events(conn), Events{"close:1006:connection lost without a close frame"});
  EXPECT_EQ(conn.error()->code, Errc::ws_connection_lost);
  EXPECT_EQ(conn.pending_output_bytes(), 0u);
  EXPECT_TRUE(conn.should_close());
}

TEST(WebSocketConnection, EofAfterCloseHandshakeIsClean) {
  Connection conn;
  EXPECT_EQ(feed(conn, close_frame(1000)), Events{"close:1000:"});
  conn.receive_eof();
  EXPECT_TRUE(std::holds_alternative<NeedData>(conn.next_event()));
  EXPECT_EQ(conn.error(), nullptr);
}

TEST(WebSocketConnection, SendsAreUnmaskedFramesAndFragmentsAreContinuations) {
  Connection conn;
  ASSERT_TRUE(conn.send_text("Hel", false));
  ASSERT_TRUE(conn.send_text("lo"));
  ASSERT_TRUE(conn.send_binary(std::string(200, 'b')));
  ASSERT_TRUE(conn.send_ping("p"));
  ASSERT_TRUE(conn.send_pong("q"));
  EXPECT_EQ(decode_server(conn.take_output()),
            (std::vector<ServerFrame>{{false, false, 0x1, "Hel"},
                                      {true, false, 0x0, "lo"},
                                      {true, false, 0x2, std::string(200, 'b')},
                                      {true, false, 0x9, "p"},
                                      {true, false, 0xa, "q"}}));
}

TEST(WebSocketConnection, InvalidSendsAreLocalErrors) {
  Connection conn;
  EXPECT_EQ(conn.send_text("\xff").error().code, Errc::ws_invalid_send);
  EXPECT_EQ(conn.send_text("\xe2\x82", true).error().code, Errc::ws_invalid_send);
  ASSERT_TRUE(conn.send_text("\xe2\x82", false));  // completed by the next fragment
  EXPECT_EQ(conn.send_binary("x").error().code, Errc::send_out_of_order);
  ASSERT_TRUE(conn.send_text("\xac"));
  EXPECT_EQ(conn.send_ping(std::string(126, 'p')).error().code, Errc::ws_invalid_send);
  EXPECT_EQ(conn.send_close(1006).error().code, Errc::ws_invalid_send);
  EXPECT_EQ(conn.send_close(1000, std::string(124, 'r')).error().code, Errc::ws_invalid_send);
  EXPECT_EQ(conn.send_close(1000, "\xff").error().code, Errc::ws_invalid_send);
  EXPECT_EQ(conn.send_close(kCloseNoStatus, "r").error().code, Errc::ws_invalid_send);
  EXPECT_EQ(conn.state(), State::open);
  EXPECT_EQ(conn.send_binary("\xff").has_value(), true);
  EXPECT_EQ(conn.send_text("\xff").error().origin, Origin::local);
}

TEST(WebSocketConnection, PendingOutputIsConsumedPartially) {
  Connection conn;
  ASSERT_TRUE(conn.send_text("abc"));
  ASSERT_TRUE(conn.send_text("def"));
  std::array<std::string_view, 4> views;
  ASSERT_EQ(conn.pending_output(views), 2u);
  conn.consume_output(3);
  ASSERT_EQ(conn.pending_output(views), 2u);
  EXPECT_EQ(views[0], "bc");
  conn.consume_output(5);
  ASSERT_EQ(conn.pending_output(views), 1u);
  EXPECT_EQ(views[0], "ef");
  EXPECT_EQ(conn.pending_output_bytes(), 2u);
}

// An I/O layer writes pending_output() views while it may queue more (io_uring keeps a send in
// flight while a pong or a keepalive ping is queued): queuing must not move queued bytes.
TEST(WebSocketConnection, PendingViewsSurviveQueuingMoreOutput) {
  Options o;
  o.ping_interval_ms = 10;
  Connection conn(o, 0);
  ASSERT_TRUE(conn.send_text("x"));  // short: its bytes live inside the string object (SSO)
  ASSERT_TRUE(conn.send_binary(std::string(100000, 'b')));
  std::array<std::string_view, 4> before;
  ASSERT_EQ(conn.pending_output(before), 2u);
  const std::string first(before[0]);
  const std::string second(before[1]);
  for (std::size_t i = 0; i < 100; ++i) ASSERT_TRUE(conn.send_text(std::string(i, 'm')));
  feed(conn, ping("p"));      // queues a pong
  conn.on_timer(10);          // queues a keepalive ping
  std::array<std::string_view, 4> after;
  ASSERT_EQ(conn.pending_output(after), 4u);
  EXPECT_EQ(after[0].data(), before[0].data());
  EXPECT_EQ(after[1].data(), before[1].data());
  EXPECT_EQ(before[0], first);
  EXPECT_EQ(before[1], second);
}

TEST(WebSocketConnection, KeepalivePingIsSentWhenDueAndPongClearsIt) {
  Options o;
  o.ping_interval_ms = 1000;
  o.ping_timeout_ms = 500;
  Connection conn(o, 10000);
  EXPECT_EQ(conn.next_deadline(), std::optional<std::uint64_t>(11000));
  conn.on_timer(10999);
  EXPECT_EQ(conn.pending_output_bytes(), 0u);
  conn.on_timer(11000);
  const auto frames = decode_server(conn.take_output());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0x9);
  EXPECT_EQ(conn.next_deadline(), std::optional<std::uint64_t>(11500));
  EXPECT_EQ(feed(conn, pong(frames[0].payload)), Events{"pong:" + frames[0].payload});
  EXPECT_EQ(conn.next_deadline(), std::optional<std::uint64_t>(12000));
  conn.on_timer(11600);
  EXPECT_EQ(conn.state(), State::open);
}

TEST(WebSocketConnection, UnansweredPingCloses1011) {
  Options o;
  o.ping_interval_ms = 1000;
  o.ping_timeout_ms = 500;
  Connection conn(o, 0);
  conn.on_timer(1000);
  conn.take_output();
  EXPECT_EQ(feed(conn, pong("not ours")), Events{"pong:not ours"});
  conn.on_timer(1499);
  EXPECT_EQ(conn.state(), State::open);
  conn.on_timer(1500);
  EXPECT_EQ(conn.state(), State::closed);
  EXPECT_EQ(drain_events(conn), Events{"close:1011:keepalive ping timeout"});
  EXPECT_EQ(conn.error()->code, Errc::ws_ping_timeout);
  const auto frames = decode_server(conn.take_output());
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload.substr(0, 2), std::string("\x03\xf3", 2));
  EXPECT_EQ(conn.next_deadline(), std::nullopt);
}

TEST(WebSocketConnection, NoPingsWithoutAnInterval) {
  Connection conn;
  EXPECT_EQ(conn.next_deadline(), std::nullopt);
  conn.on_timer(1u << 30);
  EXPECT_EQ(conn.pending_output_bytes(), 0u);
}

// ---- permessage-deflate ----------------------------------------------------------------------

Options deflate_options(bool no_context_takeover = false) {
  Options o;
  DeflateParams p;
  p.client_no_context_takeover = no_context_takeover;
  p.server_no_context_takeover = no_context_takeover;
  o.deflate = p;
  return o;
}

std::string compressed_frame(ClientDeflater& d, std::uint8_t opcode, std::string_view msg) {
  ClientFrame f;
  f.opcode = opcode;
  f.rsv1 = true;
  f.payload = d.compress(msg);
  return encode(f);
}

TEST(WebSocketConnection, CompressedMessagesAreInflated) {
  Connection conn(deflate_options());
  ClientDeflater client;
  std::string wire = compressed_frame(client, 0x1, "Hello");
  wire += compressed_frame(client, 0x1, "Hello");  // a back-reference into the first message
  EXPECT_EQ(feed(conn, wire + text("plain")),
            (Events{"text:Hello", "text:Hello", "text:plain"}));
}

TEST(WebSocketConnection, Rsv1OnContinuationOrControlIsProtocolError) {
  ClientFrame c;
  c.opcode = 0x0;
  c.rsv1 = true;
  EXPECT_EQ(close_code_after(text("a", false) + encode(c), deflate_options()), 1002);
  ClientFrame p;
  p.opcode = 0x9;
  p.rsv1 = true;
  EXPECT_EQ(close_code_after(encode(p), deflate_options()), 1002);
}

TEST(WebSocketConnection, CompressedZipBombCloses1009) {
  Options o = deflate_options();
  o.max_message_bytes = 1 << 20;
  ClientDeflater client;
  const std::string bomb = std::string(64 << 20, '\0');
  Connection conn(o);
  conn.receive_data(compressed_frame(client, 0x2, bomb));
  EXPECT_EQ(drain_events(conn), Events{"close:1009:message too big"});
}

TEST(WebSocketConnection, CorruptCompressedDataCloses1007) {
  ClientFrame f;
  f.opcode = 0x2;
  f.rsv1 = true;
  f.payload = std::string("\xff\xff\xff\xff", 4);
  EXPECT_EQ(close_code_after(encode(f), deflate_options()), 1007);
}

TEST(WebSocketConnection, SentMessagesAreCompressedWithRsv1OnTheFirstFrame) {
  Connection conn(deflate_options());
  ASSERT_TRUE(conn.send_text("Hello", false));
  ASSERT_TRUE(conn.send_text(", world"));
  const auto frames = decode_server(conn.take_output());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].rsv1);
  EXPECT_FALSE(frames[1].rsv1);
  ClientInflater client;
  EXPECT_EQ(client.decompress(frames[0].payload + frames[1].payload), "Hello, world");
}

}  // namespace
