// See framing.hpp. Each decision cites the rule it follows.
#include "protocol/http1/framing.hpp"

namespace lancet::http1 {

Framing decide_framing(const RequestFacts& request, const ResponseFacts& response) noexcept {
  Framing f;
  const std::uint16_t status = response.status;
  // RFC 9112 §9.3: persistence. HTTP/1.1 is persistent unless "close"; HTTP/1.0 only with
  // keep-alive (already folded into request.keep_alive by the parser).
  f.keep_alive = request.keep_alive && !request.close_requested && !response.app_close;
  // RFC 9110 §10.1.1: a final response before the 100-continue body was asked for leaves the
  // client undecided about sending it: we close rather than guess where the next request starts.
  if (request.unread_body_waiting_for_continue) f.keep_alive = false;

  // RFC 9110 §15.2, §15.3.5: 1xx and 204 have no content, and §8.6: "A server MUST NOT send a
  // Content-Length header field in any response with a status code of 1xx or 204".
  if (status < 200 || status == 204) {
    f.body = BodyFraming::none;
    f.strip_length_fields = true;
    return f;
  }
  // RFC 9110 §15.4.5 (304) and §9.3.2 (HEAD): no content, but Content-Length may describe the
  // representation, so the app's fields pass through untouched.
  if (status == 304 || request.is_head) {
    f.body = BodyFraming::none;
    return f;
  }
  // RFC 9112 §6.3 step 6 / §6.2: a declared length frames the body.
  if (response.content_length && !response.app_chunked) {
    f.body = BodyFraming::content_length;
    f.length = *response.content_length;
    return f;
  }
  // RFC 9112 §7.1: chunked needs an HTTP/1.1 recipient; "A server MUST NOT send a response
  // containing Transfer-Encoding unless the corresponding request indicates HTTP/1.1".
  if (request.version == Version::http11) {
    f.body = BodyFraming::chunked;
    f.add_chunked_field = !response.app_chunked;
    return f;
  }
  // RFC 9112 §6.3 step 8: otherwise the body runs until the connection closes.
  f.body = BodyFraming::until_close;
  f.keep_alive = false;
  f.strip_length_fields = response.app_chunked;  // never send TE to a 1.0 client
  return f;
}

}  // namespace lancet::http1
