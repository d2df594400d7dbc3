// ws_load: a WebSocket echo load generator for tools/bench (the "ws" scenario).
//
//   ws_load --port N [--host 127.0.0.1] [--path /ws] [--connections 64] [--size 32]
//           [--duration 10s] [--timeout 5s] [--connect-timeout 5s]
//
// One thread, epoll, non-blocking sockets.  Opens --connections connections, does the HTTP/1.1
// upgrade on each (checks "101" and Sec-WebSocket-Accept), then, once every connection is open,
// each connection loops for --duration: send one masked text frame of --size bytes, wait for the
// echo (text or binary, possibly fragmented), check it is the same payload, record the round-trip
// time, send the next.  One message in flight per connection, like wrk's one request per
// connection.  Pings are answered with pongs.  Every loop is bounded by a deadline.
//
// Output: one line on stdout, "BENCH_JSON {...}" with the field names of the shared harness's
// report.lua (requests = echoed messages; latency in microseconds), so that bench.py's
// parse_wrk reads it; a human summary goes to stderr.
// Exit status: 0 ran; 2 bad usage; 3 upgrade refused (a server answered, but not "101"; the
// JSON line carries upgrade_status and upgrade_line); 4 could not connect or the handshake timed
// out; 1 other failure (every connection died).
//
// Build: g++ -O2 -std=c++20 -o ws_load ws_load.cpp   (tools/bench/run.sh does it)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// ---------------------------------------------------------------- SHA-1 and base64 (handshake)
std::array<uint8_t, 20> sha1(std::string_view msg) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  std::string data(msg);
  uint64_t bit_len = uint64_t(msg.size()) * 8;
  data.push_back(char(0x80));
  while (data.size() % 64 != 56) data.push_back('\0');
  for (int i = 7; i >= 0; --i) data.push_back(char((bit_len >> (i * 8)) & 0xff));
  auto rol = [](uint32_t v, int n) { return (v << n) | (v >> (32 - n)); };
  for (size_t off = 0; off < data.size(); off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(data.data() + off + i * 4);
      w[i] = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
    }
    for (int i = 16; i < 80; ++i) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
      else { f = b ^ c ^ d; k = 0xCA62C1D6; }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  std::array<uint8_t, 20> out{};
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = uint8_t(h[i] >> (24 - 8 * j));
  return out;
}

std::string base64(const uint8_t* p, size_t n) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (i + 1 < n) v |= uint32_t(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out.push_back(tbl[(v >> 18) & 63]);
    out.push_back(tbl[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? tbl[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? tbl[v & 63] : '=');
  }
  return out;
}

// ---------------------------------------------------------------- options
struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/ws";
  int connections = 64;
  size_t size = 32;
  double duration_s = 10;
  double timeout_s = 5;
  double connect_timeout_s = 5;
};

double parse_seconds(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  std::string_view unit(end);
  if (end == s || v < 0) return -1;
  if (unit.empty() || unit == "s") return v;
  if (unit == "ms") return v / 1000;
  if (unit == "m") return v * 60;
  return -1;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "ws_load: %s\nusage: ws_load --port N [--host 127.0.0.1] [--path /ws] "
               "[--connections 64] [--size 32] [--duration 10s] [--timeout 5s] "
               "[--connect-timeout 5s]\n",
               why);
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a(argv[i]);
    if (a == "-h" || a == "--help") {
      std::printf("usage: ws_load --port N [--host 127.0.0.1] [--path /ws] [--connections 64] "
                  "[--size 32] [--duration 10s] [--timeout 5s] [--connect-timeout 5s]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) usage("option without a value");
    const char* v = argv[++i];
    if (a == "--host") o.host = v;
    else if (a == "--port") o.port = std::atoi(v);
    else if (a == "--path") o.path = v;
    else if (a == "--connections") o.connections = std::atoi(v);
    else if (a == "--size") o.size = size_t(std::atol(v));
    else if (a == "--duration") o.duration_s = parse_seconds(v);
    else if (a == "--timeout") o.timeout_s = parse_seconds(v);
    else if (a == "--connect-timeout") o.connect_timeout_s = parse_seconds(v);
    else usage("unknown option");
  }
  if (o.port <= 0 || o.port > 65535) usage("--port is required (1-65535)");
  if (o.connections < 1 || o.connections > 10000) usage("--connections must be 1-10000");
  if (o.size < 1 || o.size > (16u << 20)) usage("--size must be 1 B - 16 MiB");
  if (o.duration_s <= 0 || o.duration_s > 3600) usage("--duration must be > 0 and <= 1h");
  if (o.timeout_s <= 0 || o.connect_timeout_s <= 0) usage("bad timeout");
  return o;
}

