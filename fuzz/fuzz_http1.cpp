// libFuzzer target: the HTTP/1.1 server connection (receive_data / next_event), driven like a
// server would drive it, with its responses drained (nghttp2 style).
//
// Input layout (llhttp style: the first bytes choose options, the rest is the request stream):
//   byte 0  bit 0-3: lenient headers / chunked_length / keep_alive / transfer_encoding
//           bit 4: small limits (byte 4 picks them)   bit 5: set_date()
//           bit 6: request_close() after the first request   bit 7: no Server header
//   byte 1  feeding: 0 = the whole stream at once, else pieces of 1..byte1 bytes
//   byte 2  seed for the response choices (status, framing, 100-continue, 101, early reply)
//   byte 3  split point for the split-invariance check, as a fraction of the stream (x/256)
//   byte 4  seed for the small limits
//   rest    the bytes the peer sends
//
// Invariants checked (__builtin_trap on violation):
//   - errors are sticky: after an error every next_event() returns the same error;
//   - an error our parser callbacks raise keeps its code (never llhttp's "callback error");
//   - events come in order: head, data*, end_of_message, then paused / next head;
//   - every Data piece is non-empty and is a substring of the bytes fed so far;
//   - a Content-Length body delivers exactly that many bytes;
//   - pending_output() views add up to pending_output_bytes(), none empty;
//   - valid response calls succeed, a known-invalid one fails with its code;
//   - trace_request_stream() gives the same trace for the whole stream and for it split in two,
//     and the same again when the two pieces are lent (lend_data/keep_input, the buffer
//     overwritten after each) instead of copied.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/error.hpp"
#include "protocol/http1/connection.hpp"
#include "protocol/http1/limits.hpp"
#include "protocol/http1/message.hpp"
#include "protocol/http1/trace.hpp"

namespace {

using namespace lancet;
using namespace lancet::http1;

void check(bool cond) {
  if (!cond) __builtin_trap();
}

/// xorshift32: deterministic choices from one fuzzer byte.
struct Rng {
  std::uint32_t s;
  explicit Rng(std::uint8_t seed) : s(0x9e3779b9u ^ (std::uint32_t{seed} * 0x01000193u)) {}
  std::uint32_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return s;
  }
  std::uint32_t below(std::uint32_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(std::uint32_t one_in) { return below(one_in) == 0; }
};

constexpr std::size_t kOptionBytes = 5;

Options make_options(const std::uint8_t* opt) {
  Options o;
  o.lenient.headers = (opt[0] & 0x01) != 0;
  o.lenient.chunked_length = (opt[0] & 0x02) != 0;
  o.lenient.keep_alive = (opt[0] & 0x04) != 0;
  o.lenient.transfer_encoding = (opt[0] & 0x08) != 0;
  if ((opt[0] & 0x10) != 0) {
    Rng r(opt[4]);
    o.limits.max_head_bytes = 16 + r.below(512);
    o.limits.max_header_count = r.below(8);
    o.limits.max_target_bytes = 1 + r.below(64);
    o.limits.max_body_bytes = r.below(256);
    o.limits.max_pipelined_bytes = 1 + r.below(64);
  }
  o.date_header = (opt[0] & 0x20) != 0;
  if ((opt[0] & 0x80) != 0) o.server_header.clear();
  return o;
}

class Driver {
 public:
  Driver(const Options& options, std::uint8_t seed, bool close_after_first)
      : conn_(options), rng_(seed), close_after_first_(close_after_first) {
    if (options.date_header) conn_.set_date("Sun, 06 Nov 1994 08:49:37 GMT");
  }

  bool finished() const { return finished_; }

  void feed(std::string_view bytes) {
    fed_.append(bytes);
    conn_.receive_data(bytes);
    pump();
  }

  void eof() {
    conn_.receive_eof();
    pump();
    check(finished_);  // after EOF the connection never asks for more data
  }

