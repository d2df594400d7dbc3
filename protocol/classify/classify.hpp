// classify: which path a request head takes through the server, decided before any body byte.
//
// Layer: protocol/classify (depends on protocol/http1's message types and field syntax only).
// A pure function of the request head and the options: no state, no allocation.
//
// Theory of operation
//   The server parses a request head with http1, then asks classify() where it goes:
//     Probe(alive | ready)  answered by the core itself (probe_response.hpp); never enters
//                           Python, so a wedged app cannot make a liveness probe lie or hang.
//     WebSocket             an opening handshake (RFC 6455 §4.2.1); the websocket layer
//                           validates the Sec-WebSocket-* fields and answers 101 or 4xx.
//     Http                  everything else: an ASGI 'http' scope for the app.
//   Decisions, in order:
//     1. Probe: probes on, that probe on, method GET or HEAD, origin-form target whose path
//        (the bytes before '?') equals the configured path byte for byte. Other methods fall
//        through so that the app can answer them (e.g. 405). A WebSocket handshake aimed at a
//        probe path is answered as a probe: a server MAY ignore Upgrade (RFC 9110 §7.8).
//     2. WebSocket: GET, HTTP/1.1, an Upgrade field listing the token "websocket" and a
//        Connection field listing "upgrade", both case-insensitive, across all field lines
//        (RFC 6455 §4.2.1 items 1, 3, 4; RFC 9110 §5.3 lets repeated lines form one list).
//     3. Http.
//   The head's is_upgrade / upgrade fields are NOT trusted: the decision is re-derived from
//   the field lines so that a hand-built head (tools, fuzzing, tests) and a parsed head always
//   classify the same way, and so that `Upgrade: h2c, websocket` (which has two values, only
//   one of which the parser's `upgrade` view holds) is still recognised.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/http1/message.hpp"

namespace lancet::classify {

/// Which health probe a request asks for.
enum class ProbeKind : std::uint8_t {
  alive,  ///< liveness: the process answers at all (always 200)
  ready,  ///< readiness: the server is ready for traffic (200 only when Readiness::ready)
};

/// Where a request goes.
enum class RouteKind : std::uint8_t {
  http,       ///< an ordinary request for the application (ASGI 'http' scope)
  websocket,  ///< a WebSocket opening handshake (ASGI 'websocket' scope once accepted)
  probe,      ///< a health probe answered by the core (see probe_response.hpp)
};

/// The result of classify(). `probe` is meaningful only when kind == RouteKind::probe.
struct Route {
  RouteKind kind = RouteKind::http;
  ProbeKind probe = ProbeKind::alive;

  /// An ordinary HTTP route.
  static constexpr Route http() noexcept { return Route{RouteKind::http, ProbeKind::alive}; }
  /// A WebSocket handshake route.
  static constexpr Route websocket() noexcept {
    return Route{RouteKind::websocket, ProbeKind::alive};
  }
  /// A probe route of the given kind.
  static constexpr Route probe_of(ProbeKind kind) noexcept { return Route{RouteKind::probe, kind}; }

  /// Routes are equal when their kinds are equal and, for probes, their probe kinds are.
  friend constexpr bool operator==(const Route& a, const Route& b) noexcept {
    return a.kind == b.kind && (a.kind != RouteKind::probe || a.probe == b.probe);
  }
};

/// Default probe paths (Kubernetes-style; chosen not to collide with common app routes).
inline constexpr std::string_view kDefaultAlivePath = "/_health/alive";
inline constexpr std::string_view kDefaultReadyPath = "/_health/ready";

/// What classify() may answer itself. Defaults: both probes on at their default paths.
struct ClassifyOptions {
  /// Global switch: false sends every request, probe paths included, to the app.
  bool probes_enabled = true;
  /// Answer the liveness probe at alive_path.
  bool alive_enabled = true;
  /// Answer the readiness probe at ready_path.
  bool ready_enabled = true;
  /// Exact path of the liveness probe, compared byte for byte with the target's path (no
  /// percent-decoding, case-sensitive, no trailing-slash folding). A path that does not start
  /// with '/' never matches. If both paths are equal, alive wins.
  std::string alive_path{kDefaultAlivePath};
  /// Exact path of the readiness probe; same matching rules as alive_path.
  std::string ready_path{kDefaultReadyPath};
};

/// Decides where `head` goes (see the theory of operation above). Never fails: an odd request
/// is Http and the app (or the websocket layer) answers it. Errors: none.
Route classify(const http1::RequestHead& head, const ClassifyOptions& options) noexcept;

/// The path component of an origin-form request-target: everything before the first '?'.
/// Returns a view into `target`.
std::string_view target_path(std::string_view target) noexcept;

/// True when `head` is a WebSocket opening handshake by rule 2 above (method, version,
/// Upgrade and Connection field lines; Sec-WebSocket-* fields are not checked here).
bool is_websocket_handshake(const http1::RequestHead& head) noexcept;

/// Stable names for traces: "http", "websocket", "probe".
std::string_view to_string(RouteKind kind) noexcept;

/// Stable names for traces: "alive", "ready".
std::string_view to_string(ProbeKind kind) noexcept;

}  // namespace lancet::classify
