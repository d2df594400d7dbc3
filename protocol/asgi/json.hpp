// The neutral JSON form of ASGI values: what lancet-trace prints, what golden tests compare, and
// what the fuzz target feeds in. Not used on the hot path (the bridge converts Python objects
// directly).
//
// Layer: protocol/asgi. Boost.JSON, non-throwing overloads only.
//
// The form mirrors the Python dicts: {"type": "http.response.start", "status": 200,
// "headers": [["content-type", "text/plain"]], "trailers": false}. Byte strings (body, header
// names and values, raw_path, query_string) are JSON strings whose bytes are the bytes. The
// writer passes bytes through unchanged (JSON escapes only for '"', '\' and controls) and the
// reader accepts strings that are not valid UTF-8, so any bytes round-trip.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "protocol/asgi/events.hpp"
#include "protocol/asgi/http_cycle.hpp"
#include "protocol/asgi/scope.hpp"
#include "protocol/core/result.hpp"

namespace lancet::asgi {

/// A send event plus the storage its views point into (the parsed document). Movable; the
/// event's views stay valid across moves, until destruction.
class OwnedSendEvent {
 public:
  OwnedSendEvent(OwnedSendEvent&&) noexcept;
  OwnedSendEvent& operator=(OwnedSendEvent&&) noexcept;
  ~OwnedSendEvent();

  const SendEvent& event() const noexcept { return event_; }

 private:
  struct Storage;
  OwnedSendEvent(std::unique_ptr<Storage> storage, SendEvent event) noexcept;
  friend Result<OwnedSendEvent> parse_send_event(std::string_view json);

  std::unique_ptr<Storage> storage_;
  SendEvent event_;
};

/// Parses one send event from its JSON text. Extra keys are ignored (ASGI: servers must
/// ignore keys they do not know). Structure and types only: values are checked by
/// validate_send_event / HttpCycle::on_app_send. Errors (local):
///   - invalid_json: not valid JSON (or nested deeper than 32).
///   - unknown_event_type: not an object, no 'type' key, or a type this scope does not know.
///   - missing_event_field: a required key ('status', 'path') is absent.
///   - invalid_event_field: a key of the wrong JSON type; the message names the key and the
///     expected type.
Result<OwnedSendEvent> parse_send_event(std::string_view json);

/// As parse_send_event, from an already parsed value. The event's views point into `value`
/// and `headers` (which is cleared first): both must outlive it. Same errors but invalid_json.
Result<SendEvent> send_event_from_json(const boost::json::value& value,
                                       std::vector<http1::Header>& headers);

/// The scope as the Python dict would look: asgi {version, spec_version}, client/server as
/// [host, port] or null.
boost::json::value to_json(const HttpScope& scope);
/// {"type": "http.request", "body": ..., "more_body": ...} or {"type": "http.disconnect"}.
boost::json::value to_json(const ReceiveEvent& event);
/// Every field written, defaults included, so parse_send_event(serialize(to_json(e))) == e.
boost::json::value to_json(const SendEvent& event);
/// {"action": "send_head", "status": ..., "headers": [...]}, {"action": "send_data", "bytes":
/// ...}, {"action": "send_end", "trailers": [...]}, {"action": "send_file", "path": ...},
/// {"action": "abort"}.
boost::json::value to_json(const Action& action);
/// A JSON array of the actions, in order.
boost::json::value to_json(const Actions& actions);

}  // namespace lancet::asgi