 private:
  enum class Their : std::uint8_t { idle, body, done };

  // Pulls events until the connection needs data or the connection is over.
  void pump() {
    std::size_t guard = 0;
    while (!finished_) {
      check(++guard < 4 * fed_.size() + 64);  // every event consumes input or ends the loop
      auto ev = conn_.next_event();
      if (!ev) return on_error(ev.error());
      if (std::holds_alternative<NeedData>(*ev)) {
        check(their_ != Their::done);
        return;
      }
      if (auto* h = std::get_if<RequestHead>(&*ev)) {
        on_head(*h);
      } else if (auto* d = std::get_if<Data>(&*ev)) {
        on_data(*d);
      } else if (auto* e = std::get_if<EndOfMessage>(&*ev)) {
        on_end(*e);
      } else if (std::holds_alternative<Paused>(*ev)) {
        // Only while the cycle is over and not restarted: done, must_close or upgraded.
        check(their_ == Their::done);
        finished_ = true;
      } else if (std::holds_alternative<ConnectionClosed>(*ev)) {
        check(their_ == Their::idle);
        auto again = conn_.next_event();
        check(again && std::holds_alternative<ConnectionClosed>(*again));
        finished_ = true;
      }
    }
  }

  void on_error(const Error& e) {
    check(e.origin == Origin::remote);
    check(e.http_status_hint >= 400 && e.http_status_hint <= 599);
    check(e.detail != nullptr);
    // An error raised in one of our llhttp callbacks must reach the caller with its own code,
    // not as llhttp's generic "`on_...` callback error" (which maps to 400 bad_request).
    check(std::string_view(e.detail).find("callback error") == std::string_view::npos);
    check(conn_.error() != nullptr && *conn_.error() == e);
    for (int i = 0; i < 2; ++i) {  // sticky
      auto again = conn_.next_event();
      check(!again && again.error() == e && again.error().detail == e.detail);
    }
    const bool response_started = our_started_;
    conn_.send_error_response(e);
    const std::string out = drain();
    if (!response_started) {
      check(out.rfind("HTTP/1.1 " + std::to_string(e.http_status_hint), 0) == 0);
      check(out.find("connection: close\r\n") != std::string::npos);
    }
    check(!conn_.keep_alive());
    check(conn_.should_close());
    check(!conn_.wants_read());
    finished_ = true;
  }

  void on_head(const RequestHead& h) {
    check(their_ == Their::idle);
    check(!h.method.empty() && !h.target.empty());
    check(!(h.chunked && h.content_length));
    for (const Header& f : h.headers) check(!f.name.empty());
    their_ = Their::body;
    body_seen_ = 0;
    content_length_ = h.content_length;
    is_head_ = h.method == "HEAD";
    is_upgrade_ = h.is_upgrade;
    if (h.expects_continue && rng_.below(4) != 0) {
      check(conn_.send(ResponseHead{100, {}, {}}).has_value());
      drain();
    }
    // Sometimes answer before the body is read (an app that does not read it).
    if (!is_upgrade_ && rng_.chance(5)) respond();
  }

  void on_data(const Data& d) {
    check(their_ == Their::body);
    check(!d.bytes.empty());
    check(std::string_view(fed_).find(d.bytes) != std::string_view::npos);
    body_seen_ += d.bytes.size();
    if (content_length_) check(body_seen_ <= *content_length_);
  }

