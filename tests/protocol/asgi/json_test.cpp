// Tests for protocol/asgi/json.hpp: parse_send_event and to_json.
#include "protocol/asgi/json.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

namespace lancet::asgi {
namespace {

using http1::Header;

SendEvent parsed(std::string_view text, std::vector<OwnedSendEvent>& keep) {
  Result<OwnedSendEvent> r = parse_send_event(text);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().detail);
  if (!r) return HttpResponseBody{};
  keep.push_back(std::move(*r));
  return keep.back().event();
}

Error parse_error(std::string_view text) {
  Result<OwnedSendEvent> r = parse_send_event(text);
  EXPECT_FALSE(r.has_value()) << text;
  return r ? Error{} : r.error();
}

TEST(AsgiJson, ParsesEachSendEventType) {
  std::vector<OwnedSendEvent> keep;
  std::vector<Header> headers = {{"content-type", "text/plain"}, {"x-dup", "1"}, {"x-dup", "2"}};
  EXPECT_EQ(
      parsed(R"({"type":"http.response.start","status":201,"headers":)"
             R"([["content-type","text/plain"],["x-dup","1"],["x-dup","2"]],"trailers":true})",
             keep),
      SendEvent(HttpResponseStart{201, headers, true}));
  EXPECT_EQ(parsed(R"({"type":"http.response.body","body":"hi\u0000","more_body":true})", keep),
            SendEvent(HttpResponseBody{std::string_view("hi\0", 3), true}));
  std::vector<Header> trailers = {{"x-a", "b"}};
  EXPECT_EQ(parsed(R"({"type":"http.response.trailers","headers":[["x-a","b"]]})", keep),
            SendEvent(HttpResponseTrailers{trailers, false}));
  EXPECT_EQ(parsed(R"({"type":"http.response.pathsend","path":"/srv/f"})", keep),
            SendEvent(HttpResponsePathsend{"/srv/f"}));
}

TEST(AsgiJson, MissingOptionalKeysTakeSpecDefaults) {
  std::vector<OwnedSendEvent> keep;
  EXPECT_EQ(parsed(R"({"type":"http.response.start","status":200})", keep),
            SendEvent(HttpResponseStart{200, {}, false}));
  EXPECT_EQ(parsed(R"({"type":"http.response.body"})", keep),
            SendEvent(HttpResponseBody{"", false}));
  EXPECT_EQ(parsed(R"({"type":"http.response.trailers"})", keep),
            SendEvent(HttpResponseTrailers{{}, false}));
}

TEST(AsgiJson, TrailerHeadersAreParsedInOrder) {
  std::vector<OwnedSendEvent> keep;
  std::vector<Header> expected = {{"x-a", "b"}, {"X-C", "d"}};
  EXPECT_EQ(parsed(R"({"type":"http.response.trailers","headers":[["x-a","b"],["X-C","d"]],)"
                   R"("more_trailers":true})",
                   keep),
            SendEvent(HttpResponseTrailers{expected, true}));
}

TEST(AsgiJson, ExtraKeysAreIgnored) {
  std::vector<OwnedSendEvent> keep;
  EXPECT_EQ(parsed(R"({"type":"http.response.body","body":"x","extra":[1,{"a":null}]})", keep),
            SendEvent(HttpResponseBody{"x", false}));
}

TEST(AsgiJson, InvalidJsonIsInvalidJson) {
  for (std::string_view text : {"", "{", "{\"type\":}", "[1,]", "nul"}) {
    EXPECT_EQ(parse_error(text).code, Errc::invalid_json) << text;
  }
}

TEST(AsgiJson, MissingOrUnknownTypeIsUnknownEventType) {
  EXPECT_EQ(parse_error("{}").code, Errc::unknown_event_type);
  EXPECT_EQ(parse_error("[]").code, Errc::unknown_event_type);
  EXPECT_EQ(parse_error("42").code, Errc::unknown_event_type);
  EXPECT_EQ(parse_error(R"({"type":"http.request"})").code, Errc::unknown_event_type);
  EXPECT_EQ(parse_error(R"({"type":"websocket.send"})").code, Errc::unknown_event_type);
}

TEST(AsgiJson, MissingRequiredKeyIsMissingEventField) {
  Error status = parse_error(R"({"type":"http.response.start"})");
  EXPECT_EQ(status.code, Errc::missing_event_field);
  EXPECT_STREQ(status.detail, "missing required key 'status' in 'http.response.start'");
  EXPECT_EQ(parse_error(R"({"type":"http.response.pathsend"})").code, Errc::missing_event_field);
}

TEST(AsgiJson, WrongTypesAreInvalidEventFieldNamingKeyAndType) {
  struct Case {
    std::string_view text;
    std::string_view detail;
  };
  const Case cases[] = {
      {R"({"type":1})", "expected 'type' to be a string, got another type"},
      {R"({"type":"http.response.start","status":"200"})",
       "expected 'status' to be an integer, got another type"},
      {R"({"type":"http.response.start","status":200.5})",
       "expected 'status' to be an integer, got another type"},
      {R"({"type":"http.response.start","status":200,"trailers":1})",
       "expected 'trailers' to be a boolean, got another type"},
      {R"({"type":"http.response.start","status":200,"headers":{}})",
       "expected 'headers' to be a list of [name, value] pairs, got another type"},
      {R"({"type":"http.response.start","status":200,"headers":[["a"]]})",
       "expected each entry of 'headers' to be a [name, value] pair of byte strings, got "
       "something else"},
      {R"({"type":"http.response.start","status":200,"headers":[["a",1]]})",
       "expected each entry of 'headers' to be a [name, value] pair of byte strings, got "
       "something else"},
      {R"({"type":"http.response.body","body":[104,105]})",
       "expected 'body' to be bytes (a JSON string), got another type"},
      {R"({"type":"http.response.body","more_body":"yes"})",
       "expected 'more_body' to be a boolean, got another type"},
      {R"({"type":"http.response.trailers","more_trailers":null})",
       "expected 'more_trailers' to be a boolean, got another type"},
      {R"({"type":"http.response.pathsend","path":5})",
       "expected 'path' to be a string, got another type"},
  };
  for (const Case& c : cases) {
    Error e = parse_error(c.text);
    EXPECT_EQ(e.code, Errc::invalid_event_field) << c.text;
    EXPECT_EQ(std::string_view(e.detail), c.detail) << c.text;
  }
}

TEST(AsgiJson, HugeStatusParsesAndIsRejectedByValidation) {
  std::vector<OwnedSendEvent> keep;
  SendEvent event = parsed(R"({"type":"http.response.start","status":18446744073709551615})", keep);
  Result<void> valid = validate_send_event(event);
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().code, Errc::invalid_status);
}

