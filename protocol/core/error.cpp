// The Errc table: names and default hints. See error.hpp.
#include "protocol/core/error.hpp"

namespace lancet {

std::string_view to_string(Errc code) noexcept {
  switch (code) {
    case Errc::bad_request: return "bad_request";
    case Errc::invalid_method: return "invalid_method";
    case Errc::method_not_implemented: return "method_not_implemented";
    case Errc::invalid_target: return "invalid_target";
    case Errc::target_too_long: return "target_too_long";
    case Errc::invalid_version: return "invalid_version";
    case Errc::unsupported_version: return "unsupported_version";
    case Errc::invalid_header_name: return "invalid_header_name";
    case Errc::invalid_header_value: return "invalid_header_value";
    case Errc::empty_header_name: return "empty_header_name";
    case Errc::bare_cr: return "bare_cr";
    case Errc::bare_lf: return "bare_lf";
    case Errc::obs_fold: return "obs_fold";
    case Errc::missing_host: return "missing_host";
    case Errc::duplicate_host: return "duplicate_host";
    case Errc::invalid_content_length: return "invalid_content_length";
    case Errc::content_length_and_transfer_encoding: return "content_length_and_transfer_encoding";
    case Errc::invalid_transfer_encoding: return "invalid_transfer_encoding";
    case Errc::unsupported_transfer_encoding: return "unsupported_transfer_encoding";
    case Errc::invalid_chunk: return "invalid_chunk";
    case Errc::head_too_large: return "head_too_large";
    case Errc::too_many_headers: return "too_many_headers";
    case Errc::body_too_large: return "body_too_large";
    case Errc::incomplete_request: return "incomplete_request";
    case Errc::request_timeout: return "request_timeout";
    case Errc::invalid_status: return "invalid_status";
    case Errc::invalid_response_header_name: return "invalid_response_header_name";
    case Errc::invalid_response_header_value: return "invalid_response_header_value";
    case Errc::invalid_response_content_length: return "invalid_response_content_length";
    case Errc::response_framing_conflict: return "response_framing_conflict";
    case Errc::body_exceeds_content_length: return "body_exceeds_content_length";
    case Errc::body_shorter_than_content_length: return "body_shorter_than_content_length";
    case Errc::send_out_of_order: return "send_out_of_order";
    case Errc::cycle_not_done: return "cycle_not_done";
    case Errc::unknown_event_type: return "unknown_event_type";
    case Errc::missing_event_field: return "missing_event_field";
    case Errc::invalid_event_field: return "invalid_event_field";
    case Errc::unexpected_event: return "unexpected_event";
    case Errc::event_after_response: return "event_after_response";
    case Errc::trailers_not_announced: return "trailers_not_announced";
    case Errc::client_disconnected: return "client_disconnected";
    case Errc::invalid_json: return "invalid_json";
    case Errc::unexpected_lifespan_event: return "unexpected_lifespan_event";
  }
  return "unknown_error";
}

std::uint16_t default_http_status(Errc code) noexcept {
  switch (code) {
    case Errc::method_not_implemented:
    case Errc::unsupported_transfer_encoding: return 501;
    case Errc::target_too_long: return 414;
    case Errc::unsupported_version: return 505;
    case Errc::head_too_large:
    case Errc::too_many_headers: return 431;
    case Errc::body_too_large: return 413;
    case Errc::request_timeout: return 408;
    case Errc::bad_request:
    case Errc::invalid_method:
    case Errc::invalid_target:
    case Errc::invalid_version:
    case Errc::invalid_header_name:
    case Errc::invalid_header_value:
    case Errc::empty_header_name:
    case Errc::bare_cr:
    case Errc::bare_lf:
    case Errc::obs_fold:
    case Errc::missing_host:
    case Errc::duplicate_host:
    case Errc::invalid_content_length:
    case Errc::content_length_and_transfer_encoding:
    case Errc::invalid_transfer_encoding:
    case Errc::invalid_chunk:
    case Errc::incomplete_request: return 400;
    default: return 500;
  }
}

bool is_fatal(Errc code) noexcept {
  // Remote http1 errors lose the framing: the connection must close after the error response.
  return default_http_status(code) != 500 || code == Errc::body_exceeds_content_length ||
         code == Errc::body_shorter_than_content_length;
}

Error make_remote_error(Errc code, const char* detail) noexcept {
  return Error{code, Origin::remote, default_http_status(code), 0, detail ? detail : ""};
}

Error make_local_error(Errc code, const char* detail) noexcept {
  return Error{code, Origin::local, 500, 0, detail ? detail : ""};
}

}  // namespace lancet
