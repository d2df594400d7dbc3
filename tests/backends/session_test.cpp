// backends/common Session, without sockets: request bytes in, the app's ops in, a manual clock;
// the posted messages, the response bytes and what the session tells its backend checked. The
// socket-level suite (server_test.cpp) covers the same behaviours through each backend's I/O.
#include "backends/common/session.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace lancet::backend::common {
namespace {

using namespace std::chrono_literals;
using Clock = Session::Clock;
using Closing = Session::Closing;

/// The backend side of a session: a registry with a --limit-concurrency, readiness, files.
struct FakeHost : Session::Host {
  std::size_t limit = 0;  // 0: no limit
  std::vector<ExchangeId> active;
  std::vector<ExchangeId> ended;
  ExchangeId next = 1;
  bool file_opens = true;
  bool file_open = false;
  std::vector<std::string> files;

  ExchangeId begin_exchange() override {
    if (limit != 0 && active.size() >= limit) return 0;
    active.push_back(next);
    return next++;
  }
  void end_exchange(ExchangeId id) override {
    ended.push_back(id);
    std::erase(active, id);
  }
  classify::Readiness readiness() const override { return classify::Readiness::ready; }
  bool open_file(const std::string& path) override {
    files.push_back(path);
    file_open = file_opens;
    return file_opens;
  }
  bool sending_file() const override { return file_open; }

  // Body blocks (the app side's memory), when `blocks` is on: each a string kept by the host.
  bool blocks = false;
  std::vector<std::shared_ptr<std::string>> blocks_given;
  BodyBlock body_block(std::size_t n) override {
    if (!blocks) return {};
    auto memory = std::make_shared<std::string>(n, '?');
    blocks_given.push_back(memory);
    return BodyBlock{memory->data(), n, memory};
  }
};

struct Fixture {
  ServerConfig config;
  FakeHost host;
  std::vector<Inbound> outbox;
  Clock::time_point now = Clock::time_point(1000s);
  std::unique_ptr<Session> session;

  explicit Fixture(ServerConfig cfg = {}) : config(std::move(cfg)) {
    config.http.date_header = false;
    session = std::make_unique<Session>(config, host, outbox, std::nullopt, std::nullopt, now);
  }

  /// One turn as a backend takes it: bytes in (copied, so the caller's string may go), parse,
  /// everything written at once, cycles advanced.
  void feed(std::string_view bytes) {
    if (!bytes.empty()) session->receive_data(bytes, now);
    turn();
  }
  void turn() {
    do {
      session->pump(now);
      written += take_output();
    } while (session->advance_cycle(now));
    session->keep_input();
  }
  std::string take_output() {
    std::array<std::string_view, 64> views;
    std::string out;
    while (session->has_output()) {
      const std::size_t n = session->pending_output(views);
      std::size_t bytes = 0;
      for (std::size_t i = 0; i < n; ++i) {
        out.append(views[i]);
        bytes += views[i].size();
      }
      session->written(bytes);
    }
    return out;
  }
  void op(ExchangeId id, Outbound o) {
    session->on_op(id, o, now);
    turn();
  }
  void respond(ExchangeId id, std::string body) {
    op(id, SendHead{200, {{"content-length", std::to_string(body.size())}}});
    op(id, SendData{std::move(body)});
    op(id, SendEnd{});
  }

  template <class T>
  std::vector<T> posted() const {
    std::vector<T> out;
    for (const Inbound& m : outbox) {
      if (const auto* t = std::get_if<T>(&m)) out.push_back(*t);
    }
    return out;
  }
  std::string body_posted() const {
    std::string out;
    for (const auto& b : posted<BodyReceived>()) {
      out += b.block.owner ? std::string_view(b.block.data, b.block.size) : b.bytes;
    }
    return out;
  }

  std::string written;
};

std::size_t count(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at)) {
    ++n;
    at += needle.size();
  }
  return n;
}

// ---- requests and responses ----------------------------------------------------------------

