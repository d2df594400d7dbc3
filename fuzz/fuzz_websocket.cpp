// libFuzzer target: websocket::Connection (frames in, events out, echo, output drained).
//
// Input layout: byte 0 picks the options, byte 1 seeds the feeding pattern, the rest is the
// client's byte stream, fed in pieces of 1..N bytes (N from byte 1; 0: all at once).
//   byte 0 bit 0: permessage-deflate negotiated        bit 1: no context takeover both ways
//   byte 0 bit 2: max_message_bytes 1000 (else 64 KiB) bit 3: keepalive pings every 10 ms
//   byte 0 bit 4: EOF after the input                  bit 5: the app sends close midway
// Like an echo app, every message is sent back (which exercises compression). The target traps
// when an invariant breaks: Text not UTF-8, a message over the limit, a Close code outside the
// set the core may report, events after Close, output that is not well-formed server frames.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/websocket/connection.hpp"
#include "protocol/websocket/utf8.hpp"

namespace {

using namespace lancet::websocket;

void check(bool cond) {
  if (!cond) __builtin_trap();
}

bool reportable_close(std::uint16_t code) {
  return is_valid_close_code(code) || code == kCloseNoStatus || code == kCloseAbnormal;
}

// Checks that `out` is a sequence of complete, unmasked frames with minimal lengths.
void check_frames(std::string_view out) {
  std::size_t i = 0;
  while (i < out.size()) {
    check(out.size() - i >= 2);
    const auto b1 = static_cast<std::uint8_t>(out[i + 1]);
    check((b1 & 0x80) == 0);
    std::uint64_t n = b1 & 0x7f;
    i += 2;
    const std::size_t ext = n == 126 ? 2 : n == 127 ? 8 : 0;
    check(out.size() - i >= ext);
    if (ext) {
      n = 0;
      for (std::size_t k = 0; k < ext; ++k) n = n << 8 | static_cast<std::uint8_t>(out[i + k]);
      check(ext == 2 ? n >= 126 : n > 0xffff);
      i += ext;
    }
    check(out.size() - i >= n);
    i += static_cast<std::size_t>(n);
  }
}

struct Run {
  Connection conn;
  std::size_t max;
  bool closed = false;
  std::string written;  // all output, for the frame check

  void drain(std::uint32_t& s) {
    while (conn.pending_output_bytes() > 0) {
      std::string_view views[4];
      const std::size_t n = conn.pending_output(views);
      check(n > 0);
      s = s * 1103515245u + 12345u;
      const std::size_t take = std::min<std::size_t>(views[0].size(), 1 + (s >> 16) % 97);
      written.append(views[0].substr(0, take));
      conn.consume_output(take);
    }
  }

  void pull() {
    for (int guard = 0; guard < 100000; ++guard) {
      const Event ev = conn.next_event();
      if (std::holds_alternative<NeedData>(ev)) return;
      check(!closed);
      if (const auto* t = std::get_if<Text>(&ev)) {
        check(is_valid_utf8(t->data) && t->data.size() <= max);
        (void)conn.send_text(t->data);
      } else if (const auto* b = std::get_if<Binary>(&ev)) {
        check(b->data.size() <= max);
        (void)conn.send_binary(b->data);
      } else if (const auto* p = std::get_if<Ping>(&ev)) {
        check(p->payload.size() <= kMaxControlPayload);
      } else if (const auto* c = std::get_if<Close>(&ev)) {
        check(reportable_close(c->code));
        check(conn.state() == State::closed);
        closed = true;
      }
    }
    check(false);  // next_event() must reach NeedData
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  std::uint32_t s = data[1] * 2654435761u + 1;
  const std::size_t max_piece = data[1] % 23;
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  Options o;
  o.max_message_bytes = (flags & 4) ? 1000 : 64 * 1024;
  if (flags & 1) {
    DeflateParams p;
    p.server_no_context_takeover = p.client_no_context_takeover = (flags & 2) != 0;
    p.server_max_window_bits = static_cast<std::uint8_t>(9 + data[1] % 7);
    o.deflate = p;
  }
  if (flags & 8) {
    o.ping_interval_ms = 10;
    o.ping_timeout_ms = 5;
  }
  Run run{Connection(o, 0), o.max_message_bytes, false, {}};
  std::uint64_t now = 0;
  std::size_t at = 0;
  while (at < input.size()) {
    std::size_t n = input.size() - at;
    if (max_piece != 0) {
      s = s * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (s >> 16) % max_piece);
    }
    run.conn.receive_data(input.substr(at, n));
    at += n;
    run.pull();
    now += 3;
    run.conn.on_timer(now);
    if ((flags & 32) && at * 2 >= input.size() && run.conn.state() == State::open) {
      check(run.conn.send_close(1001, "bye").has_value());
    }
    run.drain(s);
  }
  if (flags & 16) run.conn.receive_eof();
  run.pull();
  run.drain(s);
  check_frames(run.written);
  if (flags & 16) check(run.closed && run.conn.should_close());
  return 0;
}
