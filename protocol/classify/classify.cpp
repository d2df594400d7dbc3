// See classify.hpp for the rules and their order.
#include "protocol/classify/classify.hpp"

#include "protocol/http1/syntax.hpp"

namespace lancet::classify {
namespace {

// RFC 9110 §9.1: "The method token is case-sensitive".
bool is_get_or_head(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD";
}

// True when any field line named `name` lists `token` (RFC 9110 §5.3: repeated field lines
// combine into one comma-separated list).
bool any_field_has_token(const http1::RequestHead& head, std::string_view name,
                         std::string_view token) noexcept {
  for (const http1::Header& field : head.headers) {
    if (http1::iequals(field.name, name) && http1::list_has_token(field.value, token)) {
      return true;
    }
  }
  return false;
}

bool path_matches(std::string_view path, std::string_view configured) noexcept {
  return !configured.empty() && configured.front() == '/' && path == configured;
}

// Rule 1: the probe this head asks for, if any.
bool match_probe(const http1::RequestHead& head, const ClassifyOptions& options,
                 ProbeKind& kind) noexcept {
  if (!options.probes_enabled || !is_get_or_head(head.method)) return false;
  if (head.target_form != http1::TargetForm::origin) return false;
  std::string_view path = target_path(head.target);
  if (options.alive_enabled && path_matches(path, options.alive_path)) {
    kind = ProbeKind::alive;
    return true;
  }
  if (options.ready_enabled && path_matches(path, options.ready_path)) {
    kind = ProbeKind::ready;
    return true;
  }
  return false;
}

}  // namespace

std::string_view target_path(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}

bool is_websocket_handshake(const http1::RequestHead& head) noexcept {
  // RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request", with "An |Upgrade| header field
  // containing the value "websocket"" and "A |Connection| header field that includes the
  // token "Upgrade"", both "treated as an ASCII case-insensitive value".
  return head.method == "GET" && head.version == http1::Version::http11 &&
         any_field_has_token(head, "upgrade", "websocket") &&
         any_field_has_token(head, "connection", "upgrade");
}

Route classify(const http1::RequestHead& head, const ClassifyOptions& options) noexcept {
  ProbeKind kind = ProbeKind::alive;
  if (match_probe(head, options, kind)) return Route::probe_of(kind);
  if (is_websocket_handshake(head)) return Route::websocket();
  return Route::http();
}

std::string_view to_string(RouteKind kind) noexcept {
  switch (kind) {
    case RouteKind::http: return "http";
    case RouteKind::websocket: return "websocket";
    case RouteKind::probe: return "probe";
  }
  return "unknown";
}

std::string_view to_string(ProbeKind kind) noexcept {
  switch (kind) {
    case ProbeKind::alive: return "alive";
    case ProbeKind::ready: return "ready";
  }
  return "unknown";
}

}  // namespace lancet::classify
