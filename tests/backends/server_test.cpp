// Backend conformance: socket-level tests of the compiled-in backend (every backend passes the same
// suite; CI builds each): real loopback sockets (127.0.0.1, port 0), a fake
// app on its own thread implementing AppPort, every wait bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends/server.hpp"
#include "tests/protocol/websocket/harness.hpp"

namespace {

using namespace lancet::backend;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ---- the fake app ----------------------------------------------------------------------------

/// AppPort on its own thread: records every message and runs `handler` for each, in order.
class FakeApp : public AppPort {
 public:
  using Handler = std::function<void(FakeApp&, Inbound&)>;

  explicit FakeApp(Handler handler) : handler_(std::move(handler)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeApp() override { stop(); }

  void post(std::vector<Inbound>&& messages) override {
    std::lock_guard lock(mu_);
    for (Inbound& m : messages) {
      log_.push_back(m);
      queue_.push_back(std::move(m));
    }
    cv_.notify_all();
  }

  void attach(Server* server) { server_ = server; }
  Server& server() { return *server_; }

  /// Stops the app thread (before the server goes away; later posts are only logged).
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// Waits until `pred(log)` holds; false after `timeout`.
  bool wait_until(const std::function<bool(const std::vector<Inbound>&)>& pred,
                  std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(log_); });
  }

  template <class T>
  std::size_t count() {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const Inbound& m : log_) n += std::holds_alternative<T>(m) ? 1 : 0;
    return n;
  }
  template <class T>
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    return wait_until(
        [n](const std::vector<Inbound>& log) {
          std::size_t c = 0;
          for (const Inbound& m : log) c += std::holds_alternative<T>(m) ? 1 : 0;
          return c >= n;
        },
        timeout);
  }
  std::vector<RequestStarted> started() {
    std::lock_guard lock(mu_);
    std::vector<RequestStarted> out;
    for (const Inbound& m : log_) {
      if (auto* r = std::get_if<RequestStarted>(&m)) out.push_back(*r);
    }
    return out;
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Inbound m = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      handler_(*this, m);
      lock.lock();
    }
  }

  Handler handler_;
  Server* server_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Inbound> queue_;
  std::vector<Inbound> log_;
  bool stopping_ = false;
  std::thread thread_;
};

/// Submits a complete response, counting its body in the exchange's unsent bytes (port.hpp);
/// over the high-water mark it asks for a Drained, as the bridge's send() does when it waits.
void respond(Server& server, ExchangeId id, ExchangeFlow* flow, std::uint16_t status,
             std::string body, std::vector<Header> headers = {}) {
  headers.push_back({"content-length", std::to_string(body.size())});
  if (flow != nullptr) {
    flow->unsent_bytes += body.size();
    if (flow->unsent_bytes.load() > kSendHighWater) flow->drain_wanted = true;
  }
  std::vector<Outbound> ops;
  ops.emplace_back(SendHead{status, std::move(headers)});
  ops.emplace_back(SendData{std::move(body)});
  ops.emplace_back(SendEnd{});
  server.submit(id, std::move(ops));
}

/// Echo: answers each request with its body once complete, with x-path: the scope's path.
/// `consume_delay`: sleep before reporting each chunk consumed (a slow reader).
FakeApp::Handler echo_app(std::chrono::milliseconds consume_delay = 0ms,
                          std::size_t* max_ahead = nullptr) {
  struct State {
    std::string body, path;
    std::shared_ptr<ExchangeFlow> flow;
    std::uint64_t received = 0, consumed = 0;
  };
  auto states = std::make_shared<std::map<ExchangeId, State>>();
  return [=](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<RequestStarted>(&m)) {
      (*states)[r->id].path = r->scope.path;
      (*states)[r->id].flow = r->flow;
    } else if (auto* b = std::get_if<BodyReceived>(&m)) {
      State& s = (*states)[b->id];
      s.body += b->bytes;
      s.received += b->bytes.size();
      if (max_ahead) *max_ahead = std::max<std::size_t>(*max_ahead, s.received - s.consumed);
      if (consume_delay > 0ms) std::this_thread::sleep_for(consume_delay);
      app.server().body_consumed(b->id, b->bytes.size());
      s.consumed += b->bytes.size();
      if (!b->more_body) {
        respond(app.server(), b->id, s.flow.get(), 200, std::move(s.body), {{"x-path", s.path}});
        states->erase(b->id);
      }
    }
  };
}

/// Never answers: the test drives the exchange itself.
FakeApp::Handler silent_app() {
  return [](FakeApp&, Inbound&) {};
}

