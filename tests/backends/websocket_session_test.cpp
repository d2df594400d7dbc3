// backends/common WebSocketSession, without sockets: an http1 connection fed a handshake, the
// session driven with the app's ops, frames from a masking client (the websocket core's test
// harness), a manual clock, and the posted messages checked one by one.
#include "backends/common/websocket_session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/websocket/handshake.hpp"
#include "tests/protocol/websocket/harness.hpp"

namespace lancet::backend::common {
namespace {

using namespace std::chrono_literals;
using Clock = WebSocketSession::Clock;
namespace wst = websocket::testing;

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 §1.3's sample key

std::string handshake(std::string_view extra = "") {
  return "GET /chat?room=1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " + std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra) + "\r\n";
}

/// An http1 connection that parsed `bytes` up to the end of the handshake request, and a
/// session for it (the backend's begin_websocket, minus the socket).
struct Fixture {
  ServerConfig config;
  http1::ServerConnection http;
  std::shared_ptr<ExchangeFlow> flow = std::make_shared<ExchangeFlow>();
  std::unique_ptr<WebSocketSession> session;
  std::vector<Inbound> outbox;
  SendAccount sends;
  Clock::time_point now = Clock::time_point(100s);

  explicit Fixture(const std::string& bytes, ServerConfig cfg = {}) : config(std::move(cfg)) {
    http.receive_data(bytes);
    auto event = http.next_event();
    auto* head = event ? std::get_if<http1::RequestHead>(&*event) : nullptr;
    if (head == nullptr) {
      ADD_FAILURE() << "no request head";
      return;
    }
    auto request = websocket::validate_handshake(*head);
    EXPECT_TRUE(request.has_value());
    session = std::make_unique<WebSocketSession>(config, 7, flow, std::move(*request));
    outbox.push_back(session->requested(asgi::make_http_scope(*head, {})));
    auto end = http.next_event();  // EndOfMessage
    EXPECT_TRUE(end && std::holds_alternative<http1::EndOfMessage>(*end));
  }

  WebSocketSession::Io io() { return {outbox, sends}; }

  void op(Outbound o) { session->on_app_op(o, http, now, io()); }

  /// Everything the session would write now, consumed (and accounted, as a backend does).
  std::string take_output() {
    std::array<std::string_view, 64> views;
    std::string out;
    while (session->pending_output_bytes() > 0) {
      const std::size_t n = session->pending_output(views);
      std::size_t bytes = 0;
      for (std::size_t i = 0; i < n; ++i) {
        out.append(views[i]);
        bytes += views[i].size();
      }
      session->consume_output(bytes);
      sends.on_written(bytes, [&](Drained d) { outbox.push_back(d); });
    }
    return out;
  }

  std::vector<wst::ServerFrame> frames() { return wst::decode_server(take_output()); }

  void feed(std::string_view bytes) {
    session->receive_data(bytes);
    session->pump(now, io());
  }

  template <class T>
  std::vector<T> posted() {
    std::vector<T> out;
    for (const Inbound& m : outbox) {
      if (auto* t = std::get_if<T>(&m)) out.push_back(*t);
    }
    return out;
  }
};

void accept(Fixture& f, std::string subprotocol = "", std::vector<Header> headers = {}) {
  f.op(WsAccept{std::move(subprotocol), std::move(headers)});
  ASSERT_TRUE(f.session->is_open());
}

// ---- the handshake ---------------------------------------------------------------------------

TEST(WebSocketSession, RequestedCarriesTheWebSocketScopeAndSubprotocols) {
  Fixture f(handshake("Sec-WebSocket-Protocol: chat, superchat\r\n"));
  const auto requested = f.posted<WebSocketRequested>();
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0].id, 7u);
  EXPECT_EQ(requested[0].scope.type, "websocket");
  EXPECT_EQ(requested[0].scope.scheme, "ws");
  EXPECT_EQ(requested[0].scope.path, "/chat");
  EXPECT_EQ(requested[0].scope.query_string, "room=1");
  EXPECT_EQ(requested[0].subprotocols, (std::vector<std::string>{"chat", "superchat"}));
  EXPECT_EQ(requested[0].flow, f.flow);
  EXPECT_FALSE(f.session->is_open());
  EXPECT_FALSE(f.session->wants_read());  // http1 still owns the socket's bytes
}

