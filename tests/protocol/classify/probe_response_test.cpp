// Tests for protocol/classify/probe_response.hpp: status, body and fields of every probe answer.
#include "protocol/classify/probe_response.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace lancet::classify {
namespace {

std::string field(const ProbeResponse& response, std::string_view name) {
  for (const OwnedHeader& h : response.headers) {
    if (h.name == name) return h.value;
  }
  return "<absent>";
}

// The body's "status" member, or "<invalid>" when the body is not {"status": "<string>"}.
std::string status_word(std::string_view body) {
  boost::json::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return "<invalid>";
  const boost::json::value* status = value.get_object().if_contains("status");
  if (status == nullptr || !status->is_string()) return "<invalid>";
  return std::string(status->get_string().c_str());
}

TEST(ProbeResponse, AliveIsAlways200WithAliveBody) {
  for (Readiness r : {Readiness::starting, Readiness::ready, Readiness::draining}) {
    ProbeResponse response = make_probe_response(ProbeKind::alive, r, false);
    EXPECT_EQ(response.status, 200) << to_string(r);
    EXPECT_EQ(response.body, R"({"status":"alive"})") << to_string(r);
  }
}

TEST(ProbeResponse, ReadyIs200WhenReady) {
  ProbeResponse response = make_probe_response(ProbeKind::ready, Readiness::ready, false);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"status":"ready"})");
}

TEST(ProbeResponse, ReadyIs503WhileStarting) {
  ProbeResponse response = make_probe_response(ProbeKind::ready, Readiness::starting, false);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, R"({"status":"starting"})");
}

TEST(ProbeResponse, ReadyIs503WhileDraining) {
  ProbeResponse response = make_probe_response(ProbeKind::ready, Readiness::draining, false);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, R"({"status":"draining"})");
}

TEST(ProbeResponse, FieldsAreJsonTypeLengthAndNoStoreInOrder) {
  ProbeResponse response = make_probe_response(ProbeKind::ready, Readiness::ready, false);
  ASSERT_EQ(response.headers.size(), 3u);
  EXPECT_EQ(response.headers[0].name, "content-type");
  EXPECT_EQ(response.headers[0].value, "application/json");
  EXPECT_EQ(response.headers[1].name, "content-length");
  EXPECT_EQ(response.headers[1].value, "18");
  EXPECT_EQ(response.headers[2].name, "cache-control");
  EXPECT_EQ(response.headers[2].value, "no-store");
}

TEST(ProbeResponse, ContentLengthMatchesBody) {
  ProbeResponse response = make_probe_response(ProbeKind::ready, Readiness::starting, false);
  EXPECT_EQ(field(response, "content-length"), std::to_string(response.body.size()));
}

TEST(ProbeResponse, HeadRequestHasSameFieldsAndEmptyBody) {
  for (ProbeKind kind : {ProbeKind::alive, ProbeKind::ready}) {
    for (Readiness r : {Readiness::starting, Readiness::ready, Readiness::draining}) {
      ProbeResponse get = make_probe_response(kind, r, false);
      ProbeResponse head = make_probe_response(kind, r, true);
      EXPECT_EQ(head.status, get.status);
      EXPECT_TRUE(head.body.empty());
      ASSERT_EQ(head.headers.size(), get.headers.size());
      for (std::size_t i = 0; i < head.headers.size(); ++i) {
        EXPECT_EQ(head.headers[i].name, get.headers[i].name);
        EXPECT_EQ(head.headers[i].value, get.headers[i].value);
      }
      EXPECT_EQ(field(head, "content-length"), std::to_string(get.body.size()));
    }
  }
}

TEST(ProbeResponse, HeaderViewsPointAtOwnedFields) {
  ProbeResponse response = make_probe_response(ProbeKind::alive, Readiness::ready, false);
  std::vector<http1::Header> views = response.header_views();
  ASSERT_EQ(views.size(), response.headers.size());
  for (std::size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].name, response.headers[i].name);
    EXPECT_EQ(views[i].value, response.headers[i].value);
    EXPECT_EQ(views[i].value.data(), response.headers[i].value.data());
  }
}

TEST(ProbeResponse, ReadinessNamesAreStable) {
  EXPECT_EQ(to_string(Readiness::starting), "starting");
  EXPECT_EQ(to_string(Readiness::ready), "ready");
  EXPECT_EQ(to_string(Readiness::draining), "draining");
}

RC_GTEST_PROP(ProbeResponseProperty, BodyIsJsonAndContentLengthMatches, ()) {
  const ProbeKind kind = *rc::gen::element(ProbeKind::alive, ProbeKind::ready);
  const Readiness readiness =
      *rc::gen::element(Readiness::starting, Readiness::ready, Readiness::draining);
  const bool head_request = *rc::gen::arbitrary<bool>();
  const ProbeResponse get = make_probe_response(kind, readiness, false);
  const ProbeResponse response = make_probe_response(kind, readiness, head_request);
  const std::string expected_word =
      kind == ProbeKind::alive ? "alive" : std::string(to_string(readiness));
  RC_ASSERT(status_word(get.body) == expected_word);
  RC_ASSERT(field(response, "content-length") == std::to_string(get.body.size()));
  RC_ASSERT(response.body == (head_request ? std::string() : get.body));
  RC_ASSERT(response.status ==
            ((kind == ProbeKind::alive || readiness == Readiness::ready) ? 200 : 503));
}

}  // namespace
}  // namespace lancet::classify