TEST(AsgiJson, OwnedEventViewsSurviveMoves) {
  Result<OwnedSendEvent> r =
      parse_send_event(R"({"type":"http.response.start","status":200,"headers":[["a","b"]]})");
  ASSERT_TRUE(r);
  OwnedSendEvent moved = std::move(*r);
  std::vector<OwnedSendEvent> many;
  many.push_back(std::move(moved));
  for (int i = 0; i < 10; ++i) many.push_back(std::move(many.back()));  // regrows the vector
  std::vector<Header> expected = {{"a", "b"}};
  EXPECT_EQ(many.back().event(), SendEvent(HttpResponseStart{200, expected, false}));
}

TEST(AsgiJson, ScopeToJsonLooksLikeThePythonDict) {
  HttpScope scope;
  scope.method = "GET";
  scope.path = "/é";
  scope.raw_path = "/%C3%A9";
  scope.query_string = "a=1";
  scope.headers = {{"host", "x"}};
  scope.client = Address{"1.2.3.4", 5};
  EXPECT_EQ(
      boost::json::serialize(to_json(scope)),
      R"({"type":"http","asgi":{"version":"3.0","spec_version":"2.4"},"http_version":"1.1",)"
      R"("method":"GET","scheme":"http","path":"/é","raw_path":"/%C3%A9","query_string":"a=1",)"
      R"("root_path":"","headers":[["host","x"]],"client":["1.2.3.4",5],"server":null})");
}

