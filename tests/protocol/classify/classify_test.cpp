// Tests for protocol/classify/classify.hpp: every routing rule, plus properties over paths.
#include "protocol/classify/classify.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <span>
#include <string>
#include <vector>

namespace lancet::classify {
namespace {

using http1::Header;
using http1::RequestHead;

RequestHead make_head(std::string_view method, std::string_view target,
                      std::span<const Header> fields = {}) {
  RequestHead head;
  head.method = method;
  head.target = target;
  head.headers = fields;
  return head;
}

Route route_of(std::string_view method, std::string_view target,
               const ClassifyOptions& options = {}) {
  return classify(make_head(method, target), options);
}

constexpr Route kAlive = Route::probe_of(ProbeKind::alive);
constexpr Route kReady = Route::probe_of(ProbeKind::ready);

const Header kHandshake[] = {{"Host", "example.com"},
                             {"Upgrade", "websocket"},
                             {"Connection", "Upgrade"},
                             {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                             {"Sec-WebSocket-Version", "13"}};

// ---- probes ------------------------------------------------------------------------------

TEST(ClassifyProbe, DefaultAlivePathIsAliveProbe) {
  EXPECT_EQ(route_of("GET", "/_health/alive"), kAlive);
}

TEST(ClassifyProbe, DefaultReadyPathIsReadyProbe) {
  EXPECT_EQ(route_of("GET", "/_health/ready"), kReady);
}

TEST(ClassifyProbe, HeadRequestMatchesProbe) {
  EXPECT_EQ(route_of("HEAD", "/_health/alive"), kAlive);
  EXPECT_EQ(route_of("HEAD", "/_health/ready"), kReady);
}

TEST(ClassifyProbe, OtherMethodsFallThroughToHttp) {
  for (std::string_view method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"}) {
    EXPECT_EQ(route_of(method, "/_health/alive"), Route::http()) << method;
    EXPECT_EQ(route_of(method, "/_health/ready"), Route::http()) << method;
  }
}

TEST(ClassifyProbe, MethodIsCaseSensitive) {
  EXPECT_EQ(route_of("get", "/_health/alive"), Route::http());
  EXPECT_EQ(route_of("Head", "/_health/ready"), Route::http());
}

TEST(ClassifyProbe, QueryStringIsIgnored) {
  EXPECT_EQ(route_of("GET", "/_health/alive?verbose=1"), kAlive);
  EXPECT_EQ(route_of("GET", "/_health/ready?"), kReady);
  EXPECT_EQ(route_of("HEAD", "/_health/ready?a=b?c"), kReady);
}

TEST(ClassifyProbe, PathMustMatchExactly) {
  for (std::string_view target :
       {"/_health/alive/", "/_health/alivex", "/_health", "/_health/", "/_HEALTH/alive",
        "/_health/Alive", "/_health/%61live", "//_health/alive", "/x/_health/alive",
        "/_health/alive#frag", "/", ""}) {
    EXPECT_EQ(route_of("GET", target), Route::http()) << target;
  }
}

TEST(ClassifyProbe, AbsoluteFormTargetIsNotAProbe) {
  RequestHead head = make_head("GET", "http://example.com/_health/alive");
  head.target_form = http1::TargetForm::absolute;
  EXPECT_EQ(classify(head, {}), Route::http());
}

TEST(ClassifyProbe, AsteriskFormIsHttp) {
  RequestHead head = make_head("OPTIONS", "*");
  head.target_form = http1::TargetForm::asterisk;
  EXPECT_EQ(classify(head, {}), Route::http());
}

TEST(ClassifyProbe, CustomPathsReplaceDefaults) {
  ClassifyOptions options;
  options.alive_path = "/livez";
  options.ready_path = "/readyz";
  EXPECT_EQ(route_of("GET", "/livez", options), kAlive);
  EXPECT_EQ(route_of("GET", "/readyz?full", options), kReady);
  EXPECT_EQ(route_of("GET", "/_health/alive", options), Route::http());
  EXPECT_EQ(route_of("GET", "/_health/ready", options), Route::http());
}

TEST(ClassifyProbe, DisabledAliveProbeFallsThroughToHttp) {
  ClassifyOptions options;
  options.alive_enabled = false;
  EXPECT_EQ(route_of("GET", "/_health/alive", options), Route::http());
  EXPECT_EQ(route_of("GET", "/_health/ready", options), kReady);
}

TEST(ClassifyProbe, DisabledReadyProbeFallsThroughToHttp) {
  ClassifyOptions options;
  options.ready_enabled = false;
  EXPECT_EQ(route_of("GET", "/_health/alive", options), kAlive);
  EXPECT_EQ(route_of("GET", "/_health/ready", options), Route::http());
}

TEST(ClassifyProbe, GlobalSwitchOffSendsProbePathsToApp) {
  ClassifyOptions options;
  options.probes_enabled = false;
  EXPECT_EQ(route_of("GET", "/_health/alive", options), Route::http());
  EXPECT_EQ(route_of("GET", "/_health/ready", options), Route::http());
}

TEST(ClassifyProbe, ConfiguredPathWithoutLeadingSlashNeverMatches) {
  ClassifyOptions options;
  options.alive_path = "";
  options.ready_path = "health";
  EXPECT_EQ(route_of("GET", "", options), Route::http());
  EXPECT_EQ(route_of("GET", "health", options), Route::http());
}

TEST(ClassifyProbe, EqualPathsPreferAlive) {
  ClassifyOptions options;
  options.ready_path = options.alive_path;
  EXPECT_EQ(route_of("GET", "/_health/alive", options), kAlive);
  options.alive_enabled = false;
  EXPECT_EQ(route_of("GET", "/_health/alive", options), kReady);
}

TEST(ClassifyProbe, DefaultsAreDocumentedPaths) {
  ClassifyOptions options;
  EXPECT_TRUE(options.probes_enabled);
  EXPECT_TRUE(options.alive_enabled);
  EXPECT_TRUE(options.ready_enabled);
  EXPECT_EQ(options.alive_path, "/_health/alive");
  EXPECT_EQ(options.ready_path, "/_health/ready");
}

TEST(ClassifyProbe, WebSocketHandshakeToProbePathIsAnsweredAsProbe) {
  EXPECT_EQ(classify(make_head("GET", "/_health/alive", kHandshake), {}), kAlive);
  ClassifyOptions options;
  options.probes_enabled = false;
  EXPECT_EQ(classify(make_head("GET", "/_health/alive", kHandshake), options), Route::websocket());
}

TEST(ClassifyHttp, OrdinaryRequestIsHttp) {
  EXPECT_EQ(route_of("GET", "/"), Route::http());
  EXPECT_EQ(route_of("POST", "/items?x=1"), Route::http());
}

// ---- WebSocket ---------------------------------------------------------------------------

TEST(ClassifyWebSocket, HandshakeIsWebSocket) {
  EXPECT_EQ(classify(make_head("GET", "/ws", kHandshake), {}), Route::websocket());
}

TEST(ClassifyWebSocket, NamesAndTokensAreCaseInsensitive) {
  const Header fields[] = {{"UPGRADE", "WebSocket"}, {"connection", "UPGRADE"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", fields), {}), Route::websocket());
}

TEST(ClassifyWebSocket, ConnectionListWithSeveralTokensIsAccepted) {
  const Header fields[] = {{"Upgrade", "websocket"}, {"Connection", "keep-alive, Upgrade"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", fields), {}), Route::websocket());
  const Header spaced[] = {{"Upgrade", "websocket"}, {"Connection", "keep-alive ,\tupgrade "}};
  EXPECT_EQ(classify(make_head("GET", "/ws", spaced), {}), Route::websocket());
}

TEST(ClassifyWebSocket, UpgradeListWithSeveralProtocolsIsAccepted) {
  const Header fields[] = {{"Upgrade", "h2c, websocket"}, {"Connection", "Upgrade"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", fields), {}), Route::websocket());
}

TEST(ClassifyWebSocket, RepeatedFieldLinesFormOneList) {
  const Header fields[] = {{"Connection", "keep-alive"},
                           {"Upgrade", "h2c"},
                           {"Connection", "Upgrade"},
                           {"Upgrade", "websocket"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", fields), {}), Route::websocket());
}

TEST(ClassifyWebSocket, MissingConnectionUpgradeIsHttp) {
  const Header no_connection[] = {{"Upgrade", "websocket"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", no_connection), {}), Route::http());
  const Header keep_alive[] = {{"Upgrade", "websocket"}, {"Connection", "keep-alive"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", keep_alive), {}), Route::http());
}

TEST(ClassifyWebSocket, MissingUpgradeFieldIsHttp) {
  const Header fields[] = {{"Connection", "Upgrade"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", fields), {}), Route::http());
}

TEST(ClassifyWebSocket, OtherUpgradeProtocolIsHttp) {
  const Header fields[] = {{"Upgrade", "h2c"}, {"Connection", "Upgrade, HTTP2-Settings"}};
  EXPECT_EQ(classify(make_head("GET", "/", fields), {}), Route::http());
}

TEST(ClassifyWebSocket, TokensMustMatchWholeListItems) {
  const Header upgrade[] = {{"Upgrade", "websocketx"}, {"Connection", "Upgrade"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", upgrade), {}), Route::http());
  const Header connection[] = {{"Upgrade", "websocket"}, {"Connection", "upgraded"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", connection), {}), Route::http());
  const Header in_other_field[] = {{"X-Upgrade", "websocket"}, {"Connection", "upgrade"}};
  EXPECT_EQ(classify(make_head("GET", "/ws", in_other_field), {}), Route::http());
}

TEST(ClassifyWebSocket, NonGetMethodIsHttp) {
  for (std::string_view method : {"POST", "HEAD", "get", "CONNECT"}) {
    EXPECT_EQ(classify(make_head(method, "/ws", kHandshake), {}), Route::http()) << method;
  }
}

TEST(ClassifyWebSocket, Http10UpgradeIsHttp) {
  RequestHead head = make_head("GET", "/ws", kHandshake);
  head.version = http1::Version::http10;
  EXPECT_EQ(classify(head, {}), Route::http());
}

TEST(ClassifyWebSocket, ParserShapedHeadIsWebSocket) {
  RequestHead head = make_head("GET", "/ws", kHandshake);
  head.is_upgrade = true;
  head.upgrade = "websocket";
  EXPECT_EQ(classify(head, {}), Route::websocket());
}

TEST(ClassifyWebSocket, HandBuiltHeadWithoutUpgradeFlagIsStillWebSocket) {
  RequestHead head = make_head("GET", "/ws", kHandshake);
  head.is_upgrade = false;
  head.upgrade = {};
  EXPECT_EQ(classify(head, {}), Route::websocket());
}

TEST(ClassifyWebSocket, UpgradeFlagWithoutFieldLinesIsHttp) {
  // The field lines are the truth; the parser's summary flags are not trusted.
  RequestHead head = make_head("GET", "/ws");
  head.is_upgrade = true;
  head.upgrade = "websocket";
  EXPECT_EQ(classify(head, {}), Route::http());
}

TEST(ClassifyWebSocket, AbsoluteFormHandshakeIsWebSocket) {
  RequestHead head = make_head("GET", "http://example.com/ws", kHandshake);
  head.target_form = http1::TargetForm::absolute;
  EXPECT_EQ(classify(head, {}), Route::websocket());
}

// ---- helpers and names ---------------------------------------------------------------------

TEST(ClassifyTargetPath, StopsAtFirstQuestionMark) {
  EXPECT_EQ(target_path("/a/b?c=d?e"), "/a/b");
  EXPECT_EQ(target_path("/a/b"), "/a/b");
  EXPECT_EQ(target_path("?x"), "");
  EXPECT_EQ(target_path(""), "");
}

TEST(ClassifyNames, RouteAndProbeNamesAreStable) {
  EXPECT_EQ(to_string(RouteKind::http), "http");
  EXPECT_EQ(to_string(RouteKind::websocket), "websocket");
  EXPECT_EQ(to_string(RouteKind::probe), "probe");
  EXPECT_EQ(to_string(ProbeKind::alive), "alive");
  EXPECT_EQ(to_string(ProbeKind::ready), "ready");
}

TEST(ClassifyRoute, EqualityIgnoresProbeKindOutsideProbes) {
  EXPECT_EQ((Route{RouteKind::http, ProbeKind::ready}), Route::http());
  EXPECT_NE(kAlive, kReady);
  EXPECT_NE(kAlive, Route::http());
}

// ---- properties ----------------------------------------------------------------------------

rc::Gen<std::string> gen_path() {
  return rc::gen::oneOf(
      rc::gen::string<std::string>(),
      rc::gen::map(rc::gen::string<std::string>(), [](std::string s) { return "/" + s; }),
      rc::gen::map(rc::gen::string<std::string>(), [](std::string s) { return "/_health/" + s; }),
      rc::gen::map(
          rc::gen::pair(
              rc::gen::element(std::string(kDefaultAlivePath), std::string(kDefaultReadyPath)),
              rc::gen::string<std::string>()),
          [](const std::pair<std::string, std::string>& p) { return p.first + p.second; }));
}

RC_GTEST_PROP(ClassifyProperty, PathThatIsNotExactlyAProbePathIsNeverAProbe, ()) {
  const std::string path = *gen_path().as("path");
  RC_PRE(path.find('?') == std::string::npos);
  RC_PRE(path != kDefaultAlivePath && path != kDefaultReadyPath);
  const bool with_query = *rc::gen::arbitrary<bool>();
  const std::string target = with_query ? path + "?" + *rc::gen::string<std::string>() : path;
  const std::string method = *rc::gen::elementOf(std::vector<std::string>{"GET", "HEAD", "POST"});
  RC_ASSERT(route_of(method, target).kind != RouteKind::probe);
}

RC_GTEST_PROP(ClassifyProperty, ProbePathWithAnyQueryIsAProbe, ()) {
  const bool alive = *rc::gen::arbitrary<bool>();
  const std::string query = *rc::gen::string<std::string>();
  const std::string target =
      std::string(alive ? kDefaultAlivePath : kDefaultReadyPath) + "?" + query;
  RC_ASSERT(route_of("GET", target) == (alive ? kAlive : kReady));
}

RC_GTEST_PROP(ClassifyProperty, CustomProbeMatchesOnlyItsOwnPath, ()) {
  ClassifyOptions options;
  options.alive_path = "/" + *rc::gen::string<std::string>().as("alive path");
  options.ready_path = "/" + *rc::gen::string<std::string>().as("ready path");
  const std::string target = *rc::gen::elementOf(std::vector<std::string>{
      *gen_path(), options.alive_path, options.ready_path, options.alive_path + "?q=1"});
  const Route route = route_of("GET", target, options);
  const std::string_view path = target_path(target);
  if (route.kind == RouteKind::probe) {
    RC_ASSERT(path == (route.probe == ProbeKind::alive ? options.alive_path : options.ready_path));
  }
  if (path == options.alive_path) RC_ASSERT(route == kAlive);
}

}  // namespace
}  // namespace lancet::classify