  void on_end(const EndOfMessage& e) {
    check(their_ == Their::body);
    if (content_length_) {
      check(body_seen_ == *content_length_);
      check(e.trailers.empty());
    }
    for (const Header& f : e.trailers) check(!f.name.empty());
    their_ = Their::done;
    ++requests_;
    if (is_upgrade_ && !our_started_ && rng_.below(2) == 0) {
      const std::array<Header, 2> fields{Header{"Upgrade", "websocket"},
                                         Header{"Connection", "Upgrade"}};
      check(conn_.send(ResponseHead{101, fields, {}}).has_value());
      drain();
      check(conn_.their_state() == State::switched_protocol);
      const std::string_view rest = conn_.trailing_data();
      check(rest.size() <= fed_.size() &&
            std::string_view(fed_).substr(fed_.size() - rest.size()) == rest);
      finished_ = true;
      return;
    }
    if (!our_started_) respond();
    if (finished_) return;
    if (close_after_first_) conn_.request_close();
    if (conn_.keep_alive() && conn_.our_state() == State::done) {
      check(conn_.start_next_cycle().has_value());
      their_ = Their::idle;
      our_started_ = false;
    } else {
      check(!conn_.start_next_cycle().has_value());
    }
  }

  // One complete response, its shape chosen by the seed.
  void respond() {
    our_started_ = true;
    const std::size_t start = wire_.size();
    std::string_view tail;     // what the response must end with
    bool expect_tail = false;
    static constexpr std::string_view kBody = "0123456789abcdefghijklmnopqrstuvwxyz";
    const std::size_t len = rng_.below(static_cast<std::uint32_t>(kBody.size() + 1));
    const std::string len_text = std::to_string(len);
    switch (rng_.below(6)) {
      case 0: {  // 200 with Content-Length, the body in two sends
        const std::array<Header, 2> f{Header{"Content-Length", len_text},
                                      Header{"Content-Type", "text/plain"}};
        check(conn_.send(ResponseHead{200, f, {}}).has_value());
        const std::size_t cut = rng_.below(static_cast<std::uint32_t>(len + 1));
        check(conn_.send_data(kBody.substr(0, cut)).has_value());
        drain();
        check(conn_.send_data(kBody.substr(cut, len - cut)).has_value());
        check(conn_.send_end().has_value());
        expect_tail = !is_head_;
        tail = kBody.substr(0, len);
        break;
      }
      case 1: {  // no length: chunked (1.1) or until close (1.0), with trailers
        const std::array<Header, 1> t{Header{"X-Checksum", "abc"}};
        check(conn_.send(ResponseHead{200, {}, {}}).has_value());
        check(conn_.send_data(kBody.substr(0, len)).has_value());
        check(conn_.send_data({}).has_value());
        check(conn_.send_data(kBody.substr(len)).has_value());
        check(conn_.send_end(t).has_value());
        break;
      }
      case 2: {  // explicit chunked, a large held body (borrowed segment)
        const std::array<Header, 1> f{Header{"Transfer-Encoding", "chunked"}};
        static const std::string big(5000, 'x');
        check(conn_.send(ResponseHead{200, f, {}}).has_value());
        check(conn_.send_data(big, std::make_shared<int>(1)).has_value());
        check(conn_.send_end().has_value());
        break;
      }
      case 3: {  // 204 / 304: no body on the wire whatever is sent
        const std::uint16_t status = rng_.below(2) == 0 ? 204 : 304;
        check(conn_.send(ResponseHead{status, {}, {}}).has_value());
        check(conn_.send_data(kBody.substr(0, len)).has_value());
        check(conn_.send_end().has_value());
        expect_tail = true;
        tail = "\r\n\r\n";
        break;
      }
      case 4: {  // HEAD-ish: a declared length; the body is dropped for a HEAD request
        const std::array<Header, 1> f{Header{"content-length", "10"}};
        check(conn_.send(ResponseHead{200, f, "Fine"}).has_value());
        check(conn_.send_data(kBody.substr(0, 10)).has_value());
        check(conn_.send_end().has_value());
        break;
      }
      default: {  // a local error: more body than Content-Length says
        const std::array<Header, 1> f{Header{"Content-Length", "3"}};
        check(conn_.send(ResponseHead{404, f, {}}).has_value());
        auto r = conn_.send_data("four");
        if (is_head_) {
          check(r.has_value());  // dropped for HEAD: nothing is framed
          check(conn_.send_end().has_value());
        } else {
          check(!r && r.error().code == Errc::body_exceeds_content_length);
          check(r.error().origin == Origin::local);
          check(conn_.should_close());
          drain();
          finished_ = true;
          return;
        }
        break;
      }
    }
    drain();
    const std::string_view out = std::string_view(wire_).substr(start);
    check(out.rfind("HTTP/1.1 ", 0) == 0);
    check(out.find("\r\n\r\n") != std::string_view::npos);
    if (expect_tail) check(out.size() >= tail.size() && out.substr(out.size() - tail.size()) == tail);
  }

