// See proxy.hpp.
#include "protocol/asgi/proxy.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include "protocol/http1/syntax.hpp"

namespace lancet::asgi {
namespace {

bool holds(std::span<const std::string> list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

void apply_proxy_headers(HttpScope& scope, std::span<const std::string> trusted_ips) {
  const bool everyone = holds(trusted_ips, "*");
  if (!everyone && !(scope.client && holds(trusted_ips, scope.client->host))) return;
  const std::string* proto = nullptr;
  const std::string* forwarded_for = nullptr;
  for (const ScopeHeader& h : scope.headers) {  // names are lower-case already
    if (h.name == "x-forwarded-proto") proto = &h.value;
    if (h.name == "x-forwarded-for") forwarded_for = &h.value;
  }
  if (proto != nullptr) scope.scheme = std::string(http1::trim_ows(*proto));
  if (forwarded_for == nullptr) return;
  std::vector<std::string_view> hops;
  std::string_view rest = *forwarded_for;
  for (std::size_t comma; (comma = rest.find(',')) != std::string_view::npos;) {
    hops.push_back(http1::trim_ows(rest.substr(0, comma)));
    rest.remove_prefix(comma + 1);
  }
  hops.push_back(http1::trim_ows(rest));
  std::string_view host = hops.front();
  if (!everyone) {
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      if (!holds(trusted_ips, *it)) {
        host = *it;
        break;
      }
    }
  }
  scope.client = Address{std::string(host), 0};
}

}  // namespace lancet::asgi