TEST(Session, RequestIsPostedAndTheAppsResponseWritten) {
  Fixture f;
  f.feed("GET /a?b=1 HTTP/1.1\r\nHost: t\r\n\r\n");
  const auto started = f.posted<RequestStarted>();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].id, 1u);
  EXPECT_EQ(started[0].scope.path, "/a");
  EXPECT_EQ(started[0].scope.query_string, "b=1");
  ASSERT_EQ(f.posted<BodyReceived>().size(), 1u);
  EXPECT_FALSE(f.posted<BodyReceived>()[0].more_body);
  EXPECT_TRUE(f.session->app_owns_exchange());
  f.respond(1, "hello");
  EXPECT_EQ(f.written.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << f.written;
  EXPECT_NE(f.written.find("\r\n\r\nhello"), std::string::npos);
  EXPECT_EQ(f.host.ended, (std::vector<ExchangeId>{1}));
  EXPECT_FALSE(f.session->app_owns_exchange());
  EXPECT_EQ(f.session->closing(), Closing::no);
}

TEST(Session, PipelinedRequestWaitsForTheCurrentResponse) {
  Fixture f;
  f.feed("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_EQ(f.posted<RequestStarted>().size(), 1u);
  f.respond(1, "one");
  const auto started = f.posted<RequestStarted>();
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].scope.path, "/2");
  f.respond(2, "two");
  EXPECT_LT(f.written.find("one"), f.written.find("two"));
}

TEST(Session, OpsForAnotherExchangeAreDropped) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  f.respond(99, "stray");
  EXPECT_EQ(f.written, "");
  EXPECT_TRUE(f.session->app_owns_exchange());
}

TEST(Session, DefaultHeadersGoOnFinalResponsesOnly) {
  ServerConfig config;
  config.default_headers = {{"x-server-default", "1"}};
  Fixture f(config);
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
  f.session->on_credit(1, 0);
  f.turn();
  f.feed("x");
  f.respond(1, "ok");
  EXPECT_EQ(count(f.written, "x-server-default: 1\r\n"), 1u) << f.written;
  EXPECT_LT(f.written.find("100 Continue"), f.written.find("x-server-default"));
}

// ---- answered natively ---------------------------------------------------------------------