  // Drains pending output in irregular writes; checks the byte accounting.
  std::string drain() {
    std::string out;
    std::array<std::string_view, 64> all{};
    while (conn_.pending_output_bytes() > 0) {
      const std::size_t n = conn_.pending_output(all);
      check(n > 0);
      std::size_t sum = 0;
      for (std::size_t i = 0; i < n; ++i) {
        check(!all[i].empty());
        sum += all[i].size();
      }
      if (n < all.size()) check(sum == conn_.pending_output_bytes());
      // Write part of the first few views, like a short writev.
      const std::size_t k = std::min<std::size_t>(n, 1 + rng_.below(3));
      std::size_t avail = 0;
      for (std::size_t i = 0; i < k; ++i) avail += all[i].size();
      const std::size_t w = 1 + rng_.below(static_cast<std::uint32_t>(avail));
      std::size_t left = w;
      for (std::size_t i = 0; i < k && left > 0; ++i) {
        const std::size_t take = std::min(left, all[i].size());
        out.append(all[i].substr(0, take));
        left -= take;
      }
      const std::size_t before = conn_.pending_output_bytes();
      conn_.consume_output(w);
      check(conn_.pending_output_bytes() == before - w);
    }
    std::array<std::string_view, 4> none{};
    check(conn_.pending_output(none) == 0);
    check(!conn_.wants_write());
    wire_.append(out);
    return out;
  }

  ServerConnection conn_;
  Rng rng_;
  bool close_after_first_;
  std::string fed_;
  bool finished_ = false;
  Their their_ = Their::idle;
  bool our_started_ = false;
  std::string wire_;  // every byte written to the peer
  bool is_head_ = false;
  bool is_upgrade_ = false;
  std::optional<std::uint64_t> content_length_;
  std::uint64_t body_seen_ = 0;
  std::size_t requests_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::array<std::uint8_t, kOptionBytes> opt{};
  const std::size_t n_opt = std::min(size, kOptionBytes);
  std::copy(data, data + n_opt, opt.begin());
  const std::string_view stream(reinterpret_cast<const char*>(data) + n_opt, size - n_opt);
  const Options options = make_options(opt.data());

  // 1. Drive a connection as a server would, in pieces.
  {
    Driver d(options, opt[2], (opt[0] & 0x40) != 0);
    Rng pieces(opt[1]);
    std::size_t at = 0;
    while (at < stream.size() && !d.finished()) {
      std::size_t n = stream.size() - at;
      if (opt[1] != 0) n = std::min<std::size_t>(n, 1 + pieces.below(opt[1]));
      d.feed(stream.substr(at, n));
      at += n;
    }
    if (!d.finished()) d.eof();
  }

  // 2. Split invariance of the event trace (the same stream in one piece and in two).
  {
    const std::size_t cut = stream.size() * opt[3] / 256;
    const std::array<std::string_view, 2> two{stream.substr(0, cut), stream.substr(cut)};
    const std::string whole = trace_request_stream(options, stream);
    const std::string split = trace_request_stream(options, two);
    if (whole != split) __builtin_trap();
    if (trace_request_stream(options, two, Feed::lent) != split) __builtin_trap();
    if (trace_request_stream(options, two, Feed::lent_in_threes) != split) __builtin_trap();
  }
  return 0;
}
