// apply_proxy_headers: uvicorn 0.17's ProxyHeadersMiddleware rule as a pure function.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/asgi/proxy.hpp"

namespace lancet::asgi {
namespace {

HttpScope scope_from(std::string peer, std::vector<ScopeHeader> headers) {
  HttpScope s;
  s.client = Address{std::move(peer), 5000};
  s.headers = std::move(headers);
  return s;
}

const std::vector<std::string> kLocal = {"127.0.0.1"};

TEST(AsgiProxyHeaders, TrustedPeerGivesForwardedClientAndScheme) {
  auto s = scope_from("127.0.0.1", {{"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-proto", " https "}});
  apply_proxy_headers(s, kLocal);
  EXPECT_EQ(s.scheme, "https");
  ASSERT_TRUE(s.client);
  EXPECT_EQ(s.client->host, "203.0.113.7");
  EXPECT_EQ(s.client->port, 0);
}

TEST(AsgiProxyHeaders, UntrustedPeerChangesNothing) {
  auto s = scope_from("198.51.100.1", {{"x-forwarded-for", "203.0.113.7"}, {"x-forwarded-proto", "https"}});
  apply_proxy_headers(s, kLocal);
  EXPECT_EQ(s.scheme, "http");
  EXPECT_EQ(s.client->host, "198.51.100.1");
  EXPECT_EQ(s.client->port, 5000);
}

TEST(AsgiProxyHeaders, NearestUntrustedHopIsTheClient) {
  const std::vector<std::string> trusted = {"127.0.0.1", "10.0.0.1"};
  auto s = scope_from("127.0.0.1", {{"x-forwarded-for", "203.0.113.7, 198.51.100.9, 10.0.0.1"}});
  apply_proxy_headers(s, trusted);
  EXPECT_EQ(s.client->host, "198.51.100.9");
}

TEST(AsgiProxyHeaders, StarTrustsEveryoneAndTakesTheFirstHop) {
  const std::vector<std::string> star = {"*"};
  auto s = scope_from("198.51.100.1", {{"x-forwarded-for", "203.0.113.7,10.0.0.1"}});
  apply_proxy_headers(s, star);
  EXPECT_EQ(s.client->host, "203.0.113.7");
}

TEST(AsgiProxyHeaders, LastHeaderLineWinsAndAbsentHeadersChangeNothing) {
  auto s = scope_from("127.0.0.1", {{"x-forwarded-proto", "http"}, {"x-forwarded-proto", "https"}});
  apply_proxy_headers(s, kLocal);
  EXPECT_EQ(s.scheme, "https");
  EXPECT_EQ(s.client->host, "127.0.0.1");
  EXPECT_EQ(s.client->port, 5000);
}

}  // namespace
}  // namespace lancet::asgi