TEST(WebSocketSession, AcceptQueuesThe101AndTakesOverHttp1) {
  ServerConfig config;
  config.default_headers = {{"x-default", "d"}};
  Fixture f(handshake("Sec-WebSocket-Protocol: chat\r\n"), config);
  accept(f, "chat", {{"x-app", "a"}});
  EXPECT_FALSE(f.http.wants_write());  // its output moved to the session
  const std::string out = f.take_output();
  EXPECT_EQ(out.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << out;
  // RFC 6455 §1.3: the accept key of the sample nonce.
  EXPECT_NE(out.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_NE(out.find("Sec-WebSocket-Protocol: chat\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-default: d\r\n"), std::string::npos);
  EXPECT_NE(out.find("x-app: a\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
  EXPECT_TRUE(f.session->wants_read());
}

TEST(WebSocketSession, FramesSentBeforeThe101AreDecodedAfterIt) {
  Fixture f(handshake() + wst::text("early"));
  accept(f);
  f.session->pump(f.now, f.io());
  const auto received = f.posted<WebSocketReceived>();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].data, "early");
  EXPECT_TRUE(received[0].text);
}

TEST(WebSocketSession, OpsBeforeTheAcceptAreDroppedAndReleased) {
  Fixture f(handshake());
  f.flow->unsent_bytes += 5;  // the app side counts before submitting
  f.op(WsSend{"hello", true});
  f.op(WsClose{1000, ""});
  EXPECT_EQ(f.flow->unsent_bytes.load(), 0u);
  EXPECT_FALSE(f.session->is_open());
  EXPECT_FALSE(f.session->app_done());
}

TEST(WebSocketSession, RejectionOfAnOldVersionIs426NamingVersion13) {
  http1::ServerConnection http;
  http.receive_data(
      "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  auto event = http.next_event();
  ASSERT_TRUE(event && std::holds_alternative<http1::RequestHead>(*event));
  auto request = websocket::validate_handshake(std::get<http1::RequestHead>(*event));
  ASSERT_FALSE(request.has_value());
  http.request_close();
  ASSERT_TRUE(send_handshake_rejection(http, request.error()));
  const std::string out = http.take_output();
  EXPECT_EQ(out.rfind("HTTP/1.1 426 ", 0), 0u) << out;
  EXPECT_NE(out.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
}

// ---- messages and the queue bound ------------------------------------------------------------

TEST(WebSocketSession, MessagesArePostedWhole) {
  Fixture f(handshake());
  accept(f);
  f.take_output();
  f.feed(wst::text("hel", false) + wst::ping("p") + wst::cont("lo") +
         wst::binary(std::string("\0\1", 2)));
  const auto received = f.posted<WebSocketReceived>();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].data, "hello");
  EXPECT_EQ(received[1].data, std::string("\0\1", 2));
  EXPECT_FALSE(received[1].text);
  // The ping was answered; nothing else reached the app.
  EXPECT_EQ(f.frames(), (std::vector<wst::ServerFrame>{{true, false, 0xa, "p"}}));
}

TEST(WebSocketSession, QueueBoundStopsDecodingAndReadingUntilConsumed) {
  ServerConfig config;
  config.ws.max_queue = 2;
  Fixture f(handshake(), config);
  accept(f);
  std::string five;
  for (int i = 0; i < 5; ++i) five += wst::text("m" + std::to_string(i));
  f.feed(five);
  EXPECT_EQ(f.posted<WebSocketReceived>().size(), 2u);
  EXPECT_FALSE(f.session->wants_read());  // TCP pushes back from here
  f.session->on_consumed(1);
  EXPECT_TRUE(f.session->wants_read());
  f.session->pump(f.now, f.io());
  EXPECT_EQ(f.posted<WebSocketReceived>().size(), 3u);
  f.session->on_consumed(2);
  f.session->pump(f.now, f.io());
  const auto received = f.posted<WebSocketReceived>();
  ASSERT_EQ(received.size(), 5u);
  EXPECT_EQ(received[4].data, "m4");
}

TEST(WebSocketSession, ConsumingMoreThanPostedDoesNotOpenTheBound) {
  ServerConfig config;
  config.ws.max_queue = 1;
  Fixture f(handshake(), config);
  accept(f);
  f.session->on_consumed(10);  // a confused app side: ignored beyond what was posted
  f.feed(wst::text("a") + wst::text("b"));
  EXPECT_EQ(f.posted<WebSocketReceived>().size(), 1u);
}

// ---- endings ---------------------------------------------------------------------------------

TEST(WebSocketSession, ClientCloseIsPostedOnceEchoedThenTheSocketCloses) {
  Fixture f(handshake());
  accept(f);
  f.take_output();
  f.feed(wst::close_frame(1001, "bye") + wst::text("after"));
  const auto closed = f.posted<WebSocketClosed>();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 1001);
  EXPECT_EQ(closed[0].reason, "bye");
  EXPECT_TRUE(f.session->app_done());
  EXPECT_TRUE(f.posted<WebSocketReceived>().empty());
  EXPECT_FALSE(f.session->should_close());  // the echo is not written yet
  EXPECT_EQ(f.frames(), (std::vector<wst::ServerFrame>{{true, false, 0x8, "\x03\xe9" "bye"}}));
  EXPECT_TRUE(f.session->should_close());
}

TEST(WebSocketSession, ViolationsArePostedWithTheirCloseCode) {
  ServerConfig config;
  config.ws.max_message_bytes = 10;
  {
    Fixture f(handshake(), config);
    accept(f);
    wst::ClientFrame unmasked;
    unmasked.payload = "x";
    unmasked.masked = false;
    f.feed(wst::encode(unmasked));
    ASSERT_EQ(f.posted<WebSocketClosed>().size(), 1u);
    EXPECT_EQ(f.posted<WebSocketClosed>()[0].code, 1002);
  }
  {
    Fixture f(handshake(), config);
    accept(f);
    f.feed(wst::text(std::string(11, 'x')));
    ASSERT_EQ(f.posted<WebSocketClosed>().size(), 1u);
    EXPECT_EQ(f.posted<WebSocketClosed>()[0].code, 1009);
    f.take_output();
    EXPECT_TRUE(f.session->should_close());
  }
  {
    Fixture f(handshake(), config);
    accept(f);
    f.feed(wst::text("\xff"));
    ASSERT_EQ(f.posted<WebSocketClosed>().size(), 1u);
    EXPECT_EQ(f.posted<WebSocketClosed>()[0].code, 1007);
  }
}

TEST(WebSocketSession, AppCloseDropsLaterMessagesAndWaitsForTheClientsClose) {
  Fixture f(handshake());
  accept(f);
  f.take_output();
  f.op(WsClose{4000, "done"});
  EXPECT_TRUE(f.session->app_done());
  EXPECT_EQ(f.frames(), (std::vector<wst::ServerFrame>{{true, false, 0x8, "\x0f\xa0" "done"}}));
  EXPECT_FALSE(f.session->should_close());
  EXPECT_TRUE(f.session->wants_read());
  f.feed(wst::text("late") + wst::close_frame(4000, "done"));
  EXPECT_TRUE(f.posted<WebSocketReceived>().empty());
  EXPECT_TRUE(f.posted<WebSocketClosed>().empty());  // the app side knows: it closed
  EXPECT_TRUE(f.session->should_close());
  EXPECT_TRUE(f.take_output().empty());  // no second close frame
}

TEST(WebSocketSession, ClosingHandshakeTimesOut) {
  Fixture f(handshake());
  accept(f);
  f.op(WsClose{1000, ""});
  ASSERT_TRUE(f.session->deadline());
  EXPECT_EQ(*f.session->deadline(), f.now + WebSocketSession::kCloseTimeout);
  f.session->on_timer(f.now + 9s, f.io());
  EXPECT_FALSE(f.session->timed_out());
  f.session->on_timer(f.now + WebSocketSession::kCloseTimeout, f.io());
  EXPECT_TRUE(f.session->timed_out());
}

TEST(WebSocketSession, DrainClosesWith1001AndTellsTheApp) {
  Fixture f(handshake());
  accept(f);
  f.take_output();
  f.session->on_drain(f.now, f.io());
  f.session->on_drain(f.now, f.io());  // idempotent
  const auto closed = f.posted<WebSocketClosed>();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 1001);
  EXPECT_TRUE(f.session->app_done());
  const auto frames = f.frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, 0x8);
  EXPECT_EQ(frames[0].payload.substr(0, 2), "\x03\xe9");
}

