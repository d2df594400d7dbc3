// The opening handshake, server side. See handshake.hpp.
#include "protocol/websocket/handshake.hpp"

#include "protocol/http1/syntax.hpp"
#include "protocol/websocket/base64.hpp"
#include "protocol/websocket/sha1.hpp"

namespace lancet::websocket {
namespace {

Error handshake_error(Errc code, const char* detail) { return make_remote_error(code, detail); }

// Every field line named `name`, joined with ", " (RFC 9110 §5.3); nullopt if there is none.
std::optional<std::string> joined(const http1::RequestHead& head, std::string_view name,
                                  std::size_t* count = nullptr) {
  std::optional<std::string> out;
  std::size_t n = 0;
  for (const http1::Header& h : head.headers) {
    if (!http1::iequals(h.name, name)) continue;
    ++n;
    if (!out) {
      out = std::string(h.value);
    } else {
      *out += ", ";
      *out += h.value;
    }
  }
  if (count) *count = n;
  return out;
}

// Sec-WebSocket-Protocol = 1#token; empty elements are skipped (RFC 9110 §5.6.1).
Result<std::vector<std::string>> parse_subprotocols(std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view item = http1::trim_ows(value.substr(0, comma));
    if (!item.empty()) {
      if (!http1::is_token(item)) {
        return unexpected(handshake_error(Errc::ws_handshake_invalid_field,
                                          "Sec-WebSocket-Protocol holds a non-token"));
      }
      out.emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

Result<HandshakeRequest> validate_handshake(const http1::RequestHead& head) {
  // §4.2.1 items 1-6, in the order the request shows them.
  if (head.method != "GET") {
    return unexpected(handshake_error(Errc::ws_handshake_not_get, "WebSocket upgrade must be GET"));
  }
  if (head.version != http1::Version::http11) {
    return unexpected(
        handshake_error(Errc::ws_handshake_not_http11, "WebSocket upgrade must be HTTP/1.1"));
  }
  const auto upgrade = joined(head, "upgrade");
  if (!upgrade || !http1::list_has_token(*upgrade, "websocket")) {
    return unexpected(handshake_error(Errc::ws_handshake_no_upgrade, "missing Upgrade: websocket"));
  }
  const auto connection = joined(head, "connection");
  if (!connection || !http1::list_has_token(*connection, "upgrade")) {
    return unexpected(handshake_error(Errc::ws_handshake_no_connection_upgrade,
                                      "missing Connection: upgrade"));
  }
  // §4.2.2 / §4.4: an unknown version gets 426 with the versions we speak.
  const auto version = joined(head, "sec-websocket-version");
  if (!version || http1::trim_ows(*version) != "13") {
    return unexpected(handshake_error(Errc::ws_handshake_invalid_version,
                                      "unsupported Sec-WebSocket-Version"));
  }
  std::size_t keys = 0;
  const auto key = joined(head, "sec-websocket-key", &keys);
  const std::string_view trimmed = key ? http1::trim_ows(*key) : std::string_view();
  const auto decoded = base64_decode(trimmed);
  if (keys != 1 || !decoded || decoded->size() != 16) {
    return unexpected(handshake_error(Errc::ws_handshake_invalid_key,
                                      "Sec-WebSocket-Key must be base64 of 16 bytes"));
  }
  HandshakeRequest req;
  req.key = std::string(trimmed);
  if (const auto protocols = joined(head, "sec-websocket-protocol")) {
    auto list = parse_subprotocols(*protocols);
    if (!list) return unexpected(list.error());
    req.subprotocols = std::move(*list);
  }
  if (const auto extensions = joined(head, "sec-websocket-extensions")) {
    if (auto offers = parse_extensions(*extensions)) req.extensions = std::move(*offers);
  }
  return req;
}

std::string make_accept_key(std::string_view key) {
  std::string input(key);
  input += kAcceptGuid;
  const Sha1Digest digest = sha1(input);
  return base64_encode(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

Result<Acceptance> make_acceptance(const HandshakeRequest& request, std::string_view subprotocol,
                                   const DeflateConfig& deflate) {
  if (!subprotocol.empty() && !http1::is_token(subprotocol)) {
    return unexpected(make_local_error(Errc::ws_invalid_send, "subprotocol is not a token"));
  }
  Acceptance a;
  a.headers.push_back({"Upgrade", "websocket"});
  a.headers.push_back({"Connection", "Upgrade"});
  a.headers.push_back({"Sec-WebSocket-Accept", make_accept_key(request.key)});
  if (!subprotocol.empty()) {
    a.subprotocol = std::string(subprotocol);
    a.headers.push_back({"Sec-WebSocket-Protocol", a.subprotocol});
  }
  if (auto agreed = negotiate_deflate(request.extensions, deflate)) {
    a.deflate = agreed->params;
    a.headers.push_back({"Sec-WebSocket-Extensions", std::move(agreed->response)});
  }
  return a;
}

Rejection make_rejection(const Error& error) {
  Rejection r;
  r.status = error.http_status_hint != 0 ? error.http_status_hint : 400;
  r.body = "WebSocket handshake failed: ";
  r.body += error.detail;
  r.body += '\n';
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.headers.push_back({"Content-Length", std::to_string(r.body.size())});
  if (r.status == 426) {
    r.headers.push_back({"Upgrade", "websocket"});
    r.headers.push_back({"Sec-WebSocket-Version", "13"});
  }
  return r;
}

std::vector<http1::Header> header_views(std::span<const OwnedHeader> headers) {
  std::vector<http1::Header> out;
  out.reserve(headers.size());
  for (const OwnedHeader& h : headers) out.push_back({h.name, h.value});
  return out;
}

}  // namespace lancet::websocket
