// Interned Python strings and shared constant objects of the bridge, created once per process
// at module init (the GIL held) and never released.
//
// Layer: bridge/.
#pragma once

#include <Python.h>

namespace lancet::bridge {

struct Names {
  // scope keys
  PyObject* type;
  PyObject* asgi;
  PyObject* version;
  PyObject* spec_version;
  PyObject* http_version;
  PyObject* method;
  PyObject* scheme;
  PyObject* path;
  PyObject* raw_path;
  PyObject* query_string;
  PyObject* root_path;
  PyObject* headers;
  PyObject* client;
  PyObject* server;
  PyObject* extensions;
  PyObject* state;
  PyObject* subprotocols;
  // event keys
  PyObject* body;
  PyObject* more_body;
  PyObject* status;
  PyObject* trailers;
  PyObject* more_trailers;
  PyObject* message;
  PyObject* subprotocol;
  PyObject* bytes;
  PyObject* text;
  PyObject* code;
  PyObject* reason;
  // values
  PyObject* http;
  PyObject* https;
  PyObject* http_request;
  PyObject* http_disconnect;
  PyObject* v1_0;
  PyObject* v1_1;
  PyObject* websocket;
  PyObject* ws;
  PyObject* wss;
  PyObject* websocket_connect;
  PyObject* websocket_receive;
  PyObject* websocket_disconnect;
  // method names
  PyObject* receive;
  PyObject* send;
  PyObject* set_result;
  PyObject* done;
  // the ClientDisconnected exception type (an OSError subclass)
  PyObject* client_disconnected;
  // asyncio.CancelledError, asyncio.InvalidStateError
  PyObject* cancelled_error;
  PyObject* invalid_state_error;
};

/// Creates everything; false with a Python error set on failure.
bool init_names();
/// The names (after init_names()).
const Names& names() noexcept;

}  // namespace lancet::bridge
