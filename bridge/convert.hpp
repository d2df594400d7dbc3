// Conversions at the Python edge, done once: the native config dict -> backend::ServerConfig,
// an ASGI send-event dict -> asgi::SendEvent (granian's adapt_message_type), a lifespan
// send-event dict -> lifespan::SendEvent.
//
// Layer: bridge/. Called with the GIL held. Errors are raised as Python exceptions
// (pybind11::error_already_set / builtin_exception subclasses).
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string_view>
#include <vector>

#include "backends/server.hpp"
#include "protocol/asgi/events.hpp"
#include "protocol/asgi/websocket_events.hpp"
#include "protocol/lifespan/events.hpp"

namespace lancet::bridge {

/// Reads Config.to_native()'s dict. Missing keys keep ServerConfig's defaults.
backend::ServerConfig config_from_native(const pybind11::dict& native);

/// Storage behind a converted send event's views: buffers held while the event is in use.
/// Reused across calls (one per loop thread) so the header vector keeps its capacity.
class SendScratch {
 public:
  SendScratch() = default;
  SendScratch(const SendScratch&) = delete;
  SendScratch& operator=(const SendScratch&) = delete;
  ~SendScratch() { reset(); }
  /// Releases buffers and references from the previous conversion.
  void reset();

  std::vector<http1::Header> headers;
  std::vector<Py_buffer> buffers;
  std::vector<PyObject*> refs;  ///< owned references (materialised header sequences)
};

/// Converts `message` (a dict; any mapping is copied into one first) into a send event whose
/// views point into `message`'s objects and `scratch`. Valid until scratch.reset() and while
/// `message` lives. Raises RuntimeError for a missing or unknown 'type' or a missing 'status'
/// and TypeError for a field of the wrong type.
asgi::SendEvent to_send_event(PyObject* message, SendScratch& scratch);

/// Converts `message` sent on a 'websocket' scope, as to_send_event() does (same lifetime
/// rules). Raises RuntimeError for a missing or unknown 'type' or a missing 'status', and
/// TypeError for a field of the wrong type ('text' and 'reason' str, 'bytes' bytes-like,
/// 'code' and 'status' int, 'subprotocol' str; None means absent for all but 'status').
asgi::WebSocketSendEvent to_websocket_event(PyObject* message, SendScratch& scratch);

/// Converts a lifespan send-event dict. Raises RuntimeError for a missing or unknown 'type'.
lifespan::SendEvent to_lifespan_event(PyObject* message);

}  // namespace lancet::bridge
