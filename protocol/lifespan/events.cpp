// See events.hpp. JSON goes through Boost.JSON's non-throwing API only (error_code overloads,
// if_* accessors).
#include "protocol/lifespan/events.hpp"

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace lancet::lifespan {
namespace {

constexpr std::array<SendType, 4> kSendTypes = {
    SendType::startup_complete, SendType::startup_failed, SendType::shutdown_complete,
    SendType::shutdown_failed};

bool is_failed(SendType type) noexcept {
  return type == SendType::startup_failed || type == SendType::shutdown_failed;
}

std::string_view view(const boost::json::string& s) noexcept { return {s.data(), s.size()}; }

Result<SendType> parse_type(const boost::json::object& object) {
  const boost::json::value* type = object.if_contains("type");
  if (type == nullptr) {
    return unexpected(make_local_error(Errc::missing_event_field, "lifespan event has no 'type'"));
  }
  const boost::json::string* name = type->if_string();
  if (name == nullptr) {
    return unexpected(
        make_local_error(Errc::invalid_event_field, "lifespan event 'type' is not a string"));
  }
  for (SendType candidate : kSendTypes) {
    if (view(*name) == type_name(candidate)) return candidate;
  }
  return unexpected(make_local_error(
      Errc::unknown_event_type,
      "expected 'lifespan.startup.complete', 'lifespan.startup.failed', "
      "'lifespan.shutdown.complete' or 'lifespan.shutdown.failed' as a lifespan event 'type'"));
}

}  // namespace

std::string_view type_name(SendType type) noexcept {
  switch (type) {
    case SendType::startup_complete: return "lifespan.startup.complete";
    case SendType::startup_failed: return "lifespan.startup.failed";
    case SendType::shutdown_complete: return "lifespan.shutdown.complete";
    case SendType::shutdown_failed: return "lifespan.shutdown.failed";
  }
  return "unknown";
}

std::string_view type_name(Receive event) noexcept {
  switch (event) {
    case Receive::startup: return "lifespan.startup";
    case Receive::shutdown: return "lifespan.shutdown";
    case Receive::pending: return "";
  }
  return "";
}

Result<SendEvent> parse_send_event(std::string_view json) {
  boost::json::error_code ec;
  boost::json::value root = boost::json::parse(json, ec);
  if (ec) return unexpected(make_local_error(Errc::invalid_json, "lifespan event is not JSON"));
  const boost::json::object* object = root.if_object();
  if (object == nullptr) {
    return unexpected(make_local_error(Errc::invalid_json, "lifespan event is not an object"));
  }
  Result<SendType> type = parse_type(*object);
  if (!type) return unexpected(type.error());
  SendEvent event{*type, {}};
  const boost::json::value* message = object->if_contains("message");
  if (message != nullptr && is_failed(event.type)) {
    const boost::json::string* text = message->if_string();
    if (text == nullptr) {
      return unexpected(
          make_local_error(Errc::invalid_event_field, "lifespan event 'message' is not a string"));
    }
    event.message.assign(text->data(), text->size());
  }
  return event;
}

std::string to_json(const SendEvent& event) {
  boost::json::object object;
  object["type"] = type_name(event.type);
  if (is_failed(event.type)) object["message"] = event.message;
  return boost::json::serialize(object);
}

std::string to_json(Receive event) {
  if (event == Receive::pending) return {};
  boost::json::object object;
  object["type"] = type_name(event);
  return boost::json::serialize(object);
}

}  // namespace lancet::lifespan