TEST(Session, ProbeIsAnsweredWithoutAnExchange) {
  Fixture f;
  f.feed("GET /_health/alive HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(f.outbox.empty());
  EXPECT_TRUE(f.host.active.empty() && f.host.ended.empty());
  EXPECT_EQ(f.written.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << f.written;
  EXPECT_EQ(f.session->closing(), Closing::no);
}

TEST(Session, RequestOverTheConcurrencyLimitGets503) {
  Fixture f;
  f.host.limit = 1;
  f.host.active = {42};  // another connection's exchange
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(f.outbox.empty());
  EXPECT_EQ(f.written.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << f.written;
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
}

TEST(Session, WebSocketHandshakeOverTheConcurrencyLimitGets503) {
  Fixture f;
  f.host.limit = 1;
  f.host.active = {42};
  f.feed("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_TRUE(f.outbox.empty());
  EXPECT_EQ(f.written.rfind("HTTP/1.1 503 ", 0), 0u) << f.written;
}

TEST(Session, InvalidWebSocketHandshakeIsAnsweredNatively) {
  Fixture f;
  f.feed("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  EXPECT_TRUE(f.outbox.empty());
  EXPECT_EQ(f.written.rfind("HTTP/1.1 426 ", 0), 0u) << f.written;
}

TEST(Session, ValidHandshakeIsPostedAsWebSocketRequested) {
  Fixture f;
  f.feed("GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const auto requested = f.posted<WebSocketRequested>();
  ASSERT_EQ(requested.size(), 1u);
  EXPECT_EQ(requested[0].scope.type, "websocket");
  f.op(1, WsAccept{});
  EXPECT_TRUE(f.session->websocket_open());
  EXPECT_EQ(f.written.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << f.written;
  EXPECT_EQ(f.session->closing(), Closing::no);
}

TEST(Session, MalformedRequestGets400AndClosesAfterIt) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n");
  EXPECT_TRUE(f.outbox.empty());
  EXPECT_EQ(f.written.rfind("HTTP/1.1 400 ", 0), 0u) << f.written;
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
}

// ---- request body ----------------------------------------------------------------------------

TEST(Session, FirstCreditSends100ContinueOnce) {
  Fixture f;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_TRUE(f.posted<RequestStarted>()[0].expects_continue);
  EXPECT_EQ(f.written, "");
  f.session->on_credit(1, 0);
  f.session->on_credit(1, 0);
  f.turn();
  EXPECT_EQ(f.written, "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(Session, Http10ExpectationGetsNo100Continue) {
  Fixture f;
  f.feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_FALSE(f.posted<RequestStarted>()[0].expects_continue);
  f.session->on_credit(1, 0);
  f.turn();
  EXPECT_EQ(f.written, "");
}

TEST(Session, BodyGoesToTheAppWithinTheWindow) {
  ServerConfig config;
  config.body_window = 10;
  Fixture f(config);
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 25\r\n\r\n0123456789abcdefghijKLMNO");
  EXPECT_EQ(f.body_posted(), "0123456789");
  EXPECT_FALSE(f.session->wants_read());  // window full: TCP pushes back
  f.session->on_credit(1, 4);
  f.turn();
  EXPECT_EQ(f.body_posted(), "0123456789abcd");
  f.session->on_credit(1, 100);  // more than posted: capped
  f.turn();
  EXPECT_EQ(f.body_posted(), "0123456789abcdefghijKLMN");
  f.session->on_credit(1, 10);
  f.turn();
  EXPECT_EQ(f.body_posted(), "0123456789abcdefghijKLMNO");
  EXPECT_FALSE(f.posted<BodyReceived>().back().more_body);
}

// A backend lends every buffer a loop turn read, then pumps once: the body they hold is staged
// in one block of its size (held by the app side until the app reads it), not in one grown by
// doubling.
TEST(Session, ABodyReadInSeveralBuffersIsStagedInOneBlockOfItsSize) {
  Fixture f;
  const std::string body(64 * 1024, 'b');
  const std::string stream =
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 65536\r\n\r\n" + body;
  std::vector<std::string> buffers;  // as a ring's: each alive until keep_input()
  for (std::size_t at = 0; at < stream.size(); at += 16 * 1024) {
    buffers.push_back(stream.substr(at, 16 * 1024));
  }
  for (const std::string& buffer : buffers) f.session->receive_data(buffer, f.now);
  f.turn();
  const BodyReceived* received = nullptr;
  for (const Inbound& m : f.outbox) {
    if (const auto* b = std::get_if<BodyReceived>(&m)) received = b;
  }
  ASSERT_NE(received, nullptr);
  EXPECT_EQ(received->bytes, body);
  EXPECT_FALSE(received->more_body);
  EXPECT_LT(received->bytes.capacity(), body.size() + 64);
}

// Over several turns, each turn's part is staged in a block of its own size (not in one sized
// for the whole body, mostly empty).
TEST(Session, ABodyOverSeveralTurnsIsStagedPartByPart) {
  Fixture f;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n" +
         std::string(10000, 'a'));
  f.feed(std::string(30000, 'b'));
  std::vector<std::size_t> sizes;
  for (const Inbound& m : f.outbox) {
    if (const auto* b = std::get_if<BodyReceived>(&m)) {
      sizes.push_back(b->bytes.size());
      EXPECT_LT(b->bytes.capacity(), b->bytes.size() + 64) << b->bytes.size();
    }
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10000, 30000}));
}

// ---- bodies straight into the app side's memory ----------------------------------------------

// The whole body in hand in one turn, within the window: copied once, into the block the host
// (the bridge: the app's bytes object) gave, and posted whole.
TEST(Session, AWholeBodyInHandGoesIntoTheAppSidesBlock) {
  Fixture f;
  f.host.blocks = true;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789");
  const auto bodies = f.posted<BodyReceived>();
  ASSERT_EQ(bodies.size(), 1u);
  ASSERT_TRUE(bodies[0].block.owner);
  ASSERT_EQ(f.host.blocks_given.size(), 1u);
  EXPECT_EQ(bodies[0].block.data, f.host.blocks_given[0]->data());
  EXPECT_EQ(*f.host.blocks_given[0], "0123456789");
  EXPECT_EQ(bodies[0].block.size, 10u);
  EXPECT_TRUE(bodies[0].bytes.empty());
  EXPECT_FALSE(bodies[0].more_body);
  // The next request on the connection gets its own block.
  f.respond(1, "ok");
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_EQ(f.host.blocks_given.size(), 2u);
  EXPECT_EQ(*f.host.blocks_given[1], "abc");
  EXPECT_EQ(f.posted<BodyReceived>().back().block.owner.get(), f.host.blocks_given[1].get());
}

// Several lent buffers of one turn fill one block.
TEST(Session, ABodyOverSeveralBuffersOfOneTurnFillsOneBlock) {
  Fixture f;
  f.host.blocks = true;
  std::string body(40000, 'x');
  for (std::size_t i = 0; i < body.size(); i += 7) body[i] = static_cast<char>('a' + i % 26);
  const std::string stream =
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 40000\r\n\r\n" + body;
  std::vector<std::string> buffers;
  for (std::size_t at = 0; at < stream.size(); at += 16 * 1024) {
    buffers.push_back(stream.substr(at, 16 * 1024));
  }
  for (const std::string& buffer : buffers) f.session->receive_data(buffer, f.now);
  f.turn();
  ASSERT_EQ(f.host.blocks_given.size(), 1u);
  EXPECT_EQ(*f.host.blocks_given[0], body);
  EXPECT_EQ(f.posted<BodyReceived>().size(), 1u);
  EXPECT_FALSE(f.posted<BodyReceived>()[0].more_body);
}

// A body not all in hand, larger than the window, or of no declared length is staged as before.
TEST(Session, APartialOrOverWindowBodyIsStaged) {
  {
    Fixture f;
    f.host.blocks = true;
    f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234");
    EXPECT_TRUE(f.host.blocks_given.empty());  // half in hand: staged
    ASSERT_EQ(f.posted<BodyReceived>().size(), 1u);
    EXPECT_FALSE(f.posted<BodyReceived>()[0].block.owner);
    EXPECT_TRUE(f.posted<BodyReceived>()[0].more_body);
    f.feed("56789");  // the whole rest in hand now
    ASSERT_EQ(f.host.blocks_given.size(), 1u);
    EXPECT_EQ(*f.host.blocks_given[0], "56789");
    EXPECT_EQ(f.body_posted(), "0123456789");
    EXPECT_FALSE(f.posted<BodyReceived>().back().more_body);
  }
  {
    ServerConfig config;
    config.body_window = 10;
    Fixture f(config);
    f.host.blocks = true;
    f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n0123456789A");
    EXPECT_TRUE(f.host.blocks_given.empty());
    EXPECT_EQ(f.body_posted(), "0123456789");
  }
  {
    Fixture f;  // chunked: no declared length
    f.host.blocks = true;
    f.feed("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    EXPECT_TRUE(f.host.blocks_given.empty());
    EXPECT_EQ(f.body_posted(), "abc");
  }
}

// The rest of a body that began staged (window full) goes into a block once it is all in hand
// and the app has made room for it.
TEST(Session, TheRestOfABodyMayGoIntoABlockOnceTheWindowHasRoom) {
  ServerConfig config;
  config.body_window = 10;
  Fixture f(config);
  f.host.blocks = true;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 14\r\n\r\n0123456789");
  EXPECT_TRUE(f.host.blocks_given.empty());  // 10 of 14 in hand
  f.session->on_credit(1, 10);
  f.feed("abcd");
  ASSERT_EQ(f.host.blocks_given.size(), 1u);
  EXPECT_EQ(*f.host.blocks_given[0], "abcd");
  EXPECT_EQ(f.body_posted(), "0123456789abcd");
  EXPECT_FALSE(f.posted<BodyReceived>().back().more_body);
}

TEST(Session, WantsReadOnlyWhileTheWindowHasRoom) {
  ServerConfig config;
  config.body_window = 10;
  Fixture f(config);
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\n\r\n01234");
  EXPECT_TRUE(f.session->wants_read());
  f.feed("56789");
  EXPECT_FALSE(f.session->wants_read());
  f.session->on_credit(1, 10);
  f.turn();
  EXPECT_TRUE(f.session->wants_read());
}

TEST(Session, UnreadBodyAfterTheResponseIsDroppedThenTheCycleGoesOn) {
  Fixture f;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n");
  f.respond(1, "early");
  f.feed("abcdef");
  f.feed("GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_EQ(f.posted<RequestStarted>().size(), 2u);
  EXPECT_EQ(f.posted<RequestStarted>()[1].scope.path, "/next");
  EXPECT_EQ(f.body_posted(), "");
}

TEST(Session, DroppedBodyOverTheLimitClosesTheConnection) {
  Fixture f;
  const std::uint64_t size = Session::kMaxDiscardBytes + 1;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n");
  f.respond(1, "early");  // the app answered without reading: the body is dropped
  f.feed(std::string(Session::kMaxDiscardBytes, 'x'));
  EXPECT_EQ(f.session->closing(), Closing::no);  // at the limit: still read and dropped
  f.feed("x");
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
  EXPECT_EQ(f.body_posted(), "");
}

// ---- endings -----------------------------------------------------------------------------------

TEST(Session, EofWhileTheAppOwnsTheExchangeIsClientGone) {
  Fixture f;
  f.feed("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
  f.session->receive_eof();
  const auto gone = f.posted<ClientGone>();
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].id, 1u);
  EXPECT_EQ(f.host.ended, (std::vector<ExchangeId>{1}));
  EXPECT_EQ(f.session->closing(), Closing::now);
  f.session->client_gone();  // once only
  EXPECT_EQ(f.posted<ClientGone>().size(), 1u);
  EXPECT_EQ(f.host.ended.size(), 1u);
}

TEST(Session, EofBetweenRequestsClosesQuietly) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  f.respond(1, "x");
  f.session->receive_eof();
  f.turn();
  EXPECT_TRUE(f.posted<ClientGone>().empty());
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
  EXPECT_FALSE(f.session->wants_read());
}

TEST(Session, AbortClosesAfterWhatTheAppSent) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  f.op(1, SendHead{200, {}});
  f.op(1, SendData{std::string("part")});
  f.op(1, Abort{});
  EXPECT_NE(f.written.find("part"), std::string::npos);
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
  EXPECT_TRUE(f.posted<ClientGone>().empty());
  EXPECT_EQ(f.host.ended, (std::vector<ExchangeId>{1}));
}

TEST(Session, BodyOverContentLengthIsALocalFailure) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  f.op(1, SendHead{200, {{"content-length", "2"}}});
  f.op(1, SendData{std::string("toolong")});
  EXPECT_EQ(f.posted<ClientGone>().size(), 1u);
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
}

TEST(Session, ClosingNeverFalls) {
  Fixture f;
  f.session->close(Closing::now);
  f.session->close(Closing::after_flush);
  EXPECT_EQ(f.session->closing(), Closing::now);
}

// ---- pathsend ----------------------------------------------------------------------------------

TEST(Session, PathsendHandsTheFileToTheBackendAndHoldsTheCycle) {
  Fixture f;
  f.feed("GET /f HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n");
  f.op(1, SendHead{200, {{"content-length", "3"}}});
  f.op(1, SendFile{"/srv/f"});
  EXPECT_EQ(f.host.files, (std::vector<std::string>{"/srv/f"}));
  EXPECT_EQ(f.host.ended, (std::vector<ExchangeId>{1}));
  EXPECT_EQ(f.posted<RequestStarted>().size(), 1u);  // the file is still being sent
  ASSERT_TRUE(f.session->http().send_data("abc"));    // the backend's part
  ASSERT_TRUE(f.session->http().send_end());
  f.host.file_open = false;
  f.turn();
  EXPECT_EQ(f.posted<RequestStarted>().size(), 2u);
}

TEST(Session, PathsendOnAHeadRequestEndsWithoutTheFile) {
  Fixture f;
  f.feed("HEAD /f HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n");
  f.op(1, SendHead{200, {{"content-length", "3"}}});
  f.op(1, SendFile{"/dev/zero"});
  EXPECT_TRUE(f.host.files.empty());  // not opened: nothing of it goes on the wire
  EXPECT_EQ(f.host.ended, (std::vector<ExchangeId>{1}));
  EXPECT_EQ(f.written.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << f.written;
  ASSERT_EQ(f.posted<RequestStarted>().size(), 2u);  // the response ended: the next cycle
  EXPECT_EQ(f.posted<RequestStarted>()[1].scope.path, "/next");
}

TEST(Session, PathsendOfAFileThatCannotOpenDropsTheConnection) {
  Fixture f;
  f.host.file_opens = false;
  f.feed("GET /f HTTP/1.1\r\nHost: t\r\n\r\n");
  f.op(1, SendHead{200, {{"content-length", "3"}}});
  f.op(1, SendFile{"/missing"});
  EXPECT_EQ(f.posted<ClientGone>().size(), 1u);
  EXPECT_EQ(f.session->closing(), Closing::now);
}

// ---- send backpressure -------------------------------------------------------------------------

TEST(Session, DrainedIsPostedOnceTheBacklogIsWritten) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  const auto flow = f.posted<RequestStarted>()[0].flow;
  f.op(1, SendHead{200, {}});
  std::string big(kSendHighWater, 'b');
  flow->unsent_bytes += big.size();  // the app side counts what it submits
  flow->drain_wanted = true;         // and its send() waits
  f.session->on_op(1, *std::make_unique<Outbound>(SendData{big}), f.now);
  EXPECT_TRUE(f.posted<Drained>().empty());
  f.written += f.take_output();
  const auto drained = f.posted<Drained>();
  ASSERT_EQ(drained.size(), 1u);
  EXPECT_EQ(drained[0].id, 1u);
  EXPECT_EQ(flow->unsent_bytes.load(), 0u);
  EXPECT_FALSE(flow->drain_wanted.load());  // taken: the next wait asks again
}

TEST(Session, NoDrainedIsPostedWhenTheAppSideDoesNotWait) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  const auto flow = f.posted<RequestStarted>()[0].flow;
  f.op(1, SendHead{200, {}});
  for (int chunk = 0; chunk < 4; ++chunk) {  // a stream of chunks, each over the mark
    std::string big(kSendHighWater, 'b');
    flow->unsent_bytes += big.size();
    f.session->on_op(1, *std::make_unique<Outbound>(SendData{big}), f.now);
    f.written += f.take_output();
    EXPECT_EQ(flow->unsent_bytes.load(), 0u);
  }
  EXPECT_TRUE(f.posted<Drained>().empty());
  // The app side asks while the next chunk is unwritten: that one is answered.
  std::string big(kSendHighWater, 'b');
  flow->unsent_bytes += big.size();
  f.session->on_op(1, *std::make_unique<Outbound>(SendData{big}), f.now);
  flow->drain_wanted = true;
  f.written += f.take_output();
  EXPECT_EQ(f.posted<Drained>().size(), 1u);
}

// ---- timers and shutdown -----------------------------------------------------------------------

TEST(Session, PartialHeadPastTheHeaderTimeoutGets408) {
  Fixture f;
  f.now += 1s;
  f.feed("GET / HTTP/1.1\r\nHo");
  const auto due = f.session->deadline();
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, f.now + 10s);  // timeout_header, from the head's first bytes
  f.session->on_timer(*due - 1ms);
  EXPECT_EQ(f.session->closing(), Closing::no);
  f.session->on_timer(*due);
  f.turn();
  EXPECT_EQ(f.written.rfind("HTTP/1.1 408 ", 0), 0u) << f.written;
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
}