// ---- a tiny HTTP client ----------------------------------------------------------------------

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (strcasecmp(n.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }
};

class Client {
 public:
  explicit Client(int fd) : fd_(fd) {
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  Client(Client&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
  ~Client() { close_now(); }

  static Client tcp(std::uint16_t port, int rcvbuf = 0) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in), 0) << strerror(errno);
    return Client(fd);
  }
  static Client unix_socket(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un), 0) << strerror(errno);
    return Client(fd);
  }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      ASSERT_GT(n, 0) << strerror(errno);
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// Reads one response (Content-Length, chunked or until close); nullopt on EOF or timeout.
  std::optional<Response> read_response(bool head_request = false) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    r.status = std::stoi(head.substr(9, 3));
    for (std::size_t pos = head.find("\r\n") + 2; pos < head.size();) {
      const std::size_t eol = head.find("\r\n", pos);
      const std::string line = head.substr(pos, eol - pos);
      const std::size_t colon = line.find(':');
      r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 2));
      pos = eol + 2;
    }
    if (head_request || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (!r.header("content-length").empty()) {
      const std::size_t len = std::stoul(r.header("content-length"));
      if (!take(len, r.body)) return std::nullopt;
    } else if (r.header("transfer-encoding") == "chunked") {
      for (;;) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!fill()) return std::nullopt;
        }
        const std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
        buf_.erase(0, eol + 2);
        std::string chunk;
        if (!take(size + 2, chunk)) return std::nullopt;
        if (size == 0) break;
        r.body += chunk.substr(0, size);
      }
    } else {
      while (fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    return r;
  }

  /// True when the server closes the connection (EOF or reset) within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char c[4096];
      const ssize_t n = recv(fd_, c, sizeof c, 0);
      if (n <= 0) return true;
    }
    return false;
  }

  /// Exactly `n` more bytes (after what read_response() left buffered); false on EOF/timeout.
  bool read_exact(std::size_t n, std::string& out) { return take(n, out); }

  int fd() const { return fd_; }
  void close_now() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  bool fill() {
    char chunk[65536];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
  bool take(std::size_t n, std::string& out) {
    while (buf_.size() < n) {
      if (!fill()) return false;
    }
    out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

  int fd_;
  std::string buf_;
};

// ---- the server under test -------------------------------------------------------------------

ServerConfig loopback_config() {
  ServerConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.timeout_keep_alive = 5;
  config.timeout_header = 5;
  return config;
}

/// A started server with its fake app; stops the app before the server goes away.
struct Harness {
  FakeApp app;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;

  Harness(FakeApp::Handler handler, const ServerConfig& config = loopback_config())
      : app(std::move(handler)) {
    StartResult started = make_server(config, app);
    if (!started.server) ADD_FAILURE() << started.error.message;
    server = std::move(started.server);
    app.attach(server.get());
    if (server && config.uds.empty()) {
      const std::string address = server->bound_address();
      port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    }
  }
  ~Harness() {
    app.stop();
    server.reset();
  }
  Client client() { return Client::tcp(port); }
};

/// Polls `pred` every 10 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 2s) {
  for (const auto until = Clock::now() + timeout; Clock::now() < until;) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}