// ---------------------------------------------------------------- connections
enum class State { Connecting, Handshake, Open, Dead };

struct Conn {
  int fd = -1;
  State state = State::Connecting;
  std::string out;          // bytes still to write
  size_t out_off = 0;
  std::string in;           // bytes read, not yet parsed
  std::string msg;          // payload of the message being reassembled (fragments)
  std::string expected;     // payload of the message in flight
  std::string accept;       // expected Sec-WebSocket-Accept
  int64_t sent_ns = 0;
  bool in_flight = false;
  bool timed_out = false;
  bool want_out = false;    // EPOLLOUT registered
  uint64_t seq = 0;
};

struct Stats {
  uint64_t messages = 0, bytes = 0;
  uint64_t err_connect = 0, err_read = 0, err_write = 0, err_status = 0, err_timeout = 0;
  std::vector<uint32_t> lat_us;
  uint32_t lat_min = UINT32_MAX, lat_max = 0;
  double lat_sum = 0, lat_sum2 = 0;
  int upgrade_status = 0;   // first non-101 status seen (0: none)
  std::string upgrade_line; // its status line
  std::string first_error;
};

constexpr size_t kMaxLatencySamples = 20'000'000;  // 80 MB at most

class Load {
 public:
  explicit Load(Options o) : opt_(std::move(o)), rng_(std::random_device{}()) {}

  int run();

