// See scope.hpp. The UTF-8 repair follows the Unicode "maximal subpart" practice (Unicode 15
// §3.9, U+FFFD substitution), which is what CPython's UTF-8 decoder does with errors='replace'.
#include "protocol/asgi/scope.hpp"

namespace lancet::asgi {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Bytes allowed after lead byte `lead` at position 1 of a sequence (Unicode Table 3-7).
bool valid_second(unsigned char lead, unsigned char c) noexcept {
  switch (lead) {
    case 0xE0: return c >= 0xA0 && c <= 0xBF;
    case 0xED: return c >= 0x80 && c <= 0x9F;
    case 0xF0: return c >= 0x90 && c <= 0xBF;
    case 0xF4: return c >= 0x80 && c <= 0x8F;
    default: return c >= 0x80 && c <= 0xBF;
  }
}

/// Length of the sequence that `lead` starts, or 0 when it cannot start one.
std::size_t sequence_length(unsigned char lead) noexcept {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

/// How many bytes at the start of `s` form one valid UTF-8 character; 0 when invalid, in which
/// case `*skip` is the length of the maximal invalid subpart to replace with one U+FFFD.
std::size_t valid_prefix(std::string_view s, std::size_t* skip) noexcept {
  auto lead = static_cast<unsigned char>(s[0]);
  std::size_t need = sequence_length(lead);
  *skip = 1;
  if (need == 0) return 0;
  for (std::size_t k = 1; k < need; ++k) {
    if (k >= s.size()) return 0;
    auto c = static_cast<unsigned char>(s[k]);
    bool good = (k == 1) ? valid_second(lead, c) : (c >= 0x80 && c <= 0xBF);
    if (!good) return 0;
    *skip = k + 1;
  }
  return need;
}

std::string repair_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  while (!bytes.empty()) {
    std::size_t skip = 1;
    std::size_t n = valid_prefix(bytes, &skip);
    if (n > 0) {
      out.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
      bytes.remove_prefix(skip);
    }
  }
  return out;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Drops the scheme and authority of an absolute-form target: "http://h:1/p?q" -> "/p?q".
std::string_view strip_authority(std::string_view target) noexcept {
  auto scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return target;
  target.remove_prefix(scheme_end + 3);
  auto path_start = target.find_first_of("/?#");
  if (path_start == std::string_view::npos) return {};
  return target.substr(path_start);
}

}  // namespace

TargetParts split_target(std::string_view target, http1::TargetForm form) noexcept {
  if (form == http1::TargetForm::asterisk) return {target, {}};
  if (form == http1::TargetForm::absolute) target = strip_authority(target);
  auto fragment = target.find('#');
  if (fragment != std::string_view::npos) target = target.substr(0, fragment);
  auto question = target.find('?');
  TargetParts parts{target.substr(0, question), {}};
  if (question != std::string_view::npos) parts.query = target.substr(question + 1);
  // RFC 9112 §3.2.1: an empty path is sent as "/"; only absolute-form can carry one.
  if (parts.path.empty()) parts.path = "/";
  return parts;
}

std::string percent_decode_path(std::string_view raw) {
  if (raw.find('%') == std::string_view::npos) return repair_utf8(raw);
  std::string bytes;
  bytes.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 &&
        hex_value(raw[i + 2]) >= 0) {
      bytes.push_back(static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2])));
      i += 2;
    } else {
      bytes.push_back(raw[i]);
    }
  }
  return repair_utf8(bytes);
}

HttpScope make_http_scope(const http1::RequestHead& head, const ConnectionInfo& info) {
  HttpScope scope;
  fill_http_scope(scope, head, info);
  return scope;
}

void fill_http_scope(HttpScope& scope, const http1::RequestHead& head, const ConnectionInfo& info) {
  scope.http_version = head.version == http1::Version::http10 ? "1.0" : "1.1";
  scope.method = std::string(head.method);
  scope.scheme = std::string(info.scheme);
  TargetParts parts = split_target(head.target, head.target_form);
  scope.path = percent_decode_path(parts.path);
  scope.raw_path = std::string(parts.path);
  scope.query_string = std::string(parts.query);
  scope.root_path = std::string(info.root_path);
  scope.headers.reserve(head.headers.size());
  for (const http1::Header& header : head.headers) {
    scope.headers.push_back(ScopeHeader{lowercase(header.name), std::string(header.value)});
  }
  scope.client = info.client;
  scope.server = info.server;
}

void to_websocket_scope(HttpScope& scope) {
  scope.type = "websocket";
  scope.spec_version = std::string(kWebSocketSpecVersion);
  scope.scheme = scope.scheme == "https" || scope.scheme == "wss" ? "wss" : "ws";
}

}  // namespace lancet::asgi