TEST(WebSocketSession, EofWithoutCloseEndsTheSessionWith1006) {
  Fixture f(handshake());
  accept(f);
  f.session->receive_eof();
  f.session->pump(f.now, f.io());
  ASSERT_EQ(f.posted<WebSocketClosed>().size(), 1u);
  EXPECT_EQ(f.posted<WebSocketClosed>()[0].code, 1006);
  f.take_output();
  EXPECT_TRUE(f.session->should_close());
}

// ---- keepalive -------------------------------------------------------------------------------

TEST(WebSocketSession, KeepalivePingThenCloses1011WithoutAPong) {
  ServerConfig config;
  config.ws.ping_interval = 1.0;
  config.ws.ping_timeout = 0.5;
  Fixture f(handshake(), config);
  accept(f);
  f.take_output();
  ASSERT_TRUE(f.session->deadline());
  EXPECT_EQ(*f.session->deadline(), f.now + 1s);
  f.session->on_timer(f.now + 1s, f.io());
  const auto pings = f.frames();
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(pings[0].opcode, 0x9);
  EXPECT_EQ(*f.session->deadline(), f.now + 1500ms);
  f.session->on_timer(f.now + 1500ms, f.io());
  const auto closed = f.posted<WebSocketClosed>();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, 1011);
}