 private:
  void fail(Conn& c, uint64_t Stats::*counter, const std::string& why) {
    if (c.state == State::Dead) return;
    if (counter) ++(st_.*counter);
    if (st_.first_error.empty()) st_.first_error = why;
    c.state = State::Dead;
    if (c.fd >= 0) {
      epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      close(c.fd);
      c.fd = -1;
    }
  }
  void set_out(Conn& c, bool want) {
    if (c.want_out == want || c.fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? uint32_t(EPOLLOUT) : 0u);
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_out = want;
  }
  void flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += size_t(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_out(c, true);
        return;
      }
      fail(c, &Stats::err_write, std::string("write: ") + std::strerror(errno));
      return;
    }
    c.out.clear();
    c.out_off = 0;
    set_out(c, false);
  }
  void append_frame(Conn& c, uint8_t opcode, std::string_view payload) {
    size_t n = payload.size();
    c.out.push_back(char(0x80 | opcode));
    if (n < 126) {
      c.out.push_back(char(0x80 | n));
    } else if (n < 65536) {
      c.out.push_back(char(0x80 | 126));
      c.out.push_back(char(n >> 8));
      c.out.push_back(char(n & 0xff));
    } else {
      c.out.push_back(char(0x80 | 127));
      for (int i = 7; i >= 0; --i) c.out.push_back(char((uint64_t(n) >> (8 * i)) & 0xff));
    }
    uint32_t m = uint32_t(rng_());
    uint8_t mask[4] = {uint8_t(m), uint8_t(m >> 8), uint8_t(m >> 16), uint8_t(m >> 24)};
    c.out.append(reinterpret_cast<char*>(mask), 4);
    size_t base = c.out.size();
    c.out.append(payload);
    for (size_t i = 0; i < n; ++i) c.out[base + i] = char(c.out[base + i] ^ mask[i & 3]);
  }
  void send_message(Conn& c) {
    // A printable payload of exactly opt_.size bytes that differs from message to message.
    std::string& p = c.expected;
    p.assign(opt_.size, 'x');
    char tag[32];
    int len = std::snprintf(tag, sizeof tag, "%llu:", static_cast<unsigned long long>(c.seq++));
    std::memcpy(p.data(), tag, std::min(size_t(len), p.size()));
    append_frame(c, 0x1, p);
    c.in_flight = true;
    c.timed_out = false;
    c.sent_ns = now_ns();
    flush(c);
  }
  void on_message(Conn& c, int64_t t) {
    if (!c.in_flight || c.msg != c.expected) {
      ++st_.err_status;
      if (st_.first_error.empty()) st_.first_error = "echo does not match the message sent";
    }
    if (measuring_) {
      ++st_.messages;
      auto us = uint32_t(std::min<int64_t>((t - c.sent_ns) / 1000, UINT32_MAX));
      if (st_.lat_us.size() < kMaxLatencySamples) st_.lat_us.push_back(us);
      st_.lat_min = std::min(st_.lat_min, us);
      st_.lat_max = std::max(st_.lat_max, us);
      st_.lat_sum += us;
      st_.lat_sum2 += double(us) * us;
    }
    c.in_flight = false;
    c.msg.clear();
    if (measuring_ && t < end_ns_) send_message(c);
  }
  void handshake_response(Conn& c) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > 65536) fail(c, &Stats::err_read, "handshake response head too large");
      return;
    }
    std::string head = c.in.substr(0, end + 2);
    c.in.erase(0, end + 4);
    std::string line = head.substr(0, head.find("\r\n"));
    int status = 0;
    if (line.size() > 12 && line.compare(0, 5, "HTTP/") == 0) status = std::atoi(line.c_str() + 9);
    if (status != 101) {
      if (!st_.upgrade_status) {
        st_.upgrade_status = status ? status : -1;
        st_.upgrade_line = line;
      }
      fail(c, nullptr, "upgrade refused: " + line);
      ++refused_;
      return;
    }
    // Sec-WebSocket-Accept, header names are case-insensitive.
    std::string lower = head;
    for (auto& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
    size_t pos = lower.find("\r\nsec-websocket-accept:");
    std::string got;
    if (pos != std::string::npos) {
      size_t v = pos + 23;
      size_t e = head.find("\r\n", v);
      got = head.substr(v, e - v);
      got.erase(0, got.find_first_not_of(" \t"));
      got.erase(got.find_last_not_of(" \t") + 1);
    }
    if (got != c.accept) {
      fail(c, &Stats::err_status, "bad Sec-WebSocket-Accept: '" + got + "'");
      ++refused_;
      return;
    }
    c.state = State::Open;
    ++open_;
  }
  void parse_frames(Conn& c, int64_t t) {
    size_t pos = 0;
    while (c.state == State::Open) {
      size_t avail = c.in.size() - pos;
      if (avail < 2) break;
      auto* p = reinterpret_cast<const uint8_t*>(c.in.data() + pos);
      bool fin = p[0] & 0x80;
      uint8_t opcode = p[0] & 0x0f;
      bool masked = p[1] & 0x80;
      uint64_t len = p[1] & 0x7f;
      size_t hdr = 2;
      if (len == 126) {
        if (avail < 4) break;
        len = uint64_t(p[2]) << 8 | p[3];
        hdr = 4;
      } else if (len == 127) {
        if (avail < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = len << 8 | p[2 + i];
        hdr = 10;
      }
      if (len > (64u << 20)) {
        fail(c, &Stats::err_read, "frame larger than 64 MiB");
        return;
      }
      size_t mask_at = hdr;
      if (masked) hdr += 4;
      if (avail < hdr + len) break;
      std::string payload(c.in.data() + pos + hdr, size_t(len));
      if (masked)
        for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(payload[i] ^ p[mask_at + (i & 3)]);
      pos += hdr + size_t(len);
      switch (opcode) {
        case 0x0: case 0x1: case 0x2:
          c.msg += payload;
          if (fin) on_message(c, t);
          break;
        case 0x8:
          fail(c, &Stats::err_read, "server sent a close frame");
          return;
        case 0x9:
          append_frame(c, 0xA, payload);
          flush(c);
          break;
        case 0xA:
          break;
        default:
          fail(c, &Stats::err_read, "unknown opcode");
          return;
      }
    }
    if (c.state != State::Dead) c.in.erase(0, pos);
  }
  void on_readable(Conn& c) {
    char buf[65536];
    for (int rounds = 0; rounds < 64 && c.state != State::Dead; ++rounds) {
      ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        if (measuring_) st_.bytes += uint64_t(n);
        c.in.append(buf, size_t(n));
        if (size_t(n) < sizeof buf) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      fail(c, &Stats::err_read, n == 0 ? "server closed the connection"
                                       : std::string("read: ") + std::strerror(errno));
      return;
    }
    int64_t t = now_ns();
    if (c.state == State::Handshake) handshake_response(c);
    if (c.state == State::Open) parse_frames(c, t);
  }
  void on_connected(Conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      fail(c, &Stats::err_connect, std::string("connect: ") + std::strerror(err));
      return;
    }
    uint8_t key[16];
    for (auto& b : key) b = uint8_t(rng_());
    std::string k = base64(key, sizeof key);
    auto digest = sha1(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    c.accept = base64(digest.data(), digest.size());
    c.out = "GET " + opt_.path + " HTTP/1.1\r\nHost: " + opt_.host + ":" + std::to_string(opt_.port) +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + k +
            "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    c.out_off = 0;
    c.state = State::Handshake;
    flush(c);
  }
  void print_result(double secs) const;

  Options opt_;
  std::mt19937 rng_;
  int ep_ = -1;
  std::vector<Conn> conns_;
  Stats st_;
  int open_ = 0, refused_ = 0;
  bool measuring_ = false;
  int64_t end_ns_ = 0;
};

