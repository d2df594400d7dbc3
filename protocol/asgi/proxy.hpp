// Proxy headers: the client address and scheme a trusted reverse proxy reports.
//
// Layer: protocol/asgi. A pure function of the scope; every backend calls it after
// make_http_scope() when proxy headers are on (`--proxy-headers`, the default).
#pragma once

#include <span>
#include <string>

#include "protocol/asgi/scope.hpp"

namespace lancet::asgi {

/// uvicorn 0.17's ProxyHeadersMiddleware rule. When the peer (scope.client) is one of
/// `trusted_ips`, or `trusted_ips` holds "*": the scheme comes from X-Forwarded-Proto, and the
/// client from X-Forwarded-For: its first entry when "*" is trusted, else the nearest entry
/// (from the right) that is not trusted; its port is 0. The last line of each header wins.
/// Nothing changes when the peer is not trusted or the headers are absent.
void apply_proxy_headers(HttpScope& scope, std::span<const std::string> trusted_ips);

}  // namespace lancet::asgi