std::string post(const std::string& path, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: test\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// ---- tests -----------------------------------------------------------------------------------

TEST(BackendServer, SimpleGetIsAnsweredByTheApp) {
  Harness h(echo_app());
  EXPECT_STREQ(h.server->name(), LANCET_BACKEND_NAME);
  Client c = h.client();
  c.send(get("/hello%20world?x=1"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-path"), "/hello world");
  EXPECT_EQ(r->header("server"), "lancet");
  EXPECT_FALSE(r->header("date").empty());
  const auto started = h.app.started();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].scope.method, "GET");
  EXPECT_EQ(started[0].scope.query_string, "x=1");
  ASSERT_TRUE(started[0].scope.client);
  EXPECT_EQ(started[0].scope.client->host, "127.0.0.1");
  ASSERT_TRUE(started[0].scope.server);
  EXPECT_EQ(started[0].scope.server->port, h.port);
}

TEST(BackendServer, KeepAliveServesSeveralRequestsOnOneSocket) {
  Harness h(echo_app());
  Client c = h.client();
  for (int i = 0; i < 3; ++i) {
    c.send(post("/n" + std::to_string(i), "body" + std::to_string(i)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "body" + std::to_string(i));
    EXPECT_EQ(r->header("connection"), "");
  }
  EXPECT_EQ(h.app.started().size(), 3u);
}

TEST(BackendServer, PipelinedRequestsAreAnsweredInOrder) {
  Harness h(echo_app());
  Client c = h.client();
  c.send(get("/first") + post("/second", "payload"));
  auto a = c.read_response();
  auto b = c.read_response();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->header("x-path"), "/first");
  EXPECT_EQ(b->header("x-path"), "/second");
  EXPECT_EQ(b->body, "payload");
}

TEST(BackendServer, ChunkedRequestBodyReachesTheAppDechunked) {
  Harness h(echo_app());
  Client c = h.client();
  c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
}

TEST(BackendServer, LargeBodyIsPostedWithinTheBodyWindow) {
  ServerConfig config = loopback_config();
  config.body_window = 16 * 1024;
  std::size_t max_ahead = 0;  // written on the app thread, read after it stopped
  Harness h(echo_app(1ms, &max_ahead), config);
  std::string body(1024 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  Client c = h.client();
  c.send(post("/big", body));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
  h.app.stop();
  EXPECT_GT(max_ahead, 0u);
  EXPECT_LE(max_ahead, config.body_window);
  EXPECT_GE(h.app.count<BodyReceived>(), body.size() / config.body_window);
}

TEST(BackendServer, ResponseBackpressurePostsDrainedOnceTheClientReads) {
  constexpr std::size_t kSize = 8 * 1024 * 1024;
  std::atomic<ExchangeFlow*> flow{nullptr};
  Harness h([&](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<RequestStarted>(&m)) {
      flow = r->flow.get();
      respond(app.server(), r->id, r->flow.get(), 200, std::string(kSize, 'x'));
    }
  });
  Client c = Client::tcp(h.port, 16 * 1024);
  c.send(get("/stream"));
  std::this_thread::sleep_for(300ms);  // the client does not read
  EXPECT_EQ(h.app.count<Drained>(), 0u);
  ASSERT_NE(flow.load(), nullptr);
  EXPECT_GT(flow.load()->unsent_bytes.load(), kSendHighWater);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), kSize);
  EXPECT_TRUE(h.app.wait_count<Drained>(1));
}

TEST(BackendServer, BodyOfAHeadResponseIsDroppedAndReleasedAtOnce) {
  std::atomic<ExchangeFlow*> flow{nullptr};
  Harness h([&](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<RequestStarted>(&m)) {
      flow = r->flow.get();
      respond(app.server(), r->id, r->flow.get(), 200, std::string(256 * 1024, 'x'));
    }
  });
  Client c = h.client();
  c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r = c.read_response(true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-length"), std::to_string(256 * 1024));
  ASSERT_TRUE(h.app.wait_count<Drained>(1));
  EXPECT_EQ(flow.load()->unsent_bytes.load(), 0u);
  c.send(get("/next"));  // the connection is still in step
  auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST(BackendServer, ProbesAreAnsweredWithoutTheApp) {
  Harness h(echo_app());
  Client c = h.client();
  c.send(get("/_health/alive"));
  auto alive = c.read_response();
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->status, 200);
  c.send(get("/_health/ready"));
  auto starting = c.read_response();
  ASSERT_TRUE(starting);
  EXPECT_EQ(starting->status, 503);
  EXPECT_NE(starting->body.find("starting"), std::string::npos);
  h.server->set_ready(true);
  c.send(get("/_health/ready"));
  auto ready = c.read_response();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(h.app.started().size(), 0u);
}

TEST(BackendServer, LimitConcurrencyAnswers503WithoutPostingToTheApp) {
  ServerConfig config = loopback_config();
  config.limit_concurrency = 1;
  Harness h(silent_app(), config);
  Client first = h.client();
  first.send(get("/slow"));
  ASSERT_TRUE(h.app.wait_count<RequestStarted>(1));
  EXPECT_EQ(h.server->active_exchanges(), 1u);
  Client second = h.client();
  second.send(get("/other"));
  auto refused = second.read_response();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("connection"), "close");
  EXPECT_EQ(h.app.started().size(), 1u);
  const auto id = h.app.started()[0].id;
  respond(*h.server, id, h.app.started()[0].flow.get(), 200, "done");
  auto r = first.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(h.server->active_exchanges(), 0u);
}

