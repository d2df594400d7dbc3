// Error: the one error value of the protocol core.
//
// Layer: protocol/core. Small, copyable, no heap. `code` says what went wrong; `origin` says who
// did it (h11's split: remote = the peer sent something wrong, local = our caller, i.e. the app,
// asked for something wrong); the hints tell the server what to answer (an HTTP status for a
// remote HTTP error, a close code for WebSocket); `detail` is a static string for humans.
//
// Errc is one enum with a section per library area so that Results compose across areas
// (an ASGI cycle passes up an http1 error unchanged). Every value carries its default hints in
// error.cpp's table; to_string() names it for logs and traces.
#pragma once

#include <cstdint>
#include <string_view>

namespace lancet {

/// Who caused an error (h11's LocalProtocolError vs RemoteProtocolError).
enum class Origin : std::uint8_t {
  local,   ///< our caller (the application) asked for something the protocol forbids
  remote,  ///< the peer sent bytes the protocol forbids
};

/// Every error the protocol core can report. Grouped by area; see error.cpp for hints.
enum class Errc : std::uint16_t {
  // ---- http1, remote: the request is malformed or over a limit ----------------------------
  bad_request,                 ///< generic malformed request (400)
  invalid_method,              ///< method is not a token (400)
  method_not_implemented,      ///< a valid token the server does not implement, e.g. CONNECT (501)
  invalid_target,              ///< request-target has invalid characters or form (400)
  target_too_long,             ///< request-target longer than Limits::max_target_bytes (414)
  invalid_version,             ///< malformed HTTP-version (400)
  unsupported_version,         ///< well-formed but not HTTP/1.0 or HTTP/1.1 (505)
  invalid_header_name,         ///< field name is not a token, or whitespace before ':' (400)
  invalid_header_value,        ///< NUL, CR, LF or another control character in a value (400)
  empty_header_name,           ///< a field line with nothing before ':' (400)
  bare_cr,                     ///< CR not followed by LF (400; CVE-2023-30589 shape)
  bare_lf,                     ///< LF not preceded by CR in the head (400)
  nul_byte,                    ///< a NUL byte anywhere in the head or trailers (400)
  obs_fold,                    ///< obsolete line folding (400; RFC 9112 §5.2, CVE-2024-27982)
  missing_host,                ///< HTTP/1.1 request without Host (400; RFC 9112 §3.2)
  duplicate_host,              ///< more than one Host field line (400; RFC 9112 §3.2)
  invalid_content_length,      ///< not a plain decimal, or differing duplicates (400)
  content_length_and_transfer_encoding,  ///< both present: a smuggling shape (400)
  invalid_transfer_encoding,   ///< chunked is not the final coding, or repeated (400)
  unsupported_transfer_encoding,  ///< a coding other than chunked (501; RFC 9112 §6.1)
  invalid_chunk,               ///< bad chunk size line, overflow or framing (400)
  head_too_large,              ///< request head over Limits::max_head_bytes (431)
  too_many_headers,            ///< more field lines than Limits::max_header_count (431)
  body_too_large,              ///< body over Limits::max_body_bytes (413)
  incomplete_request,          ///< the peer closed mid-message (400, usually unanswerable)
  request_timeout,             ///< the caller's header deadline passed (408)
  // ---- http1, local: the response asked for is invalid ------------------------------------
  invalid_status,              ///< status outside 100..599, or 1xx where not allowed
  invalid_response_header_name,   ///< response field name is not a token
  invalid_response_header_value,  ///< response field value has CR, LF or NUL
  invalid_response_content_length,  ///< response Content-Length is not a plain decimal
  response_framing_conflict,   ///< both Content-Length and Transfer-Encoding, or TE not chunked
  body_exceeds_content_length,    ///< more body bytes than the response's Content-Length
  body_shorter_than_content_length,  ///< response ended before its Content-Length was reached
  send_out_of_order,           ///< a send that the connection state does not allow
  cycle_not_done,              ///< start_next_cycle() before both sides finished
  // ---- asgi, local: the application sent an invalid event ---------------------------------
  unknown_event_type,          ///< 'type' is missing or not a known message for this scope
  missing_event_field,         ///< a required key is absent
  invalid_event_field,         ///< a key has the wrong type or value
  unexpected_event,            ///< a valid event in the wrong order (message says which)
  event_after_response,        ///< anything sent after the response completed
  trailers_not_announced,      ///< http.response.trailers without start's trailers=true
  client_disconnected,         ///< send() after the client left: the bridge raises an OSError
                               ///< subclass (ASGI HTTP spec 2.4), not logged as an app error
  invalid_json,                ///< the neutral JSON form could not be parsed
  // ---- websocket, remote: the opening handshake (RFC 6455 §4.2.1) --------------------------
  ws_handshake_not_get,        ///< the upgrade request's method is not GET (400)
  ws_handshake_not_http11,     ///< the upgrade request is not HTTP/1.1 (400)
  ws_handshake_no_upgrade,     ///< no "Upgrade: websocket" (400)
  ws_handshake_no_connection_upgrade,  ///< Connection does not hold "upgrade" (400)
  ws_handshake_invalid_key,    ///< Sec-WebSocket-Key missing, repeated or not base64 of 16 bytes (400)
  ws_handshake_invalid_version,  ///< Sec-WebSocket-Version missing or not 13 (426, §4.4)
  ws_handshake_invalid_field,  ///< a malformed Sec-WebSocket-Protocol list (400)
  // ---- websocket, remote: frames and messages (each carries its close code) ----------------
  ws_unmasked_frame,           ///< a client frame without the mask bit (1002, §5.1)
  ws_reserved_bits,            ///< RSV1-3 set without a negotiated extension (1002, §5.2)
  ws_unknown_opcode,           ///< a reserved opcode (1002, §5.2)
  ws_invalid_length,           ///< non-minimal length encoding or 64-bit length with MSB set (1002)
  ws_control_frame_too_long,   ///< a control frame payload over 125 bytes (1002, §5.5)
  ws_fragmented_control_frame,  ///< a control frame without FIN (1002, §5.5)
  ws_unexpected_continuation,  ///< a continuation frame with no message started (1002, §5.4)
  ws_expected_continuation,    ///< a new data frame inside a fragmented message (1002, §5.4)
  ws_invalid_close_payload,    ///< a close payload of one byte (1002, §5.5.1)
  ws_invalid_close_code,       ///< a close code not allowed on the wire (1002, §7.4)
  ws_invalid_utf8,             ///< text or a close reason that is not UTF-8 (1007, §8.1)
  ws_invalid_compressed_data,  ///< permessage-deflate data zlib cannot inflate (1007)
  ws_message_too_big,          ///< a message over Options::max_message_bytes (1009)
  ws_connection_lost,          ///< the transport ended without a close frame (1006, never sent)
  ws_ping_timeout,             ///< no pong within Options::ping_timeout_ms (1011)
  // ---- websocket, local: the application asked for something the protocol forbids --------
  ws_send_after_close,         ///< a send after our close frame was queued
  ws_invalid_send,             ///< a control payload over 125 bytes, a bad close code or reason,
                               ///< text that is not UTF-8, or an unknown subprotocol token
  // ---- lifespan, local ---------------------------------------------------------------------
  unexpected_lifespan_event,   ///< a lifespan reply that does not answer the current phase
};

/// One error: what, who, what to answer. Cheap to copy; `detail` is static storage.
struct Error {
  Errc code = Errc::bad_request;
  Origin origin = Origin::remote;
  std::uint16_t http_status_hint = 0;  ///< status to answer a remote HTTP error with (0: none)
  std::uint16_t ws_close_hint = 0;     ///< WebSocket close code to answer with (0: none)
  const char* detail = "";             ///< short human reason, static storage, never null

  friend bool operator==(const Error& a, const Error& b) noexcept {
    return a.code == b.code && a.origin == b.origin && a.http_status_hint == b.http_status_hint &&
           a.ws_close_hint == b.ws_close_hint;
  }
};

/// The error's stable name for logs and traces, e.g. "invalid_chunk".
std::string_view to_string(Errc code) noexcept;

/// The WebSocket close code a websocket Errc answers with (RFC 6455 §7.4.1), 0 for every other
/// code. 1006 (ws_connection_lost) is reported to the application, never sent on the wire.
std::uint16_t default_ws_close_code(Errc code) noexcept;

/// The default HTTP status for a code (500 for local errors).
std::uint16_t default_http_status(Errc code) noexcept;

/// True when the connection cannot continue after this error (every remote http1 error is:
/// framing is lost). Local event errors are not fatal to the connection by themselves.
bool is_fatal(Errc code) noexcept;

/// An error the peer caused, with the default status hint for `code`.
Error make_remote_error(Errc code, const char* detail) noexcept;

/// An error our caller caused (status hint 500).
Error make_local_error(Errc code, const char* detail) noexcept;

}  // namespace lancet
