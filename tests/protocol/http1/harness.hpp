// Test helpers for the http1 connection: feed bytes, collect events, drain output.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/http1/connection.hpp"

namespace lancet::http1::testing {

/// Drains and returns every pending output byte.
inline std::string drain(ServerConnection& conn) { return conn.take_output(); }

/// Pulls the next event and requires success.
inline Event next(ServerConnection& conn) {
  auto ev = conn.next_event();
  if (!ev) return Event{ConnectionClosed{}};  // tests check errors explicitly
  return *ev;
}

/// Feeds a whole request and returns its head (copied method/target for convenience).
struct Received {
  std::string method, target;
  Version version = Version::http11;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
  bool complete = false;
};

/// Pulls events until NeedData/Paused/error and records them.
inline Received receive_all(ServerConnection& conn) {
  Received r;
  for (int guard = 0; guard < 10000; ++guard) {
    auto ev = conn.next_event();
    if (!ev) break;
    if (auto* h = std::get_if<RequestHead>(&*ev)) {
      r.method = h->method;
      r.target = h->target;
      r.version = h->version;
      r.keep_alive = h->keep_alive;
      for (const Header& f : h->headers) r.headers.emplace_back(f.name, f.value);
    } else if (auto* d = std::get_if<Data>(&*ev)) {
      r.body.append(d->bytes);
    } else if (std::holds_alternative<EndOfMessage>(*ev)) {
      r.complete = true;
    } else {
      break;
    }
  }
  return r;
}

/// Feeds `request` in two pieces cut at `cut` and returns the error the connection reports for
/// it (nullopt when the first event after all bytes is not an error). For split-invariance
/// regression tests: the answer must be the same at every cut.
inline std::optional<Error> error_when_cut(std::string_view request, std::size_t cut,
                                           const Options& options = {}) {
  ServerConnection conn(options);
  conn.receive_data(request.substr(0, cut));
  auto ev = conn.next_event();
  if (ev) {
    conn.receive_data(request.substr(cut));
    ev = conn.next_event();
  }
  if (ev) return std::nullopt;
  return ev.error();
}

}  // namespace lancet::http1::testing