TEST(WebSocketSession, APongKeepsTheConnectionOpen) {
  ServerConfig config;
  config.ws.ping_interval = 1.0;
  config.ws.ping_timeout = 0.5;
  Fixture f(handshake(), config);
  accept(f);
  f.take_output();
  f.session->on_timer(f.now + 1s, f.io());
  const auto pings = f.frames();
  ASSERT_EQ(pings.size(), 1u);
  f.now += 1200ms;
  f.feed(wst::pong(pings[0].payload));
  f.session->on_timer(f.now + 600ms, f.io());
  EXPECT_TRUE(f.posted<WebSocketClosed>().empty());
  EXPECT_EQ(*f.session->deadline(), Clock::time_point(100s) + 2s);  // the next ping
}

TEST(WebSocketSession, KeepalivePausesWhileTheQueueIsFull) {
  ServerConfig config;
  config.ws.ping_interval = 1.0;
  config.ws.max_queue = 1;
  Fixture f(handshake(), config);
  accept(f);
  f.feed(wst::text("fills the queue"));
  EXPECT_FALSE(f.session->deadline());
  f.session->on_consumed(1);
  EXPECT_TRUE(f.session->deadline());
}

// ---- send backpressure -----------------------------------------------------------------------

TEST(WebSocketSession, SendsChargeWireBytesAndDrainedFollowsTheWrites) {
  Fixture f(handshake());
  accept(f);
  f.take_output();
  const std::size_t n = 256 * 1024;
  f.flow->unsent_bytes += n;  // what the app side does before submitting
  f.flow->drain_wanted = true;  // and its send() waits
  f.op(WsSend{std::string(n, 'x'), false});
  EXPECT_EQ(f.flow->unsent_bytes.load(), n);
  EXPECT_TRUE(f.posted<Drained>().empty());
  const auto frames = f.frames();  // written: the count falls through the low-water mark
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload.size(), n);
  EXPECT_EQ(f.flow->unsent_bytes.load(), 0u);
  EXPECT_EQ(f.posted<Drained>().size(), 1u);
}

TEST(WebSocketSession, NoDrainedFollowsTheWritesWhenTheAppSideDoesNotWait) {
  Fixture f(handshake());
  accept(f);
  f.take_output();
  const std::size_t n = 256 * 1024;
  f.flow->unsent_bytes += n;
  f.op(WsSend{std::string(n, 'x'), false});
  ASSERT_EQ(f.frames().size(), 1u);
  EXPECT_EQ(f.flow->unsent_bytes.load(), 0u);
  EXPECT_TRUE(f.posted<Drained>().empty());
}

TEST(WebSocketSession, CompressedSendsReleaseWhatCompressionSaved) {
  Fixture f(handshake("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
  accept(f);
  const std::string out = f.take_output();
  EXPECT_NE(out.find("Sec-WebSocket-Extensions: permessage-deflate"), std::string::npos);
  const std::size_t n = 1024 * 1024;
  f.flow->unsent_bytes += n;
  f.op(WsSend{std::string(n, 'a'), true});
  EXPECT_LT(f.flow->unsent_bytes.load(), kSendLowWater);  // a few KiB on the wire
  const auto frames = f.frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].rsv1);
  wst::ClientInflater inflater;
  EXPECT_EQ(inflater.decompress(frames[0].payload), std::string(n, 'a'));
  EXPECT_EQ(f.flow->unsent_bytes.load(), 0u);
}

TEST(WebSocketSession, NoCompressionWhenTurnedOff) {
  ServerConfig config;
  config.ws.per_message_deflate = false;
  Fixture f(handshake("Sec-WebSocket-Extensions: permessage-deflate\r\n"), config);
  accept(f);
  EXPECT_EQ(f.take_output().find("Sec-WebSocket-Extensions"), std::string::npos);
}

}  // namespace
}  // namespace lancet::backend::common
