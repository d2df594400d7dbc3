// Extension header parsing and permessage-deflate negotiation. See extensions.hpp.
//
// RFC 6455 §9.1:
//   extension-list = 1#extension
//   extension = extension-token *( ";" extension-param )
//   extension-param = token [ "=" (token | quoted-string) ]
#include "protocol/websocket/extensions.hpp"

#include <algorithm>
#include <cstddef>

#include "protocol/http1/syntax.hpp"

namespace lancet::websocket {
namespace {

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const noexcept { return i_ >= s_.size(); }
  char peek() const noexcept { return s_[i_]; }
  void skip_ows() noexcept {
    while (!done() && (peek() == ' ' || peek() == '\t')) ++i_;
  }
  bool eat(char c) noexcept {
    if (done() || peek() != c) return false;
    ++i_;
    return true;
  }
  std::string token() {
    const std::size_t start = i_;
    while (!done() && http1::is_tchar(static_cast<unsigned char>(peek()))) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  // quoted-string (RFC 9110 §5.6.4); nullopt if unterminated or holding a control character.
  std::optional<std::string> quoted() {
    std::string out;
    ++i_;  // opening quote
    while (!done()) {
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c == '\\') {
        if (done()) return std::nullopt;
        out += s_[i_++];
        continue;
      }
      if (c < 0x20 && c != '\t') return std::nullopt;
      if (c == 0x7f) return std::nullopt;
      out += static_cast<char>(c);
    }
    return std::nullopt;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

// One extension-param after its ';'.
bool parse_param(Cursor& c, ExtensionOffer& offer) {
  c.skip_ows();
  ExtensionParam p;
  p.name = c.token();
  if (p.name.empty()) return false;
  c.skip_ows();
  if (c.eat('=')) {
    c.skip_ows();
    if (!c.done() && c.peek() == '"') {
      auto q = c.quoted();
      if (!q) return false;
      p.value = std::move(*q);
    } else {
      p.value = c.token();
      if (p.value->empty()) return false;
    }
    c.skip_ows();
  }
  offer.params.push_back(std::move(p));
  return true;
}

// "8".."15" exactly (RFC 7692 §7.1.2: 1*DIGIT without leading zeros, 8 to 15 inclusive).
std::optional<std::uint8_t> parse_window_bits(const std::string& v) {
  if (v.empty() || v.size() > 2 || v[0] == '0') return std::nullopt;
  int n = 0;
  for (const char ch : v) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  if (n < 8 || n > 15) return std::nullopt;
  return static_cast<std::uint8_t>(n);
}

struct DeflateOffer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::optional<std::uint8_t> server_max_window_bits;
  bool client_max_window_bits = false;  // the parameter is present (with or without value)
  std::optional<std::uint8_t> client_max_window_bits_value;
};

std::optional<DeflateOffer> read_deflate_offer(const ExtensionOffer& offer) {
  DeflateOffer d;
  bool seen[4] = {false, false, false, false};
  for (const ExtensionParam& p : offer.params) {
    int k = -1;
    if (p.name == "server_no_context_takeover") k = 0;
    if (p.name == "client_no_context_takeover") k = 1;
    if (p.name == "server_max_window_bits") k = 2;
    if (p.name == "client_max_window_bits") k = 3;
    if (k < 0 || seen[k]) return std::nullopt;  // unknown or repeated (§7.1: decline)
    seen[k] = true;
    if (k <= 1) {
      if (p.value) return std::nullopt;
      (k == 0 ? d.server_no_context_takeover : d.client_no_context_takeover) = true;
    } else if (k == 2) {
      if (!p.value) return std::nullopt;  // §7.1.2.1: the value is required
      d.server_max_window_bits = parse_window_bits(*p.value);
      if (!d.server_max_window_bits) return std::nullopt;
    } else {
      d.client_max_window_bits = true;
      if (p.value) {
        d.client_max_window_bits_value = parse_window_bits(*p.value);
        if (!d.client_max_window_bits_value) return std::nullopt;
      }
    }
  }
  return d;
}

}  // namespace

std::optional<std::vector<ExtensionOffer>> parse_extensions(std::string_view value) {
  std::vector<ExtensionOffer> out;
  Cursor c(value);
  for (;;) {
    c.skip_ows();
    if (c.done()) break;
    if (c.eat(',')) continue;  // empty list element
    ExtensionOffer offer;
    offer.name = c.token();
    if (offer.name.empty()) return std::nullopt;
    c.skip_ows();
    while (c.eat(';')) {
      if (!parse_param(c, offer)) return std::nullopt;
    }
    if (!c.done() && !c.eat(',')) return std::nullopt;
    out.push_back(std::move(offer));
  }
  return out;
}

std::optional<DeflateAgreement> negotiate_deflate(const std::vector<ExtensionOffer>& offers,
                                                  const DeflateConfig& config) {
  if (!config.enabled) return std::nullopt;
  for (const ExtensionOffer& offer : offers) {
    if (!http1::iequals(offer.name, "permessage-deflate")) continue;
    const auto d = read_deflate_offer(offer);
    if (!d) continue;
    DeflateAgreement a;
    DeflateParams& p = a.params;
    p.compression_level = config.compression_level;
    p.server_no_context_takeover = d->server_no_context_takeover || config.server_no_context_takeover;
    p.client_no_context_takeover = d->client_no_context_takeover || config.client_no_context_takeover;
    p.server_max_window_bits =
        std::min<std::uint8_t>(d->server_max_window_bits.value_or(15), config.server_max_window_bits);
    if (p.server_max_window_bits < 9) continue;  // zlib raw deflate has no 8-bit window
    a.response = "permessage-deflate";
    if (p.server_no_context_takeover) a.response += "; server_no_context_takeover";
    if (p.client_no_context_takeover) a.response += "; client_no_context_takeover";
    if (d->server_max_window_bits || p.server_max_window_bits < 15) {
      a.response += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
    }
    if (d->client_max_window_bits) {
      // §7.1.2.2: only in answer to an offer that has the parameter, never larger than offered.
      p.client_max_window_bits = std::min<std::uint8_t>(
          d->client_max_window_bits_value.value_or(15), config.client_max_window_bits);
      if (p.client_max_window_bits < 15 || d->client_max_window_bits_value) {
        a.response += "; client_max_window_bits=" + std::to_string(p.client_max_window_bits);
      }
    }
    return a;
  }
  return std::nullopt;
}

}  // namespace lancet::websocket
