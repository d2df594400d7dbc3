// Tests for protocol/asgi/events.hpp: validation of single send events.
#include "protocol/asgi/events.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace lancet::asgi {
namespace {

using http1::Header;

Errc error_of(const SendEvent& event) {
  Result<void> r = validate_send_event(event);
  EXPECT_FALSE(r.has_value()) << "expected an error for " << event_type(event);
  return r ? Errc::bad_request : r.error().code;
}

TEST(AsgiEvents, ValidStartBodyTrailersAndPathsendPass) {
  std::vector<Header> headers = {{"content-type", "text/plain"}, {"X-Tab", "a\tb\x80"}};
  EXPECT_TRUE(validate_send_event(HttpResponseStart{200, headers, true}));
  EXPECT_TRUE(validate_send_event(HttpResponseStart{599, {}, false}));
  EXPECT_TRUE(validate_send_event(HttpResponseBody{"hello", true}));
  EXPECT_TRUE(validate_send_event(HttpResponseTrailers{headers, false}));
  EXPECT_TRUE(validate_send_event(HttpResponsePathsend{"/srv/file.txt"}));
}

TEST(AsgiEvents, StatusOutOfRangeIsInvalidStatus) {
  for (std::int64_t status : {0LL, 99LL, 600LL, -200LL, 1LL << 40}) {
    Result<void> r = validate_send_event(HttpResponseStart{status, {}, false});
    ASSERT_FALSE(r) << status;
    EXPECT_EQ(r.error().code, Errc::invalid_status);
    EXPECT_EQ(r.error().origin, Origin::local);
    EXPECT_STREQ(r.error().detail,
                 "expected 'status' to be an integer from 200 to 599 in 'http.response.start', "
                 "got a value out of range");
  }
}

TEST(AsgiEvents, InterimStatusIsRejectedAsNotAFinalResponse) {
  for (std::int64_t status : {100, 101, 103, 199}) {
    Result<void> r = validate_send_event(HttpResponseStart{status, {}, false});
    ASSERT_FALSE(r) << status;
    EXPECT_EQ(r.error().code, Errc::invalid_status);
    EXPECT_NE(std::string(r.error().detail).find("final response"), std::string::npos);
  }
}

TEST(AsgiEvents, HeaderNameThatIsNotATokenIsRejected) {
  for (std::string_view name : {"", "bad name", "bad:name", "caf\xC3\xA9", "a\r\nb"}) {
    std::vector<Header> headers = {{name, "v"}};
    EXPECT_EQ(error_of(HttpResponseStart{200, headers, false}), Errc::invalid_response_header_name);
    EXPECT_EQ(error_of(HttpResponseTrailers{headers, false}), Errc::invalid_response_header_name);
  }
}

TEST(AsgiEvents, HeaderValueWithCrLfOrNulIsRejected) {
  using namespace std::string_view_literals;
  for (std::string_view value : {"a\rb"sv, "a\nb"sv, "a\0b"sv, "\x7f"sv, "x\r\nSet-Cookie: y"sv}) {
    std::vector<Header> headers = {{"x-ok", "fine"}, {"x-bad", value}};
    EXPECT_EQ(error_of(HttpResponseStart{200, headers, false}),
              Errc::invalid_response_header_value);
    EXPECT_EQ(error_of(HttpResponseTrailers{headers, true}), Errc::invalid_response_header_value);
  }
}

TEST(AsgiEvents, PathsendPathMustBeAbsolute) {
  using namespace std::string_view_literals;
  for (std::string_view path : {""sv, "relative/file"sv, "./f"sv, "/a\0b"sv}) {
    EXPECT_EQ(error_of(HttpResponsePathsend{path}), Errc::invalid_event_field);
  }
}

TEST(AsgiEvents, EventTypesAreAsgiMessageNames) {
  EXPECT_EQ(event_type(SendEvent{HttpResponseStart{}}), "http.response.start");
  EXPECT_EQ(event_type(SendEvent{HttpResponseBody{}}), "http.response.body");
  EXPECT_EQ(event_type(SendEvent{HttpResponseTrailers{}}), "http.response.trailers");
  EXPECT_EQ(event_type(SendEvent{HttpResponsePathsend{}}), "http.response.pathsend");
  EXPECT_EQ(event_type(ReceiveEvent{HttpRequest{}}), "http.request");
  EXPECT_EQ(event_type(ReceiveEvent{HttpDisconnect{}}), "http.disconnect");
}

TEST(AsgiEvents, EqualityComparesHeaderContentsNotAddresses) {
  std::vector<Header> a = {{"a", "1"}};
  std::string name = "a";
  std::string value = "1";
  std::vector<Header> b = {{name, value}};
  EXPECT_EQ(SendEvent(HttpResponseStart{200, a, false}),
            SendEvent(HttpResponseStart{200, b, false}));
  EXPECT_NE(SendEvent(HttpResponseStart{200, a, false}),
            SendEvent(HttpResponseStart{201, b, false}));
}

RC_GTEST_PROP(AsgiEvents, AnyHeaderValueWithCrLfOrNulIsRejected,
              (const std::string& prefix, const std::string& suffix)) {
  const char bad = *rc::gen::element('\r', '\n', '\0');
  std::string value = prefix + bad + suffix;
  std::vector<Header> headers = {{"x-name", value}};
  Result<void> start = validate_send_event(HttpResponseStart{200, headers, false});
  Result<void> trailers = validate_send_event(HttpResponseTrailers{headers, false});
  RC_ASSERT(!start);
  RC_ASSERT(start.error().code == Errc::invalid_response_header_value);
  RC_ASSERT(!trailers);
  RC_ASSERT(trailers.error().code == Errc::invalid_response_header_value);
}

}  // namespace
}  // namespace lancet::asgi