TEST(BackendServer, MalformedRequestGets400AndTheConnectionCloses) {
  Harness h(echo_app());
  Client c = h.client();
  c.send("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_EQ(h.app.started().size(), 0u);
}

TEST(BackendServer, SlowlorisHeadGets408WithinTheHeaderTimeout) {
  ServerConfig config = loopback_config();
  config.timeout_header = 0.5;
  Harness h(echo_app(), config);
  Client c = h.client();
  const auto sent = Clock::now();
  c.send("GET / HTTP/1.1\r\nHost: t\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_LT(Clock::now() - sent, 1500ms);
  EXPECT_TRUE(c.closed_within(2s));
}

TEST(BackendServer, IdleKeepAliveConnectionIsClosedQuietly) {
  ServerConfig config = loopback_config();
  config.timeout_keep_alive = 0.3;
  Harness h(echo_app(), config);
  Client c = h.client();
  c.send(get("/"));
  ASSERT_TRUE(c.read_response());
  const auto done = Clock::now();
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_GE(Clock::now() - done, 250ms);
}

TEST(BackendServer, ClientDisconnectMidBodyPostsClientGoneOnce) {
  Harness h(silent_app());  // never reads the body: the 64 KiB window fills, reading pauses
  Client c = h.client();
  // 96 KiB: more than the window, little enough that the FIN is not stuck behind bytes the
  // server's kernel cannot take (that case is only seen once the app reads again).
  c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" +
         std::string(96 * 1024, 'x'));
  ASSERT_TRUE(h.app.wait_count<RequestStarted>(1));
  c.close_now();
  ASSERT_TRUE(h.app.wait_count<ClientGone>(1));
  EXPECT_TRUE(eventually([&] { return h.server->active_exchanges() == 0; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(h.app.count<ClientGone>(), 1u);
  // Ops for the finished exchange are dropped quietly.
  h.server->submit(h.app.started()[0].id, {});
}

TEST(BackendServer, ClientResetWhileTheWindowIsFullPostsClientGone) {
  Harness h(silent_app());
  Client c = h.client();
  c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" +
         std::string(512 * 1024, 'x'));
  ASSERT_TRUE(h.app.wait_count<RequestStarted>(1));
  linger reset{1, 0};  // close() sends RST
  setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  c.close_now();
  ASSERT_TRUE(h.app.wait_count<ClientGone>(1));
  EXPECT_EQ(h.server->active_exchanges(), 0u);
}

// The reset arrives together with the bytes that fill the window: the edge that carried it is
// spent on reading them, so the backend must look for the hang-up when reading pauses, not
// only on the next edge (there is none). Repeated: the two must land in one wake-up.
TEST(BackendServer, ClientResetWithTheBytesThatFillTheWindowPostsClientGone) {
  for (int round = 0; round < 20; ++round) {
    Harness h(silent_app());
    Client c = h.client();
    c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" +
           std::string(32 * 1024, 'x'));
    ASSERT_TRUE(h.app.wait_count<BodyReceived>(1));
    c.send(std::string(96 * 1024, 'y'));
    linger reset{1, 0};  // close() sends RST
    setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    c.close_now();
    ASSERT_TRUE(h.app.wait_count<ClientGone>(1)) << "round " << round;
  }
}

TEST(BackendServer, ExpectContinueIsAnsweredOnTheFirstBodyConsumed) {
  Harness h(echo_app());
  Client c = h.client();
  c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  // The echo app reports consumption only for body it received: give it a body-less nudge.
  ASSERT_TRUE(h.app.wait_count<RequestStarted>(1));
  EXPECT_TRUE(h.app.started()[0].expects_continue);
  h.server->body_consumed(h.app.started()[0].id, 0);
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  c.send("hello");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
}

TEST(BackendServer, TrustedProxyHeadersSetClientAndScheme) {
  Harness h(echo_app());
  Client c = h.client();
  c.send(get("/", "X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nX-Forwarded-Proto: https\r\n"));
  ASSERT_TRUE(c.read_response());
  const auto started = h.app.started();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].scope.scheme, "https");
  ASSERT_TRUE(started[0].scope.client);
  EXPECT_EQ(started[0].scope.client->host, "10.0.0.1");
  EXPECT_EQ(started[0].scope.client->port, 0);
}

TEST(BackendServer, GracefulShutdownFinishesInFlightWithConnectionClose) {
  Harness h(silent_app());
  Client busy = h.client();
  Client idle = h.client();
  busy.send(get("/slow"));
  ASSERT_TRUE(h.app.wait_count<RequestStarted>(1));
  h.server->shutdown(5.0);
  EXPECT_TRUE(idle.closed_within(2s));
  // New connections are refused.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(h.port);
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(connect(fd, reinterpret_cast<sockaddr*>(&in), sizeof in), 0);
  close(fd);
  // The ready probe would now say draining; the in-flight request still completes.
  const auto started = h.app.started();
  respond(*h.server, started[0].id, started[0].flow.get(), 200, "late");
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "late");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(busy.closed_within(2s));
  h.server->join();
  EXPECT_EQ(h.server->active_exchanges(), 0u);
}

