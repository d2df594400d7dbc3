// Health-probe responses, built by the core and sent through http1 without entering Python.
//
// Layer: protocol/classify. Pure: the readiness is a value the caller passes in (the server
// knows whether lifespan startup finished and whether it is draining; the core does not).
//
//   probe  readiness  status  body
//   alive  (any)      200     {"status":"alive"}
//   ready  ready      200     {"status":"ready"}
//   ready  starting   503     {"status":"starting"}
//   ready  draining   503     {"status":"draining"}
//
// Every response carries content-type: application/json, content-length (the body's size) and
// cache-control: no-store (a cached probe answer is a wrong probe answer). A HEAD request gets
// the same status and fields, content-length included (RFC 9110 §9.3.2: the server SHOULD send
// the fields it would send for GET), and an empty body.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/classify/classify.hpp"
#include "protocol/http1/message.hpp"

namespace lancet::classify {

/// Whether the server takes traffic, as the caller knows it.
enum class Readiness : std::uint8_t {
  starting,  ///< lifespan startup has not completed yet (readiness probe: 503)
  ready,     ///< serving (readiness probe: 200)
  draining,  ///< graceful shutdown began; new traffic should go elsewhere (readiness: 503)
};

/// One response field line with owned bytes.
struct OwnedHeader {
  std::string name;
  std::string value;
};

/// A complete probe response. Owns everything; copy or move it freely.
struct ProbeResponse {
  std::uint16_t status = 200;
  std::vector<OwnedHeader> headers;  ///< lower-case names, in a fixed order
  std::string body;                  ///< JSON; empty for a HEAD request

  /// Views of `headers` for http1::ResponseHead. Valid while this ProbeResponse lives and its
  /// headers are not modified.
  std::vector<http1::Header> header_views() const;
};

/// Builds the response to a probe of `kind` (see the table above). `head_request`: the request
/// method was HEAD, so the body is left empty while content-length still gives the size a GET
/// would receive. Errors: none (only std::bad_alloc can escape).
ProbeResponse make_probe_response(ProbeKind kind, Readiness readiness, bool head_request);

/// Stable names, also used as the JSON "status" of the readiness probe: "starting", "ready",
/// "draining".
std::string_view to_string(Readiness readiness) noexcept;

}  // namespace lancet::classify
