// Event traces: runs a ServerConnection over a request byte stream and renders what happened as
// JSON lines, one event per line. The neutral form used by `lancet-trace`, the golden tests in
// tests/data/http1 and the split-invariance properties.
//
// Layer: protocol/http1. Pure: bytes in, text out.
//
// A trace answers every complete request with an empty 204 so that pipelined requests are
// parsed too, and coalesces adjacent body pieces into one "data" line, so the same stream gives
// the same trace however it is split. A request that fails ends the trace with an "error" line
// holding the code, status hint, reason and the exact response the server would send.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "protocol/http1/limits.hpp"

namespace lancet::http1 {

/// How a trace feeds its pieces: copied (receive_data), or lent (lend_data from one reused
/// buffer, keep_input() after each piece's events, then the buffer overwritten), as a backend
/// lends its receive buffer; or lent three at a time, each from its own buffer, before their
/// events are pulled (as a loop turn lends each of a connection's receive buffers), then
/// keep_input() and all three overwritten.
enum class Feed { copied, lent, lent_in_threes };

/// Traces `pieces` fed one after the other (then EOF). Returns JSON lines, each ending in '\n'.
std::string trace_request_stream(const Options& options, std::span<const std::string_view> pieces,
                                 Feed feed = Feed::copied);

/// Same, with the whole stream in one piece.
std::string trace_request_stream(const Options& options, std::string_view bytes);

}  // namespace lancet::http1
