// Lifespan events: what the app's receive() yields and what it may send (ASGI lifespan 2.0).
//
// Layer: protocol/lifespan. Typed values plus a JSON form for tests, fuzzing and tools (the
// bridge converts Python dicts straight to these types, never through JSON).
//
//   receive() yields   {"type": "lifespan.startup"}, later {"type": "lifespan.shutdown"}
//   send() accepts     {"type": "lifespan.startup.complete"}
//                      {"type": "lifespan.startup.failed", "message": "..."}   message optional
//                      {"type": "lifespan.shutdown.complete"}
//                      {"type": "lifespan.shutdown.failed", "message": "..."}  message optional
//   Extra keys are ignored, as the ASGI spec requires of servers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"

namespace lancet::lifespan {

/// The 'type' of an event the application sends.
enum class SendType : std::uint8_t {
  startup_complete,   ///< "lifespan.startup.complete"
  startup_failed,     ///< "lifespan.startup.failed"
  shutdown_complete,  ///< "lifespan.shutdown.complete"
  shutdown_failed,    ///< "lifespan.shutdown.failed"
};

/// One event the application sent.
struct SendEvent {
  SendType type = SendType::startup_complete;
  std::string message;  ///< the *.failed message ("" when absent; ignored on *.complete)

  friend bool operator==(const SendEvent&, const SendEvent&) = default;
};

/// What the application's receive() yields next.
enum class Receive : std::uint8_t {
  startup,   ///< {"type": "lifespan.startup"}
  shutdown,  ///< {"type": "lifespan.shutdown"}
  pending,   ///< nothing yet: the receive() awaitable waits (until shutdown begins)
};

/// The ASGI type string, e.g. "lifespan.startup.failed".
std::string_view type_name(SendType type) noexcept;

/// The ASGI type string: "lifespan.startup", "lifespan.shutdown"; "" for Receive::pending.
std::string_view type_name(Receive event) noexcept;

/// Parses a send event from JSON text. Errors (local): invalid_json (not JSON, or not an
/// object), missing_event_field ('type' absent), invalid_event_field ('type' or 'message' is
/// not a string), unknown_event_type ('type' is not one of the four lifespan send types).
Result<SendEvent> parse_send_event(std::string_view json);

/// The JSON form of a send event; parse_send_event() reads it back unchanged. 'message' is
/// written for the *.failed types only.
std::string to_json(const SendEvent& event);

/// The JSON form of a receive event, e.g. {"type":"lifespan.startup"}; "" for pending.
std::string to_json(Receive event);

}  // namespace lancet::lifespan