TEST(BackendServer, ShutdownAbortsWhatIsLeftAfterTheTimeout) {
  Harness h(silent_app());
  Client busy = h.client();
  busy.send(get("/never"));
  ASSERT_TRUE(h.app.wait_count<RequestStarted>(1));
  const auto begun = Clock::now();
  h.server->shutdown(0.2);
  h.server->join();
  EXPECT_LT(Clock::now() - begun, 2s);
  EXPECT_EQ(h.app.count<ClientGone>(), 1u);
  EXPECT_TRUE(busy.closed_within(1s));
}

TEST(BackendServer, SendFileStreamsTheFileThenEndsTheResponse) {
  char path[] = "/tmp/lancet-file-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content(300 * 1024, '\0');
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i % 251);
  ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  Harness h([&](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<RequestStarted>(&m)) {
      std::vector<Outbound> ops;
      ops.emplace_back(SendHead{200, {{"content-length", std::to_string(content.size())}}});
      ops.emplace_back(SendFile{path});
      app.server().submit(r->id, std::move(ops));
    }
  });
  Client c = h.client();
  c.send(get("/file") + get("/file"));  // pipelined: the second waits for the file to end
  for (int i = 0; i < 2; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body == content);
  }
  unlink(path);
}

TEST(BackendServer, SendFileToAClientThatLeavesMidFileEndsTheConnectionOnly) {
  // Large enough that the client's small receive buffer stops the server mid-file; the server
  // (its backend may splice) must neither die of SIGPIPE nor keep the connection.
  char path[] = "/tmp/lancet-file-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string block(1024 * 1024, 'f');
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(write(fd, block.data(), block.size()), static_cast<ssize_t>(block.size()));
  }
  close(fd);
  Harness h([&](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<RequestStarted>(&m)) {
      std::vector<Outbound> ops;
      ops.emplace_back(SendHead{200, {{"content-length", std::to_string(16 * block.size())}}});
      ops.emplace_back(SendFile{path});
      app.server().submit(r->id, std::move(ops));
    }
  });
  {
    Client c = Client::tcp(h.port, 16 * 1024);
    c.send(get("/file"));
    std::string some;
    ASSERT_TRUE(c.read_exact(64 * 1024, some));
    linger reset{1, 0};  // close() sends RST
    setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  Client next = h.client();  // the server still serves
  next.send(get("/file"));
  auto r = next.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), 16 * block.size());
  unlink(path);
}

TEST(BackendServer, AbortClosesTheConnectionMidResponse) {
  Harness h([](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<RequestStarted>(&m)) {
      std::vector<Outbound> ops;
      ops.emplace_back(SendHead{200, {{"content-length", "100"}}});
      ops.emplace_back(SendData{"partial"});
      ops.emplace_back(Abort{});
      r->flow->unsent_bytes += 7;
      app.server().submit(r->id, std::move(ops));
    }
  });
  Client c = h.client();
  c.send(get("/abort"));
  EXPECT_FALSE(c.read_response());  // headers, then EOF before 100 bytes
  EXPECT_TRUE(eventually([&] { return h.server->active_exchanges() == 0; }));
  EXPECT_EQ(h.app.count<ClientGone>(), 0u);
}

TEST(BackendServer, ConnectionsOverMaxConnectionsWaitInTheBacklog) {
  ServerConfig config = loopback_config();
  config.max_connections = 1;
  Harness h(echo_app(), config);
  Client first = h.client();
  first.send(get("/one"));
  ASSERT_TRUE(first.read_response());
  Client second = h.client();  // accepted by the kernel, not by the server yet
  second.send(get("/two"));
  pollfd p{second.fd(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 200), 0);
  first.close_now();
  auto r = second.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-path"), "/two");
}

TEST(BackendServer, AddressInUseIsAOneLineStartError) {
  Harness h(echo_app());
  ServerConfig config = loopback_config();
  config.port = h.port;
  FakeApp other(silent_app());
  StartResult second = make_server(config, other);
  EXPECT_EQ(second.server, nullptr);
  EXPECT_EQ(second.error.errno_value, EADDRINUSE);
  EXPECT_NE(second.error.message.find("127.0.0.1:" + std::to_string(h.port)), std::string::npos);
  EXPECT_NE(second.error.message.find("already in use"), std::string::npos);
  EXPECT_EQ(second.error.message.find('\n'), std::string::npos);
}

