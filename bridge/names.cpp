// See names.hpp.
#include "bridge/names.hpp"

namespace lancet::bridge {
namespace {
Names g_names{};
bool g_ready = false;

bool intern(PyObject*& slot, const char* text) {
  slot = PyUnicode_InternFromString(text);
  return slot != nullptr;
}
}  // namespace

bool init_names() {
  if (g_ready) return true;
  Names& n = g_names;
  const bool ok = intern(n.type, "type") && intern(n.asgi, "asgi") &&
                  intern(n.version, "version") && intern(n.spec_version, "spec_version") &&
                  intern(n.http_version, "http_version") && intern(n.method, "method") &&
                  intern(n.scheme, "scheme") && intern(n.path, "path") &&
                  intern(n.raw_path, "raw_path") && intern(n.query_string, "query_string") &&
                  intern(n.root_path, "root_path") && intern(n.headers, "headers") &&
                  intern(n.client, "client") && intern(n.server, "server") &&
                  intern(n.extensions, "extensions") && intern(n.state, "state") &&
                  intern(n.body, "body") && intern(n.more_body, "more_body") &&
                  intern(n.status, "status") && intern(n.trailers, "trailers") &&
                  intern(n.more_trailers, "more_trailers") && intern(n.message, "message") &&
                  intern(n.http, "http") && intern(n.https, "https") &&
                  intern(n.http_request, "http.request") &&
                  intern(n.http_disconnect, "http.disconnect") && intern(n.v1_0, "1.0") &&
                  intern(n.v1_1, "1.1") && intern(n.receive, "receive") &&
                  intern(n.send, "send") &&
                  intern(n.set_result, "set_result") && intern(n.done, "done") &&
                  intern(n.subprotocols, "subprotocols") &&
                  intern(n.subprotocol, "subprotocol") && intern(n.bytes, "bytes") &&
                  intern(n.text, "text") && intern(n.code, "code") &&
                  intern(n.reason, "reason") && intern(n.websocket, "websocket") &&
                  intern(n.ws, "ws") && intern(n.wss, "wss") &&
                  intern(n.websocket_connect, "websocket.connect") &&
                  intern(n.websocket_receive, "websocket.receive") &&
                  intern(n.websocket_disconnect, "websocket.disconnect");
  if (!ok) return false;
  n.client_disconnected = PyErr_NewExceptionWithDoc(
      "lancet.ClientDisconnected",
      "send() was called after the client disconnected (ASGI HTTP spec 2.4).", PyExc_OSError,
      nullptr);
  if (n.client_disconnected == nullptr) return false;
  PyObject* asyncio = PyImport_ImportModule("asyncio");
  if (asyncio == nullptr) return false;
  n.cancelled_error = PyObject_GetAttrString(asyncio, "CancelledError");
  n.invalid_state_error = PyObject_GetAttrString(asyncio, "InvalidStateError");
  Py_DECREF(asyncio);
  if (n.cancelled_error == nullptr || n.invalid_state_error == nullptr) return false;
  g_ready = true;
  return true;
}

const Names& names() noexcept { return g_names; }

}  // namespace lancet::bridge
