// Limits and options of the HTTP/1.1 server connection: one struct, every default documented
// with its precedent. Each limit maps to its own Errc and status hint.
//
// Layer: protocol/http1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lancet::http1 {

struct Limits {
  /// Request line + header section + final CRLF, in bytes. Over it: head_too_large, 431.
  /// 16 KiB is h11's choice (its comment cites this exact trade-off); nginx uses 1 KiB growing
  /// to 4x8 KiB, node 16 KiB, Beast 8 KiB, h2o 64 KiB.
  std::size_t max_head_bytes = 16 * 1024;
  /// Field lines in the head (and separately in trailers). Over it: too_many_headers, 431.
  /// 100 as h2o and Go's net/http; Apache allows 100 too.
  std::size_t max_header_count = 100;
  /// Request-target length in bytes. Over it: target_too_long, 414. 8 KiB like Apache and
  /// Envoy's path limit; a target can never exceed max_head_bytes anyway.
  std::size_t max_target_bytes = 8 * 1024;
  /// Request body bytes (declared or chunked). Over it: body_too_large, 413. 1 GiB: large
  /// uploads work, an endless chunked stream does not. uvicorn has no limit.
  std::uint64_t max_body_bytes = std::uint64_t{1} << 30;
  /// Bytes of pipelined requests held unparsed while the current cycle runs. Over it,
  /// wants_read() turns false so the caller stops reading (TCP backpressure); nothing is lost.
  std::size_t max_pipelined_bytes = 64 * 1024;
};

/// llhttp's lenient flags, each off (strict) by default. SECURITY WARNING (llhttp's own): each
/// one re-opens a request-smuggling or response-splitting shape; turn one on only to talk to a
/// known-broken client behind a trusted proxy.
struct Leniency {
  /// Accept any bytes in header values (control characters included).
  bool headers = false;
  /// Accept Content-Length together with Transfer-Encoding (chunked wins). The classic
  /// smuggling shape (RFC 9112 §6.3 step 3 tells a server to reject or drop CL).
  bool chunked_length = false;
  /// Keep parsing after a request that asked for Connection: close.
  bool keep_alive = false;
  /// Accept Transfer-Encoding values with something after chunked.
  bool transfer_encoding = false;
};

struct Options {
  Limits limits;
  Leniency lenient;
  /// Value of the Server header added to every response; empty: none. The app's own Server
  /// header wins when it sends one.
  std::string server_header = "lancet";
  /// Add a Date header (the value comes from set_date(): no clocks in the core). The app's own
  /// Date header wins when it sends one.
  bool date_header = true;
};

}  // namespace lancet::http1