TEST(BackendServer, ServesOnAUnixSocket) {
  char dir[] = "/tmp/lancet-uds-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/s.sock";
  ServerConfig config = loopback_config();
  config.uds = path;
  {
    Harness h(echo_app(), config);
    ASSERT_TRUE(h.server);
    EXPECT_EQ(h.server->bound_address(), path);
    Client c = Client::unix_socket(path);
    c.send(post("/u", "over uds"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "over uds");
    EXPECT_FALSE(h.app.started()[0].scope.client);
  }
  unlink(path.c_str());
  rmdir(dir);
}


// --fd: the listening socket belongs to the caller (a supervisor's other workers, systemd), so a
// draining server stops accepting on its own descriptor only; shutdown() would stop the socket
// for every process.
TEST(BackendServer, DrainingAnAdoptedSocketLeavesItListeningForOthers) {
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&in), sizeof in), 0);
  ASSERT_EQ(listen(lfd, 16), 0);
  socklen_t len = sizeof in;
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&in), &len), 0);
  const std::uint16_t port = ntohs(in.sin_port);
  ServerConfig config = loopback_config();
  config.fd = lfd;
  {
    Harness h(echo_app(), config);
    ASSERT_TRUE(h.server);
    Client c = Client::tcp(port);
    c.send(post("/a", "before"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "before");
    h.server->shutdown(1);
    h.server->join();
  }
  Client late = Client::tcp(port);  // the caller's socket still takes connections...
  pollfd p{lfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  const int accepted = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);  // ...and hands them out
  EXPECT_GE(accepted, 0);
  if (accepted >= 0) close(accepted);
  close(lfd);
}

// ---- WebSocket -------------------------------------------------------------------------------

namespace wst = lancet::websocket::testing;

std::string ws_handshake(const std::string& extra = "") {
  return "GET /ws?x=1 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         extra + "\r\n";
}

/// One server frame (unmasked, any length encoding); nullopt on EOF or timeout.
std::optional<wst::ServerFrame> read_frame(Client& c) {
  std::string head;
  if (!c.read_exact(2, head)) return std::nullopt;
  wst::ServerFrame f;
  const auto b0 = static_cast<std::uint8_t>(head[0]);
  const auto b1 = static_cast<std::uint8_t>(head[1]);
  f.fin = b0 & 0x80;
  f.rsv1 = b0 & 0x40;
  f.opcode = b0 & 0x0f;
  std::uint64_t n = b1 & 0x7f;
  if (n >= 126) {
    std::string ext;
    if (!c.read_exact(n == 126 ? 2 : 8, ext)) return std::nullopt;
    n = 0;
    for (char ch : ext) n = n << 8 | static_cast<std::uint8_t>(ch);
  }
  if (!c.read_exact(static_cast<std::size_t>(n), f.payload)) return std::nullopt;
  return f;
}

std::uint16_t close_code(const wst::ServerFrame& f) {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(f.payload[0]) << 8 |
                                    static_cast<std::uint8_t>(f.payload[1]));
}

/// Accepts every handshake (subprotocol "chat" when offered) and echoes every message,
/// reporting each consumed; WebSocketClosed is only logged.
FakeApp::Handler ws_echo_app() {
  return [](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<WebSocketRequested>(&m)) {
      const bool chat = !r->subprotocols.empty() && r->subprotocols[0] == "chat";
      std::vector<Outbound> ops;
      ops.emplace_back(WsAccept{chat ? "chat" : "", {{"x-app", "1"}}});
      app.server().submit(r->id, std::move(ops));
    } else if (auto* msg = std::get_if<WebSocketReceived>(&m)) {
      app.server().messages_consumed(msg->id, 1);
      std::vector<Outbound> ops;
      ops.emplace_back(WsSend{std::move(msg->data), msg->text});
      app.server().submit(msg->id, std::move(ops));
    }
  };
}

