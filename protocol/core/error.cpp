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
    case Errc::nul_byte: return "nul_byte";
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
    case Errc::ws_handshake_not_get: return "ws_handshake_not_get";
    case Errc::ws_handshake_not_http11: return "ws_handshake_not_http11";
    case Errc::ws_handshake_no_upgrade: return "ws_handshake_no_upgrade";
    case Errc::ws_handshake_no_connection_upgrade: return "ws_handshake_no_connection_upgrade";
    case Errc::ws_handshake_invalid_key: return "ws_handshake_invalid_key";
    case Errc::ws_handshake_invalid_version: return "ws_handshake_invalid_version";
    case Errc::ws_handshake_invalid_field: return "ws_handshake_invalid_field";
    case Errc::ws_unmasked_frame: return "ws_unmasked_frame";
    case Errc::ws_reserved_bits: return "ws_reserved_bits";
    case Errc::ws_unknown_opcode: return "ws_unknown_opcode";
    case Errc::ws_invalid_length: return "ws_invalid_length";
    case Errc::ws_control_frame_too_long: return "ws_control_frame_too_long";
    case Errc::ws_fragmented_control_frame: return "ws_fragmented_control_frame";
    case Errc::ws_unexpected_continuation: return "ws_unexpected_continuation";
    case Errc::ws_expected_continuation: return "ws_expected_continuation";
    case Errc::ws_invalid_close_payload: return "ws_invalid_close_payload";
    case Errc::ws_invalid_close_code: return "ws_invalid_close_code";
    case Errc::ws_invalid_utf8: return "ws_invalid_utf8";
    case Errc::ws_invalid_compressed_data: return "ws_invalid_compressed_data";
    case Errc::ws_message_too_big: return "ws_message_too_big";
    case Errc::ws_connection_lost: return "ws_connection_lost";
    case Errc::ws_ping_timeout: return "ws_ping_timeout";
    case Errc::ws_send_after_close: return "ws_send_after_close";
    case Errc::ws_invalid_send: return "ws_invalid_send";
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
    case Errc::ws_handshake_invalid_version: return 426;
    case Errc::ws_handshake_not_get:
    case Errc::ws_handshake_not_http11:
    case Errc::ws_handshake_no_upgrade:
    case Errc::ws_handshake_no_connection_upgrade:
    case Errc::ws_handshake_invalid_key:
    case Errc::ws_handshake_invalid_field:
    case Errc::bad_request:
    case Errc::invalid_method:
    case Errc::invalid_target:
    case Errc::invalid_version:
    case Errc::invalid_header_name:
    case Errc::invalid_header_value:
    case Errc::empty_header_name:
    case Errc::bare_cr:
    case Errc::bare_lf:
    case Errc::nul_byte:
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

std::uint16_t default_ws_close_code(Errc code) noexcept {
  switch (code) {
    case Errc::ws_unmasked_frame:
    case Errc::ws_reserved_bits:
    case Errc::ws_unknown_opcode:
    case Errc::ws_invalid_length:
    case Errc::ws_control_frame_too_long:
    case Errc::ws_fragmented_control_frame:
    case Errc::ws_unexpected_continuation:
    case Errc::ws_expected_continuation:
    case Errc::ws_invalid_close_payload:
    case Errc::ws_invalid_close_code: return 1002;
    case Errc::ws_invalid_utf8:
    case Errc::ws_invalid_compressed_data: return 1007;
    case Errc::ws_message_too_big: return 1009;
    case Errc::ws_connection_lost: return 1006;
    case Errc::ws_ping_timeout: return 1011;
    default: return 0;
  }
}

bool is_fatal(Errc code) noexcept {
  // Remote http1 errors lose the framing: the connection must close after the error response.
  // WebSocket protocol errors end the connection too (after the close frame).
  return default_http_status(code) != 500 || code == Errc::body_exceeds_content_length ||
         code == Errc::body_shorter_than_content_length || default_ws_close_code(code) != 0;
}

Error make_remote_error(Errc code, const char* detail) noexcept {
  return Error{code, Origin::remote, default_http_status(code), 0, detail ? detail : ""};
}

Error make_local_error(Errc code, const char* detail) noexcept {
  return Error{code, Origin::local, 500, 0, detail ? detail : ""};
}

}  // namespace lancet
