// The per-side states of an HTTP/1.1 server connection, as in h11's _state.py.
//
// Layer: protocol/http1.
//
//   their side (the client):  idle --RequestHead--> send_body --EndOfMessage--> done
//   our side (the server):    idle --send(final head)--> send_body --send_end--> done
//   1xx heads leave our side idle. When both are done: start_next_cycle() -> idle/idle if keep-
//   alive, else must_close. A 101 answer to an upgrade request -> switched_protocol on both.
//   A remote error puts their side in error (sticky); a local one puts ours in error.
#pragma once

#include <cstdint>
#include <string_view>

namespace lancet::http1 {

enum class State : std::uint8_t {
  idle,               ///< before a request head (theirs) / before a final response head (ours)
  send_body,          ///< head done, body in progress
  done,               ///< message complete; waiting for the other side or start_next_cycle()
  must_close,         ///< message complete and the connection will not be reused
  closed,             ///< the peer closed (theirs) / nothing more to send (ours)
  switched_protocol,  ///< after 101 Switching Protocols: the bytes are no longer HTTP/1.1
  error,              ///< a protocol error; sticky
};

/// Stable name for traces: "idle", "send_body", ...
std::string_view to_string(State state) noexcept;

}  // namespace lancet::http1