/// Connects, handshakes and checks the 101.
Client ws_connect(Harness& h, const std::string& extra = "") {
  Client c = h.client();
  c.send(ws_handshake(extra));
  auto r = c.read_response();
  EXPECT_TRUE(r);
  if (r) {
    EXPECT_EQ(r->status, 101);
    EXPECT_EQ(r->header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  }
  return c;
}

TEST(BackendServer, WebSocketHandshakeEchoAndCloseFromTheClient) {
  Harness h(ws_echo_app());
  Client c = h.client();
  c.send(ws_handshake("Sec-WebSocket-Protocol: chat, other\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(r->header("sec-websocket-protocol"), "chat");
  EXPECT_EQ(r->header("x-app"), "1");
  ASSERT_TRUE(h.app.wait_count<WebSocketRequested>(1));
  c.send(wst::text("hello"));
  auto echo = read_frame(c);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, 0x1);
  EXPECT_EQ(echo->payload, "hello");
  const std::string big(300 * 1024, 'b');
  c.send(wst::binary(big.substr(0, 1000), false) + wst::cont(big.substr(1000)));  // fragmented
  auto big_echo = read_frame(c);
  ASSERT_TRUE(big_echo);
  EXPECT_EQ(big_echo->opcode, 0x2);
  EXPECT_TRUE(big_echo->payload == big);
  c.send(wst::close_frame(1000, "done"));
  auto closing = read_frame(c);
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->opcode, 0x8);
  EXPECT_EQ(close_code(*closing), 1000);
  EXPECT_TRUE(c.closed_within(2s));
  ASSERT_TRUE(h.app.wait_count<WebSocketClosed>(1));
  EXPECT_TRUE(eventually([&] { return h.server->active_exchanges() == 0; }));
  EXPECT_EQ(h.app.count<ClientGone>(), 0u);
}

TEST(BackendServer, WebSocketScopeIsPostedWithSubprotocols) {
  Harness h(ws_echo_app());
  Client c = ws_connect(h, "Sec-WebSocket-Protocol: chat, other\r\n");
  std::optional<WebSocketRequested> requested;
  ASSERT_TRUE(h.app.wait_until([&](const std::vector<Inbound>& log) {
    for (const Inbound& m : log) {
      if (auto* r = std::get_if<WebSocketRequested>(&m)) requested = *r;
    }
    return requested.has_value();
  }));
  EXPECT_EQ(requested->scope.type, "websocket");
  EXPECT_EQ(requested->scope.scheme, "ws");
  EXPECT_EQ(requested->scope.path, "/ws");
  EXPECT_EQ(requested->scope.query_string, "x=1");
  EXPECT_EQ(requested->subprotocols, (std::vector<std::string>{"chat", "other"}));
  EXPECT_TRUE(requested->flow);
}

TEST(BackendServer, WebSocketViolationClosesWith1002AndTellsTheApp) {
  Harness h(ws_echo_app());
  Client c = ws_connect(h);
  wst::ClientFrame unmasked;
  unmasked.payload = "x";
  unmasked.masked = false;
  c.send(wst::encode(unmasked));
  auto closing = read_frame(c);
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->opcode, 0x8);
  EXPECT_EQ(close_code(*closing), 1002);
  EXPECT_TRUE(c.closed_within(2s));
  std::optional<WebSocketClosed> closed;
  ASSERT_TRUE(h.app.wait_until([&](const std::vector<Inbound>& log) {
    for (const Inbound& m : log) {
      if (auto* x = std::get_if<WebSocketClosed>(&m)) closed = *x;
    }
    return closed.has_value();
  }));
  EXPECT_EQ(closed->code, 1002);
}

TEST(BackendServer, WebSocketAppCloseRunsTheClosingHandshake) {
  Harness h([](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<WebSocketRequested>(&m)) {
      std::vector<Outbound> ops;
      ops.emplace_back(WsAccept{});
      ops.emplace_back(WsSend{"bye soon", true});
      ops.emplace_back(WsClose{4000, "app says bye"});
      app.server().submit(r->id, std::move(ops));
    }
  });
  Client c = ws_connect(h);
  auto message = read_frame(c);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->payload, "bye soon");
  auto closing = read_frame(c);
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->opcode, 0x8);
  EXPECT_EQ(close_code(*closing), 4000);
  EXPECT_EQ(closing->payload.substr(2), "app says bye");
  EXPECT_FALSE(c.closed_within(200ms));  // the server waits for our close frame
  c.send(wst::close_frame(4000));
  EXPECT_TRUE(c.closed_within(2s));
  EXPECT_TRUE(eventually([&] { return h.server->active_exchanges() == 0; }));
  EXPECT_EQ(h.app.count<WebSocketClosed>(), 0u);  // the app closed: nothing to tell it
}