int Load::run() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(opt_.port));
  if (inet_pton(AF_INET, opt_.host.c_str(), &addr.sin_addr) != 1) usage("--host must be an IPv4 address");
  ep_ = epoll_create1(EPOLL_CLOEXEC);
  conns_.resize(size_t(opt_.connections));
  for (auto& c : conns_) {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (r < 0 && errno != EINPROGRESS) {
      fail(c, &Stats::err_connect, std::string("connect: ") + std::strerror(errno));
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &c;
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.want_out = true;
  }

  std::vector<epoll_event> events(1024);
  auto loop_once = [&](int timeout_ms) {
    int n = epoll_wait(ep_, events.data(), int(events.size()), timeout_ms);
    for (int i = 0; i < n; ++i) {
      auto& c = *static_cast<Conn*>(events[size_t(i)].data.ptr);
      if (c.state == State::Dead) continue;
      uint32_t e = events[size_t(i)].events;
      if (c.state == State::Connecting) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        continue;
      }
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
      if (c.state != State::Dead && (e & EPOLLOUT)) flush(c);
    }
  };

  // Phase 1: connect and upgrade every connection (bounded by --connect-timeout).
  int64_t hs_deadline = now_ns() + int64_t(opt_.connect_timeout_s * 1e9);
  auto settled = [&] {
    int done = 0;
    for (auto& c : conns_) done += (c.state == State::Open || c.state == State::Dead);
    return done == int(conns_.size());
  };
  while (!settled() && now_ns() < hs_deadline) loop_once(50);
  int pending = 0;
  for (auto& c : conns_)
    if (c.state == State::Connecting || c.state == State::Handshake) {
      ++pending;
      fail(c, &Stats::err_connect, "connect/upgrade timed out");
    }
  if (open_ < int(conns_.size())) {
    int code = refused_ ? 3 : 4;
    std::fprintf(stderr, "ws_load: %d of %d connections upgraded (%d refused, %d timed out): %s\n",
                 open_, int(conns_.size()), refused_, pending, st_.first_error.c_str());
    print_result(0);
    for (auto& c : conns_) fail(c, nullptr, "");
    return code;
  }

  // Phase 2: echo loop for --duration.
  int64_t t0 = now_ns();
  end_ns_ = t0 + int64_t(opt_.duration_s * 1e9);
  int64_t timeout_ns = int64_t(opt_.timeout_s * 1e9);
  measuring_ = true;
  for (auto& c : conns_) send_message(c);
  int64_t next_check = t0 + 100'000'000;
  while (true) {
    int64_t t = now_ns();
    if (t >= end_ns_) break;
    loop_once(int(std::clamp<int64_t>((end_ns_ - t) / 1'000'000, 1, 100)));
    t = now_ns();
    if (t >= next_check) {
      next_check = t + 100'000'000;
      int alive = 0;
      for (auto& c : conns_) {
        if (c.state != State::Open) continue;
        ++alive;
        if (c.in_flight && !c.timed_out && t - c.sent_ns > timeout_ns) {
          c.timed_out = true;
          ++st_.err_timeout;
        }
      }
      if (!alive) break;
    }
  }
  double secs = double(now_ns() - t0) / 1e9;
  measuring_ = false;
  // Let the echoes still in flight arrive (not counted; at most 1 s), so that the close frame
  // does not race the app's send (an app would see its send fail on a closed connection).
  int64_t drain_deadline = now_ns() + 1'000'000'000;
  auto in_flight = [&] {
    for (auto& c : conns_)
      if (c.state == State::Open && c.in_flight) return true;
    return false;
  };
  while (in_flight() && now_ns() < drain_deadline) loop_once(10);
  int alive = 0;
  for (auto& c : conns_) {
    if (c.state != State::Open) continue;
    ++alive;
    // A polite close (code 1000), then close the socket without waiting for the reply.
    c.out.clear();
    c.out_off = 0;
    append_frame(c, 0x8, std::string_view("\x03\xe8", 2));
    ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    fail(c, nullptr, "");
  }
  print_result(secs);
  close(ep_);
  return alive ? 0 : 1;
}