TEST(Session, IdleKeepAliveClosesQuietly) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_FALSE(f.session->deadline().has_value());  // the app owns a request: no deadline
  f.respond(1, "x");
  f.written.clear();
  const auto due = f.session->deadline();
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, f.now + 5s);  // timeout_keep_alive
  f.session->on_timer(*due);
  EXPECT_EQ(f.session->closing(), Closing::now);
  EXPECT_EQ(f.written, "");
}

TEST(Session, SilentNewConnectionClosesAtTheHeaderTimeout) {
  Fixture f;
  const auto due = f.session->deadline();
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, f.now + 10s);
  f.session->on_timer(*due);
  EXPECT_EQ(f.session->closing(), Closing::now);
}

TEST(Session, DrainClosesAnIdleConnectionNow) {
  Fixture f;
  f.session->on_drain(f.now);
  EXPECT_EQ(f.session->closing(), Closing::now);
}

TEST(Session, DrainLetsTheCurrentResponseFinishWithConnectionClose) {
  Fixture f;
  f.feed("GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /never HTTP/1.1\r\nHost: t\r\n\r\n");
  f.session->on_drain(f.now);
  EXPECT_EQ(f.session->closing(), Closing::no);
  f.respond(1, "last");
  EXPECT_NE(f.written.find("connection: close\r\n"), std::string::npos) << f.written;
  EXPECT_EQ(f.session->closing(), Closing::after_flush);
  EXPECT_EQ(f.posted<RequestStarted>().size(), 1u);
}

}  // namespace
}  // namespace lancet::backend::common