TEST(BackendServer, WebSocketDeniedHandshakeIsAnHttpResponseThenClose) {
  Harness h([](FakeApp& app, Inbound& m) {
    if (auto* r = std::get_if<WebSocketRequested>(&m)) {
      std::vector<Outbound> ops;  // what the bridge submits for a close before the accept
      ops.emplace_back(SendHead{403, {{"content-length", "0"}}});
      ops.emplace_back(SendEnd{});
      app.server().submit(r->id, std::move(ops));
    }
  });
  Client c = h.client();
  c.send(ws_handshake());
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(2s));
}

TEST(BackendServer, WebSocketInvalidHandshakeIsAnsweredWithoutTheApp) {
  Harness h(ws_echo_app());
  Client no_key = h.client();
  no_key.send("GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n");
  auto bad = no_key.read_response();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(no_key.closed_within(2s));
  Client old = h.client();
  old.send("GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  auto version = old.read_response();
  ASSERT_TRUE(version);
  EXPECT_EQ(version->status, 426);
  EXPECT_EQ(version->header("sec-websocket-version"), "13");
  EXPECT_EQ(h.app.count<WebSocketRequested>(), 0u);
}

TEST(BackendServer, WebSocketOffServesHandshakesAsHttp) {
  ServerConfig config = loopback_config();
  config.ws.enabled = false;
  Harness h(echo_app(), config);
  Client c = h.client();
  c.send(ws_handshake());
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(h.app.started().size(), 1u);
  EXPECT_EQ(h.app.count<WebSocketRequested>(), 0u);
}

TEST(BackendServer, WebSocketQueueBoundPausesReadingUntilTheAppConsumes) {
  ServerConfig config = loopback_config();
  config.ws.max_queue = 2;
  std::mutex mu;
  std::vector<ExchangeId> ids;
  Harness h(
      [&](FakeApp& app, Inbound& m) {
        if (auto* r = std::get_if<WebSocketRequested>(&m)) {
          {
            std::lock_guard lock(mu);
            ids.push_back(r->id);
          }
          std::vector<Outbound> ops;
          ops.emplace_back(WsAccept{});
          app.server().submit(r->id, std::move(ops));
        }
      },
      config);
  Client c = ws_connect(h);
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += wst::text("m" + std::to_string(i));
  c.send(ten);
  ASSERT_TRUE(h.app.wait_count<WebSocketReceived>(2));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(h.app.count<WebSocketReceived>(), 2u);  // the bound holds while nothing is consumed
  ExchangeId id = 0;
  {
    std::lock_guard lock(mu);
    id = ids.at(0);
  }
  for (std::size_t seen = 2; seen < 10; seen += 2) {  // as an app would: what it received
    ASSERT_TRUE(h.app.wait_count<WebSocketReceived>(seen));
    h.server->messages_consumed(id, 2);
  }
  ASSERT_TRUE(h.app.wait_count<WebSocketReceived>(10));
  EXPECT_EQ(h.app.count<WebSocketReceived>(), 10u);
}

TEST(BackendServer, WebSocketUnansweredPingCloses1011) {
  ServerConfig config = loopback_config();
  config.ws.ping_interval = 0.2;
  config.ws.ping_timeout = 0.2;
  Harness h(ws_echo_app(), config);
  Client c = ws_connect(h);
  auto ping = read_frame(c);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->opcode, 0x9);
  auto closing = read_frame(c);  // we never answer
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->opcode, 0x8);
  EXPECT_EQ(close_code(*closing), 1011);
  ASSERT_TRUE(h.app.wait_count<WebSocketClosed>(1));
}

TEST(BackendServer, WebSocketShutdownCloses1001) {
  Harness h(ws_echo_app());
  Client c = ws_connect(h);
  ASSERT_TRUE(h.app.wait_count<WebSocketRequested>(1));
  h.server->shutdown(5.0);
  auto closing = read_frame(c);
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->opcode, 0x8);
  EXPECT_EQ(close_code(*closing), 1001);
  ASSERT_TRUE(h.app.wait_count<WebSocketClosed>(1));
  c.send(wst::close_frame(1001));
  EXPECT_TRUE(c.closed_within(2s));
  h.server->join();
  EXPECT_EQ(h.server->active_exchanges(), 0u);
}

TEST(BackendServer, WebSocketClientVanishingIsClientGone) {
  Harness h(ws_echo_app());
  Client c = ws_connect(h);
  ASSERT_TRUE(h.app.wait_count<WebSocketRequested>(1));
  c.close_now();
  ASSERT_TRUE(h.app.wait_count<ClientGone>(1));
  EXPECT_TRUE(eventually([&] { return h.server->active_exchanges() == 0; }));
}

}  // namespace
