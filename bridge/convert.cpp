// See convert.hpp.
#include "bridge/convert.hpp"

#include <array>
#include <optional>
#include <string>

#include "bridge/names.hpp"

namespace py = pybind11;

namespace lancet::bridge {
namespace {

template <class T>
T get_or(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key)) return fallback;
  py::object v = d[key];
  if (v.is_none()) return fallback;
  return v.cast<T>();
}

[[noreturn]] void raise(PyObject* type, const std::string& text) {
  PyErr_SetString(type, text.c_str());
  throw py::error_already_set();
}

std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

/// A view of a bytes-like object (bytes, bytearray, memoryview, any contiguous buffer) or,
/// for header names and values, a str (its UTF-8 form).
std::string_view bytes_view(PyObject* o, SendScratch& scratch, const char* what, bool allow_str) {
  if (PyBytes_Check(o)) {
    return {PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o))};
  }
  if (PyByteArray_Check(o)) {
    return {PyByteArray_AS_STRING(o), static_cast<std::size_t>(PyByteArray_GET_SIZE(o))};
  }
  if (allow_str && PyUnicode_Check(o)) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(o, &size);
    if (data == nullptr) throw py::error_already_set();
    return {data, static_cast<std::size_t>(size)};
  }
  if (PyObject_CheckBuffer(o)) {
    Py_buffer view;
    if (PyObject_GetBuffer(o, &view, PyBUF_SIMPLE) != 0) throw py::error_already_set();
    scratch.buffers.push_back(view);
    return {static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len)};
  }
  raise(PyExc_TypeError, std::string(what) + " must be bytes, got " + type_name(o));
}

/// Converts an iterable of (name, value) pairs into scratch.headers; returns the new span.
std::span<const http1::Header> convert_headers(PyObject* headers, SendScratch& scratch) {
  const std::size_t first = scratch.headers.size();
  PyObject* seq = PySequence_Fast(headers, "'headers' must be an iterable of (name, value) pairs");
  if (seq == nullptr) {
    PyErr_Clear();
    raise(PyExc_TypeError, "'headers' must be an iterable of (name, value) pairs, got " +
                               type_name(headers));
  }
  scratch.refs.push_back(seq);
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  PyObject** items = PySequence_Fast_ITEMS(seq);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* pair = items[i];
    PyObject* name = nullptr;
    PyObject* value = nullptr;
    if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) {
      name = PyTuple_GET_ITEM(pair, 0);
      value = PyTuple_GET_ITEM(pair, 1);
    } else if (PyList_Check(pair) && PyList_GET_SIZE(pair) == 2) {
      name = PyList_GET_ITEM(pair, 0);
      value = PyList_GET_ITEM(pair, 1);
    } else {
      PyObject* inner = PySequence_Check(pair) ? PySequence_Fast(pair, "") : nullptr;
      if (inner == nullptr || PySequence_Fast_GET_SIZE(inner) != 2) {
        Py_XDECREF(inner);
        PyErr_Clear();
        raise(PyExc_TypeError, "each header must be a (name, value) pair, got " +
                                   type_name(pair));
      }
      scratch.refs.push_back(inner);
      name = PySequence_Fast_ITEMS(inner)[0];
      value = PySequence_Fast_ITEMS(inner)[1];
    }
    http1::Header h;
    h.name = bytes_view(name, scratch, "header name", true);
    h.value = bytes_view(value, scratch, "header value", true);
    scratch.headers.push_back(h);
  }
  // The span is taken after every push_back (the vector may have moved).
  return {scratch.headers.data() + first, scratch.headers.size() - first};
}

PyObject* item(PyObject* dict, PyObject* key) {
  PyObject* v = PyDict_GetItemWithError(dict, key);
  if (v == nullptr && PyErr_Occurred()) throw py::error_already_set();
  return v;  // borrowed, may be null
}

/// A value's truth (it may run the object's __bool__); false for an absent (null) value.
bool truth(PyObject* v) {
  if (v == nullptr) return false;
  const int t = PyObject_IsTrue(v);
  if (t < 0) throw py::error_already_set();
  return t != 0;
}

bool truthy(PyObject* dict, PyObject* key) { return truth(item(dict, key)); }

bool equals(PyObject* str, std::string_view text) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(str, &size);
  if (data == nullptr) throw py::error_already_set();
  return std::string_view(data, static_cast<std::size_t>(size)) == text;
}

}  // namespace

void SendScratch::reset() {
  headers.clear();
  for (Py_buffer& b : buffers) PyBuffer_Release(&b);
  buffers.clear();
  for (PyObject* o : refs) Py_DECREF(o);
  refs.clear();
}