void Load::print_result(double secs) const {
  std::vector<uint32_t> lat = st_.lat_us;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) -> unsigned long long {
    if (lat.empty()) return 0;
    size_t i = size_t(std::ceil(q / 100.0 * double(lat.size())));
    return lat[std::min(lat.size() - 1, i ? i - 1 : 0)];
  };
  double n = double(lat.size());
  double mean = n ? st_.lat_sum / n : 0;
  double var = n > 1 ? std::max(0.0, (st_.lat_sum2 - n * mean * mean) / (n - 1)) : 0;
  std::string esc;
  for (char ch : st_.upgrade_line)
    if (ch != '"' && ch != '\\' && static_cast<unsigned char>(ch) >= 0x20) esc.push_back(ch);
  std::printf(
      "BENCH_JSON {\"requests\":%llu,\"duration_us\":%lld,\"bytes\":%llu,"
      "\"err_connect\":%llu,\"err_read\":%llu,\"err_write\":%llu,\"err_status\":%llu,"
      "\"err_timeout\":%llu,\"lat_min_us\":%u,\"lat_mean_us\":%.1f,\"lat_stdev_us\":%.1f,"
      "\"lat_max_us\":%u,\"p50_us\":%llu,\"p75_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu,"
      "\"p999_us\":%llu,\"ws_connections\":%d,\"ws_message_bytes\":%zu,\"ws_open\":%d,"
      "\"upgrade_status\":%d,\"upgrade_line\":\"%s\"}\n",
      static_cast<unsigned long long>(st_.messages), static_cast<long long>(secs * 1e6),
      static_cast<unsigned long long>(st_.bytes), static_cast<unsigned long long>(st_.err_connect),
      static_cast<unsigned long long>(st_.err_read), static_cast<unsigned long long>(st_.err_write),
      static_cast<unsigned long long>(st_.err_status),
      static_cast<unsigned long long>(st_.err_timeout), lat.empty() ? 0u : st_.lat_min, mean,
      std::sqrt(var), st_.lat_max, pct(50), pct(75), pct(90), pct(99), pct(99.9), opt_.connections,
      opt_.size, open_, st_.upgrade_status, esc.c_str());
  std::fflush(stdout);
  if (secs > 0)
    std::fprintf(stderr,
                 "ws_load: %d connections, %zu-byte messages, %.2f s: %llu echoes, %.0f msg/s, "
                 "p50 %llu us, p99 %llu us; errors connect %llu read %llu write %llu "
                 "mismatch %llu timeout %llu%s%s\n",
                 opt_.connections, opt_.size, secs, static_cast<unsigned long long>(st_.messages),
                 double(st_.messages) / secs, pct(50), pct(99),
                 static_cast<unsigned long long>(st_.err_connect),
                 static_cast<unsigned long long>(st_.err_read),
                 static_cast<unsigned long long>(st_.err_write),
                 static_cast<unsigned long long>(st_.err_status),
                 static_cast<unsigned long long>(st_.err_timeout),
                 st_.first_error.empty() ? "" : "; first error: ", st_.first_error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);
  Load load(std::move(opt));
  return load.run();
}