TEST(AsgiJson, ReceiveEventsAndActionsToJson) {
  EXPECT_EQ(boost::json::serialize(to_json(ReceiveEvent{HttpRequest{"ab", true}})),
            R"({"type":"http.request","body":"ab","more_body":true})");
  EXPECT_EQ(boost::json::serialize(to_json(ReceiveEvent{HttpDisconnect{}})),
            R"({"type":"http.disconnect"})");
  HttpCycle cycle;
  std::vector<Header> headers = {{"x", "y"}};
  ASSERT_TRUE(cycle.on_app_send(HttpResponseStart{200, headers, false}));
  Result<Actions> actions = cycle.on_app_send(HttpResponseBody{"hi", false});
  ASSERT_TRUE(actions);
  EXPECT_EQ(boost::json::serialize(to_json(*actions)),
            R"([{"action":"send_head","status":200,"headers":[["x","y"],["content-length","2"]]},)"
            R"({"action":"send_data","bytes":"hi"},{"action":"send_end","trailers":[]}])");
  EXPECT_EQ(boost::json::serialize(to_json(Action{SendFile{"/f"}})),
            R"({"action":"send_file","path":"/f"})");
  EXPECT_EQ(boost::json::serialize(to_json(Action{Abort{}})), R"({"action":"abort"})");
}

TEST(AsgiJson, SendEventToJsonWritesEveryField) {
  EXPECT_EQ(boost::json::serialize(to_json(SendEvent{HttpResponseStart{}})),
            R"({"type":"http.response.start","status":200,"headers":[],"trailers":false})");
  EXPECT_EQ(boost::json::serialize(to_json(SendEvent{HttpResponseTrailers{}})),
            R"({"type":"http.response.trailers","headers":[],"more_trailers":false})");
}

// ---- round trip property ---------------------------------------------------------------------

RC_GTEST_PROP(AsgiJson, AnyValidSendEventRoundTrips, ()) {
  const std::size_t kind = *rc::gen::inRange<std::size_t>(0, 4);
  const std::int64_t status = *rc::gen::inRange<std::int64_t>(200, 600);
  const bool flag = *rc::gen::arbitrary<bool>();
  const std::string bytes = *rc::gen::arbitrary<std::string>();  // any bytes, even NUL/invalid
  const auto names = *rc::gen::container<std::vector<std::string>>(rc::gen::nonEmpty(
      rc::gen::container<std::string>(rc::gen::element('a', 'Z', '-', '!', '9'))));
  std::vector<std::string> values;
  for (std::size_t i = 0; i < names.size(); ++i) {
    values.push_back(
        *rc::gen::container<std::string>(rc::gen::suchThat(rc::gen::arbitrary<char>(), [](char c) {
          auto u = static_cast<unsigned char>(c);
          return u == '\t' || (u >= 0x20 && u != 0x7f);
        })));
  }
  std::vector<Header> headers;
  for (std::size_t i = 0; i < names.size(); ++i) headers.push_back({names[i], values[i]});
  // Events hold views: the path must outlive the event (a ternary would make a temporary).
  const std::string path = bytes.find('\0') == std::string::npos ? "/" + bytes : "/p";
  SendEvent event;
  switch (kind) {
    case 0: event = HttpResponseStart{status, headers, flag}; break;
    case 1: event = HttpResponseBody{bytes, flag}; break;
    case 2: event = HttpResponseTrailers{headers, flag}; break;
    default: event = HttpResponsePathsend{path};
  }
  RC_PRE(validate_send_event(event).has_value());
  std::string text = boost::json::serialize(to_json(event));
  Result<OwnedSendEvent> back = parse_send_event(text);
  RC_ASSERT(back.has_value());
  RC_ASSERT(back->event() == event);
}

}  // namespace
}  // namespace lancet::asgi