backend::ServerConfig config_from_native(const py::dict& native) {
  backend::ServerConfig c;
  c.host = get_or<std::string>(native, "host", c.host);
  c.port = static_cast<std::uint16_t>(get_or<int>(native, "port", c.port));
  c.uds = get_or<std::string>(native, "uds", "");
  c.fd = get_or<int>(native, "fd", -1);
  c.backlog = get_or<int>(native, "backlog", c.backlog);
  c.root_path = get_or<std::string>(native, "root_path", "");
  c.proxy_headers = get_or<bool>(native, "proxy_headers", c.proxy_headers);
  if (native.contains("forwarded_allow_ips") && !native["forwarded_allow_ips"].is_none()) {
    py::object ips = native["forwarded_allow_ips"];
    if (py::isinstance<py::str>(ips)) {
      c.forwarded_allow_ips.clear();
      std::string text = ips.cast<std::string>();
      std::size_t at = 0;
      while (at <= text.size()) {
        std::size_t comma = text.find(',', at);
        if (comma == std::string::npos) comma = text.size();
        std::string one = text.substr(at, comma - at);
        const auto b = one.find_first_not_of(' ');
        const auto e = one.find_last_not_of(' ');
        if (b != std::string::npos) c.forwarded_allow_ips.push_back(one.substr(b, e - b + 1));
        at = comma + 1;
      }
    } else {
      c.forwarded_allow_ips = ips.cast<std::vector<std::string>>();
    }
  }
  if (!get_or<bool>(native, "server_header", true)) c.http.server_header.clear();
  c.http.date_header = get_or<bool>(native, "date_header", true);
  if (native.contains("headers")) {
    for (py::handle pair : native["headers"]) {
      auto t = pair.cast<std::pair<std::string, std::string>>();
      c.default_headers.push_back(backend::Header{t.first, t.second});
    }
  }
  c.timeout_keep_alive = get_or<double>(native, "timeout_keep_alive", c.timeout_keep_alive);
  c.timeout_header = get_or<double>(native, "timeout_header", c.timeout_header);
  c.limit_concurrency = get_or<std::size_t>(native, "limit_concurrency", 0);
  c.http.limits.max_body_bytes =
      get_or<std::uint64_t>(native, "max_body_size", c.http.limits.max_body_bytes);
  c.http.limits.max_head_bytes =
      get_or<std::size_t>(native, "max_head_size", c.http.limits.max_head_bytes);
  c.http.limits.max_header_count =
      get_or<std::size_t>(native, "max_header_count", c.http.limits.max_header_count);
  c.io_thread = get_or<bool>(native, "io_thread", false);
  c.release_idle_memory = get_or<bool>(native, "release_idle_memory", c.release_idle_memory);
  c.probes.probes_enabled = get_or<bool>(native, "probes", true);
  c.probes.alive_path = get_or<std::string>(native, "probe_path_alive", c.probes.alive_path);
  c.probes.ready_path = get_or<std::string>(native, "probe_path_ready", c.probes.ready_path);
  c.ws.enabled = get_or<std::string>(native, "ws", "auto") != "none";
  c.ws.max_message_bytes = get_or<std::size_t>(native, "ws_max_size", c.ws.max_message_bytes);
  c.ws.max_queue = get_or<std::size_t>(native, "ws_max_queue", c.ws.max_queue);
  c.ws.ping_interval = get_or<double>(native, "ws_ping_interval", c.ws.ping_interval);
  c.ws.ping_timeout = get_or<double>(native, "ws_ping_timeout", c.ws.ping_timeout);
  c.ws.per_message_deflate =
      get_or<bool>(native, "ws_per_message_deflate", c.ws.per_message_deflate);
  return c;
}

