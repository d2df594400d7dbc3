// See json.hpp.
#include "protocol/asgi/json.hpp"

#include <boost/json/parse.hpp>
#include <limits>

namespace lancet::asgi {

namespace json = boost::json;

struct OwnedSendEvent::Storage {
  json::value document;
  std::vector<http1::Header> headers;
};

OwnedSendEvent::OwnedSendEvent(std::unique_ptr<Storage> storage, SendEvent event) noexcept
    : storage_(std::move(storage)), event_(event) {}
OwnedSendEvent::OwnedSendEvent(OwnedSendEvent&&) noexcept = default;
OwnedSendEvent& OwnedSendEvent::operator=(OwnedSendEvent&&) noexcept = default;
OwnedSendEvent::~OwnedSendEvent() = default;

namespace {

// ---- reading ---------------------------------------------------------------------------------

unexpected wrong_type(const char* message) noexcept {
  return unexpected(make_local_error(Errc::invalid_event_field, message));
}

const json::value* find(const json::object& object, std::string_view key) noexcept {
  return object.if_contains(json::string_view(key.data(), key.size()));
}

std::string_view view_of(const json::string& s) noexcept { return {s.data(), s.size()}; }

/// An optional boolean key (absent: false).
Result<bool> get_bool(const json::object& object, std::string_view key, const char* message) {
  const json::value* v = find(object, key);
  if (v == nullptr) return false;
  if (const bool* b = v->if_bool()) return *b;
  return wrong_type(message);
}

/// An optional byte-string key (absent: empty).
Result<std::string_view> get_bytes(const json::object& object, std::string_view key,
                                   const char* message) {
  const json::value* v = find(object, key);
  if (v == nullptr) return std::string_view{};
  if (const json::string* s = v->if_string()) return view_of(*s);
  return wrong_type(message);
}

/// An optional [[name, value], ...] key (absent: empty); views go into `out`.
Result<std::span<const http1::Header>> get_headers(const json::object& object,
                                                   std::vector<http1::Header>& out) {
  out.clear();
  const json::value* v = find(object, "headers");
  if (v == nullptr) return std::span<const http1::Header>{};
  const json::array* list = v->if_array();
  if (list == nullptr) {
    return wrong_type("expected 'headers' to be a list of [name, value] pairs, got another type");
  }
  out.reserve(list->size());
  for (const json::value& item : *list) {
    const json::array* pair = item.if_array();
    const json::string* name = pair && pair->size() == 2 ? (*pair)[0].if_string() : nullptr;
    const json::string* value = pair && pair->size() == 2 ? (*pair)[1].if_string() : nullptr;
    if (name == nullptr || value == nullptr) {
      return wrong_type(
          "expected each entry of 'headers' to be a [name, value] pair of byte strings, got "
          "something else");
    }
    out.push_back({view_of(*name), view_of(*value)});
  }
  return std::span<const http1::Header>(out);
}

Result<std::int64_t> get_status(const json::object& object) {
  const json::value* v = find(object, "status");
  if (v == nullptr) {
    return unexpected(make_local_error(Errc::missing_event_field,
                                       "missing required key 'status' in 'http.response.start'"));
  }
  if (const std::int64_t* i = v->if_int64()) return *i;
  if (v->is_uint64()) return std::numeric_limits<std::int64_t>::max();  // out of range anyway
  return wrong_type("expected 'status' to be an integer, got another type");
}

Result<SendEvent> start_from(const json::object& object, std::vector<http1::Header>& headers) {
  Result<std::int64_t> status = get_status(object);
  if (!status) return unexpected(status.error());
  Result<std::span<const http1::Header>> list = get_headers(object, headers);
  if (!list) return unexpected(list.error());
  Result<bool> trailers =
      get_bool(object, "trailers", "expected 'trailers' to be a boolean, got another type");
  if (!trailers) return unexpected(trailers.error());
  return HttpResponseStart{*status, *list, *trailers};
}

Result<SendEvent> body_from(const json::object& object) {
  Result<std::string_view> body =
      get_bytes(object, "body", "expected 'body' to be bytes (a JSON string), got another type");
  if (!body) return unexpected(body.error());
  Result<bool> more =
      get_bool(object, "more_body", "expected 'more_body' to be a boolean, got another type");
  if (!more) return unexpected(more.error());
  return HttpResponseBody{*body, *more};
}

Result<SendEvent> trailers_from(const json::object& object, std::vector<http1::Header>& headers) {
  Result<std::span<const http1::Header>> list = get_headers(object, headers);
  if (!list) return unexpected(list.error());
  Result<bool> more = get_bool(object, "more_trailers",
                               "expected 'more_trailers' to be a boolean, got another type");
  if (!more) return unexpected(more.error());
  return HttpResponseTrailers{*list, *more};
}

Result<SendEvent> pathsend_from(const json::object& object) {
  const json::value* v = find(object, "path");
  if (v == nullptr) {
    return unexpected(make_local_error(Errc::missing_event_field,
                                       "missing required key 'path' in 'http.response.pathsend'"));
  }
  const json::string* path = v->if_string();
  if (path == nullptr) return wrong_type("expected 'path' to be a string, got another type");
  return HttpResponsePathsend{view_of(*path)};
}

// ---- writing ---------------------------------------------------------------------------------

json::value bytes(std::string_view s) { return json::string(s.data(), s.size()); }

json::array headers_json(std::span<const http1::Header> headers) {
  json::array out;
  out.reserve(headers.size());
  for (const http1::Header& header : headers) {
    json::array pair;
    pair.push_back(bytes(header.name));
    pair.push_back(bytes(header.value));
    out.push_back(std::move(pair));
  }
  return out;
}

json::array scope_headers_json(const std::vector<ScopeHeader>& headers) {
  json::array out;
  out.reserve(headers.size());
  for (const ScopeHeader& header : headers) {
    json::array pair;
    pair.push_back(bytes(header.name));
    pair.push_back(bytes(header.value));
    out.push_back(std::move(pair));
  }
  return out;
}

json::value address_json(const std::optional<Address>& address) {
  if (!address) return nullptr;
  json::array pair;
  pair.push_back(bytes(address->host));
  pair.push_back(address->port);
  return pair;
}

json::value type_json(std::string_view type) { return bytes(type); }

}  // namespace

// ---- public ----------------------------------------------------------------------------------

Result<SendEvent> send_event_from_json(const json::value& value,
                                       std::vector<http1::Header>& headers) {
  headers.clear();
  const json::object* object = value.if_object();
  const json::value* type = object ? find(*object, "type") : nullptr;
  if (type == nullptr) {
    return unexpected(make_local_error(Errc::unknown_event_type,
                                       "expected an event object with a 'type' key, got none"));
  }
  const json::string* name = type->if_string();
  if (name == nullptr) return wrong_type("expected 'type' to be a string, got another type");
  std::string_view t = view_of(*name);
  if (t == "http.response.start") return start_from(*object, headers);
  if (t == "http.response.body") return body_from(*object);
  if (t == "http.response.trailers") return trailers_from(*object, headers);
  if (t == "http.response.pathsend") return pathsend_from(*object);
  return unexpected(make_local_error(
      Errc::unknown_event_type,
      "expected 'type' to be 'http.response.start', 'http.response.body', "
      "'http.response.trailers' or 'http.response.pathsend', got another message type"));
}

Result<OwnedSendEvent> parse_send_event(std::string_view text) {
  auto storage = std::make_unique<OwnedSendEvent::Storage>();
  json::parse_options options;
  options.allow_invalid_utf8 = true;  // bytes as JSON strings: any bytes round-trip
  boost::system::error_code ec;
  storage->document = json::parse(json::string_view(text.data(), text.size()), ec, {}, options);
  if (ec) {
    return unexpected(make_local_error(
        Errc::invalid_json, "expected a send event as JSON text, got text that is not JSON"));
  }
  Result<SendEvent> event = send_event_from_json(storage->document, storage->headers);
  if (!event) return unexpected(event.error());
  return OwnedSendEvent(std::move(storage), *event);
}

json::value to_json(const HttpScope& scope) {
  json::object asgi;
  asgi["version"] = bytes(scope.asgi_version);
  asgi["spec_version"] = bytes(scope.spec_version);
  json::object out;
  out["type"] = bytes(scope.type);
  out["asgi"] = std::move(asgi);
  out["http_version"] = bytes(scope.http_version);
  out["method"] = bytes(scope.method);
  out["scheme"] = bytes(scope.scheme);
  out["path"] = bytes(scope.path);
  out["raw_path"] = bytes(scope.raw_path);
  out["query_string"] = bytes(scope.query_string);
  out["root_path"] = bytes(scope.root_path);
  out["headers"] = scope_headers_json(scope.headers);
  out["client"] = address_json(scope.client);
  out["server"] = address_json(scope.server);
  return out;
}

json::value to_json(const ReceiveEvent& event) {
  json::object out;
  out["type"] = type_json(event_type(event));
  if (const HttpRequest* request = std::get_if<HttpRequest>(&event)) {
    out["body"] = bytes(request->body);
    out["more_body"] = request->more_body;
  }
  return out;
}

json::value to_json(const SendEvent& event) {
  json::object out;
  out["type"] = type_json(event_type(event));
  if (const auto* start = std::get_if<HttpResponseStart>(&event)) {
    out["status"] = start->status;
    out["headers"] = headers_json(start->headers);
    out["trailers"] = start->trailers;
  } else if (const auto* body = std::get_if<HttpResponseBody>(&event)) {
    out["body"] = bytes(body->body);
    out["more_body"] = body->more_body;
  } else if (const auto* trailers = std::get_if<HttpResponseTrailers>(&event)) {
    out["headers"] = headers_json(trailers->headers);
    out["more_trailers"] = trailers->more_trailers;
  } else if (const auto* pathsend = std::get_if<HttpResponsePathsend>(&event)) {
    out["path"] = bytes(pathsend->path);
  }
  return out;
}

json::value to_json(const Action& action) {
  json::object out;
  out["action"] = bytes(action_name(action));
  if (const auto* head = std::get_if<SendHead>(&action)) {
    out["status"] = head->status;
    out["headers"] = headers_json(head->headers);
  } else if (const auto* data = std::get_if<SendData>(&action)) {
    out["bytes"] = bytes(data->bytes);
  } else if (const auto* end = std::get_if<SendEnd>(&action)) {
    out["trailers"] = headers_json(end->trailers);
  } else if (const auto* file = std::get_if<SendFile>(&action)) {
    out["path"] = bytes(file->path);
  }
  return out;
}

json::value to_json(const Actions& actions) {
  json::array out;
  out.reserve(actions.size());
  for (const Action& action : actions) out.push_back(to_json(action));
  return out;
}

}  // namespace lancet::asgi
