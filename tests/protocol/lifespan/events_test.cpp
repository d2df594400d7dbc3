// Tests for protocol/lifespan/events.hpp: type names and the JSON form of lifespan events.
#include "protocol/lifespan/events.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace lancet::lifespan {
namespace {

Errc error_of(std::string_view json) {
  Result<SendEvent> event = parse_send_event(json);
  EXPECT_FALSE(event.has_value()) << json;
  return event ? Errc::bad_request : event.error().code;
}

TEST(LifespanEvents, TypeNamesFollowTheAsgiSpec) {
  EXPECT_EQ(type_name(SendType::startup_complete), "lifespan.startup.complete");
  EXPECT_EQ(type_name(SendType::startup_failed), "lifespan.startup.failed");
  EXPECT_EQ(type_name(SendType::shutdown_complete), "lifespan.shutdown.complete");
  EXPECT_EQ(type_name(SendType::shutdown_failed), "lifespan.shutdown.failed");
  EXPECT_EQ(type_name(Receive::startup), "lifespan.startup");
  EXPECT_EQ(type_name(Receive::shutdown), "lifespan.shutdown");
  EXPECT_EQ(type_name(Receive::pending), "");
}

TEST(LifespanEvents, ParsesEachSendType) {
  for (SendType type : {SendType::startup_complete, SendType::startup_failed,
                        SendType::shutdown_complete, SendType::shutdown_failed}) {
    std::string json = R"({"type":")" + std::string(type_name(type)) + R"("})";
    Result<SendEvent> event = parse_send_event(json);
    ASSERT_TRUE(event.has_value()) << json;
    EXPECT_EQ(event->type, type);
    EXPECT_EQ(event->message, "");
  }
}

TEST(LifespanEvents, ParsesFailedMessage) {
  Result<SendEvent> event =
      parse_send_event(R"({"type": "lifespan.startup.failed", "message": "db down"})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, SendType::startup_failed);
  EXPECT_EQ(event->message, "db down");
}

TEST(LifespanEvents, IgnoresExtraKeys) {
  Result<SendEvent> event =
      parse_send_event(R"({"type": "lifespan.shutdown.complete", "extra": [1, 2], "x": null})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, SendType::shutdown_complete);
}

TEST(LifespanEvents, MessageOnCompleteIsIgnored) {
  Result<SendEvent> event =
      parse_send_event(R"({"type": "lifespan.startup.complete", "message": 42})");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->message, "");
}

TEST(LifespanEvents, NonJsonIsInvalidJson) {
  EXPECT_EQ(error_of("{"), Errc::invalid_json);
  EXPECT_EQ(error_of(""), Errc::invalid_json);
  EXPECT_EQ(error_of("{\"type\": \"lifespan.startup.complete\"} trailing"), Errc::invalid_json);
}

TEST(LifespanEvents, NonObjectIsInvalidJson) {
  EXPECT_EQ(error_of(R"(["lifespan.startup.complete"])"), Errc::invalid_json);
  EXPECT_EQ(error_of(R"("lifespan.startup.complete")"), Errc::invalid_json);
}

TEST(LifespanEvents, MissingTypeIsMissingEventField) {
  EXPECT_EQ(error_of(R"({"message": "x"})"), Errc::missing_event_field);
}

TEST(LifespanEvents, NonStringTypeIsInvalidEventField) {
  EXPECT_EQ(error_of(R"({"type": 1})"), Errc::invalid_event_field);
  EXPECT_EQ(error_of(R"({"type": null})"), Errc::invalid_event_field);
}

TEST(LifespanEvents, UnknownTypeIsUnknownEventType) {
  EXPECT_EQ(error_of(R"({"type": "http.response.start"})"), Errc::unknown_event_type);
  EXPECT_EQ(error_of(R"({"type": "lifespan.startup"})"), Errc::unknown_event_type);
  EXPECT_EQ(error_of(R"({"type": "LIFESPAN.STARTUP.COMPLETE"})"), Errc::unknown_event_type);
}

TEST(LifespanEvents, NonStringFailedMessageIsInvalidEventField) {
  EXPECT_EQ(error_of(R"({"type": "lifespan.shutdown.failed", "message": ["x"]})"),
            Errc::invalid_event_field);
}

TEST(LifespanEvents, ParseErrorsAreLocal) {
  Result<SendEvent> event = parse_send_event(R"({"type": "nope"})");
  ASSERT_FALSE(event.has_value());
  EXPECT_EQ(event.error().origin, Origin::local);
}

TEST(LifespanEvents, SendEventJsonRoundTripsUnicodeMessage) {
  SendEvent event{SendType::shutdown_failed, "caf\xc3\xa9 \"quoted\"\n"};
  Result<SendEvent> back = parse_send_event(to_json(event));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, event);
}

TEST(LifespanEvents, ReceiveEventJson) {
  EXPECT_EQ(to_json(Receive::startup), R"({"type":"lifespan.startup"})");
  EXPECT_EQ(to_json(Receive::shutdown), R"({"type":"lifespan.shutdown"})");
  EXPECT_EQ(to_json(Receive::pending), "");
}

RC_GTEST_PROP(LifespanEventsProperty, SendEventJsonRoundTrips, ()) {
  const SendType type = *rc::gen::element(SendType::startup_complete, SendType::startup_failed,
                                          SendType::shutdown_complete, SendType::shutdown_failed);
  const bool failed = type == SendType::startup_failed || type == SendType::shutdown_failed;
  // Printable and control ASCII: Boost.JSON escapes what it must; UTF-8 is tested above.
  const std::string message =
      failed ? *rc::gen::container<std::string>(rc::gen::inRange<char>(0, 127)) : std::string();
  const SendEvent event{type, message};
  Result<SendEvent> back = parse_send_event(to_json(event));
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == event);
}

RC_GTEST_PROP(LifespanEventsProperty, ArbitraryTextNeverCrashesTheParser, (std::string text)) {
  Result<SendEvent> event = parse_send_event(text);
  if (!event) RC_ASSERT(event.error().origin == Origin::local);
}

}  // namespace
}  // namespace lancet::lifespan