namespace {

/// `message` as a dict: a mapping is copied into one, held by `scratch`.
void as_dict(PyObject*& message, SendScratch& scratch) {
  if (PyDict_Check(message)) return;
  if (!PyMapping_Check(message)) {
    raise(PyExc_TypeError, "an ASGI message must be a dict, got " + type_name(message));
  }
  PyObject* copy = PyDict_New();
  if (copy == nullptr) throw py::error_already_set();
  scratch.refs.push_back(copy);
  if (PyDict_Merge(copy, message, 1) != 0) throw py::error_already_set();
  message = copy;
}

/// A message's 'type' value (borrowed, may be null) as text.
std::string_view type_of(PyObject* type) {
  if (type == nullptr) raise(PyExc_RuntimeError, "ASGI message has no 'type' key");
  if (!PyUnicode_Check(type)) {
    raise(PyExc_TypeError, "ASGI message 'type' must be str, got " + type_name(type));
  }
  Py_ssize_t tsize = 0;
  const char* tdata = PyUnicode_AsUTF8AndSize(type, &tsize);
  if (tdata == nullptr) throw py::error_already_set();
  return {tdata, static_cast<std::size_t>(tsize)};
}

/// `message` as a dict (see as_dict) and its 'type'.
std::string_view message_type(PyObject*& message, SendScratch& scratch) {
  as_dict(message, scratch);
  return type_of(item(message, names().type));
}

/// A str field as UTF-8 (valid while the str lives), or nullopt when absent or None.
std::optional<std::string_view> optional_str(PyObject* message, PyObject* key, const char* what) {
  PyObject* v = item(message, key);
  if (v == nullptr || v == Py_None) return std::nullopt;
  if (!PyUnicode_Check(v)) {
    raise(PyExc_TypeError, std::string(what) + " must be str, got " + type_name(v));
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(v, &size);
  if (data == nullptr) throw py::error_already_set();
  return std::string_view(data, static_cast<std::size_t>(size));
}

/// An int field (wide, so that out-of-range values reach validation), or `fallback` when
/// absent or None (`required`: absent is a RuntimeError naming the event).
std::int64_t int_field(PyObject* message, PyObject* key, const char* what, std::int64_t fallback,
                       const char* required = nullptr) {
  PyObject* v = item(message, key);
  if (v == nullptr || (v == Py_None && required == nullptr)) {
    if (required != nullptr) raise(PyExc_RuntimeError, required);
    return fallback;
  }
  if (!PyLong_Check(v)) {
    raise(PyExc_TypeError, std::string(what) + " must be int, got " + type_name(v));
  }
  int overflow = 0;
  const long long value = PyLong_AsLongLongAndOverflow(v, &overflow);
  if (value == -1 && PyErr_Occurred()) throw py::error_already_set();
  return overflow != 0 ? -1 : value;
}

/// The keys of an 'http.response.*' message the server reads.
enum Field : std::size_t { f_type, f_body, f_more_body, f_status, f_headers, f_trailers,
                           f_more_trailers, f_path, f_count };

/// Each Field's interned key.
std::array<PyObject*, f_count> field_keys() {
  const Names& n = names();
  return {n.type, n.body, n.more_body, n.status, n.headers, n.trailers, n.more_trailers, n.path};
}

/// An HTTP send message's fields. App code writes its keys as str literals, which Python
/// interns, so one pass over the dict comparing keys by identity finds them all (a few
/// instructions per key instead of a hashed lookup per field). When any key is something else
/// (an extra key, or a known one built at run time), each field is looked up as before.
class HttpFields {
 public:
  explicit HttpFields(PyObject* message) : message_(message) {
    const std::array<PyObject*, f_count> keys = field_keys();
    Py_ssize_t pos = 0;
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    while (PyDict_Next(message, &pos, &key, &value)) {
      std::size_t i = 0;
      while (i < f_count && keys[i] != key) ++i;
      if (i == f_count) {  // by lookup
        release();
        return;
      }
      Py_INCREF(value);  // held: converting the headers may run code that changes the dict
      values_[i] = value;
    }
    found_all_ = true;
  }
  ~HttpFields() { release(); }
  HttpFields(const HttpFields&) = delete;
  HttpFields& operator=(const HttpFields&) = delete;

  /// The field's value (borrowed), or null when absent.
  PyObject* get(Field f) const {
    return found_all_ ? values_[f] : item(message_, field_keys()[f]);
  }

  /// The field's truth value; false when absent.
  bool truthy(Field f) const { return truth(get(f)); }

 private:
  void release() noexcept {
    for (PyObject*& v : values_) Py_CLEAR(v);
  }

  PyObject* message_;
  std::array<PyObject*, f_count> values_{};
  bool found_all_ = false;
};

}  // namespace

asgi::SendEvent to_send_event(PyObject* message, SendScratch& scratch) {
  as_dict(message, scratch);
  const HttpFields fields(message);
  const std::string_view t = type_of(fields.get(f_type));

  // Truth values first: a __bool__ is app code that may change the message, and no app code may
  // run once a view into one of its values is taken (the view would outlive the value).
  if (t == "http.response.body") {
    asgi::HttpResponseBody ev;
    ev.more_body = fields.truthy(f_more_body);
    if (PyObject* body = fields.get(f_body)) {
      ev.body = bytes_view(body, scratch, "'body'", false);
      Py_INCREF(body);  // held until the send is handled: the message may no longer hold it
      scratch.refs.push_back(body);
    }
    return ev;
  }
  if (t == "http.response.start") {
    asgi::HttpResponseStart ev;
    PyObject* status = fields.get(f_status);
    if (status == nullptr) raise(PyExc_RuntimeError, "'http.response.start' needs a 'status'");
    if (!PyLong_Check(status)) {
      raise(PyExc_TypeError, "'status' must be int, got " + type_name(status));
    }
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(status, &overflow);
    if (value == -1 && PyErr_Occurred()) throw py::error_already_set();
    ev.status = overflow != 0 ? -1 : value;
    ev.trailers = fields.truthy(f_trailers);
    if (PyObject* headers = fields.get(f_headers)) {
      ev.headers = convert_headers(headers, scratch);
    }
    return ev;
  }
  if (t == "http.response.trailers") {
    asgi::HttpResponseTrailers ev;
    ev.more_trailers = fields.truthy(f_more_trailers);
    if (PyObject* headers = fields.get(f_headers)) {
      ev.headers = convert_headers(headers, scratch);
    }
    return ev;
  }
  if (t == "http.response.pathsend") {
    asgi::HttpResponsePathsend ev;
    PyObject* p = fields.get(f_path);
    if (p == nullptr) raise(PyExc_RuntimeError, "'http.response.pathsend' needs a 'path'");
    if (!PyUnicode_Check(p)) {
      PyObject* fs = PyOS_FSPath(p);
      if (fs == nullptr) throw py::error_already_set();
      scratch.refs.push_back(fs);
      p = fs;
    }
    if (PyUnicode_Check(p)) {
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(p, &size);
      if (data == nullptr) throw py::error_already_set();
      ev.path = std::string_view(data, static_cast<std::size_t>(size));
    } else {
      ev.path = bytes_view(p, scratch, "'path'", false);
    }
    return ev;
  }
  raise(PyExc_RuntimeError,
        "unexpected ASGI message type '" + std::string(t) + "' for an 'http' scope");
}

asgi::WebSocketSendEvent to_websocket_event(PyObject* message, SendScratch& scratch) {
  const Names& n = names();
  const std::string_view t = message_type(message, scratch);
  if (t == "websocket.send") {
    asgi::WebSocketSend ev;
    if (PyObject* b = item(message, n.bytes); b != nullptr && b != Py_None) {
      ev.bytes = bytes_view(b, scratch, "'bytes'", false);
    }
    ev.text = optional_str(message, n.text, "'text'");
    return ev;
  }
  if (t == "websocket.accept") {
    asgi::WebSocketAccept ev;
    ev.subprotocol = optional_str(message, n.subprotocol, "'subprotocol'");
    if (PyObject* headers = item(message, n.headers); headers != nullptr && headers != Py_None) {
      ev.headers = convert_headers(headers, scratch);
    }
    return ev;
  }
  if (t == "websocket.close") {
    asgi::WebSocketClose ev;
    ev.code = int_field(message, n.code, "'code'", 1000);
    ev.reason = optional_str(message, n.reason, "'reason'").value_or(std::string_view{});
    return ev;
  }
  if (t == "websocket.http.response.start") {
    asgi::WebSocketHttpResponseStart ev;
    ev.status = int_field(message, n.status, "'status'", 0,
                          "'websocket.http.response.start' needs a 'status'");
    if (PyObject* headers = item(message, n.headers)) {
      ev.headers = convert_headers(headers, scratch);
    }
    return ev;
  }
  if (t == "websocket.http.response.body") {
    asgi::WebSocketHttpResponseBody ev;
    ev.more_body = truthy(message, n.more_body);  // first: see to_send_event
    if (PyObject* body = item(message, n.body)) {
      ev.body = bytes_view(body, scratch, "'body'", false);
    }
    return ev;
  }
  raise(PyExc_RuntimeError,
        "unexpected ASGI message type '" + std::string(t) + "' for a 'websocket' scope");
}

lifespan::SendEvent to_lifespan_event(PyObject* message) {
  const Names& n = names();
  if (!PyDict_Check(message)) {
    raise(PyExc_TypeError, "an ASGI message must be a dict, got " + type_name(message));
  }
  PyObject* type = item(message, n.type);
  if (type == nullptr) raise(PyExc_RuntimeError, "ASGI message has no 'type' key");
  if (!PyUnicode_Check(type)) {
    raise(PyExc_TypeError, "ASGI message 'type' must be str, got " + type_name(type));
  }
  lifespan::SendEvent ev;
  if (equals(type, "lifespan.startup.complete")) {
    ev.type = lifespan::SendType::startup_complete;
  } else if (equals(type, "lifespan.startup.failed")) {
    ev.type = lifespan::SendType::startup_failed;
  } else if (equals(type, "lifespan.shutdown.complete")) {
    ev.type = lifespan::SendType::shutdown_complete;
  } else if (equals(type, "lifespan.shutdown.failed")) {
    ev.type = lifespan::SendType::shutdown_failed;
  } else {
    raise(PyExc_RuntimeError, "unexpected ASGI message type '" +
                                  py::reinterpret_borrow<py::str>(type).cast<std::string>() +
                                  "' for a 'lifespan' scope");
  }
  if (PyObject* msg = item(message, n.message); msg != nullptr && msg != Py_None) {
    ev.message = py::str(msg).cast<std::string>();
  }
  return ev;
}

}  // namespace lancet::bridge
