// Properties of the http1 core (rapidcheck): split invariance, request round trip through a
// test-only client serialiser, response round trip through llhttp's response parser, sticky
// errors, and "one byte over a limit fails with that limit's error".
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <llhttp.h>

#include <string>
#include <vector>

#include "harness.hpp"
#include "protocol/http1/trace.hpp"

namespace lancet::http1 {
namespace {

using testing::drain;

// ---- a test-only client: requests as values, serialised to bytes ----------------------------

struct ClientRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Host and framing
  std::string body;
  bool chunked = false;
  std::vector<std::size_t> chunk_sizes;  // how a chunked body is cut
};

rc::Gen<std::string> gen_token() {
  return rc::gen::nonEmpty(rc::gen::container<std::string>(
      rc::gen::element('a', 'b', 'x', 'Z', '0', '9', '-', '_', '.', '!', '~')));
}

rc::Gen<std::string> gen_value() {
  return rc::gen::map(
      rc::gen::container<std::string>(rc::gen::element('a', 'B', '1', ' ', '\t', ';', '=', ',',
                                                        '/', '"', '\xc3', '\xa9')),
      [](std::string v) {
        // field values carry no leading/trailing OWS on the wire we compare (the parser trims).
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
        return v;
      });
}

rc::Gen<ClientRequest> gen_request() {
  return rc::gen::build<ClientRequest>(
      rc::gen::set(&ClientRequest::method, rc::gen::element<std::string>("GET", "POST", "PUT",
                                                                         "DELETE", "PATCH")),
      rc::gen::set(&ClientRequest::target,
                   rc::gen::map(rc::gen::container<std::string>(
                                    rc::gen::element('a', '/', '%', '2', '?', '=', '&', '~')),
                                [](std::string s) { return "/" + s; })),
      rc::gen::set(&ClientRequest::headers,
                   rc::gen::container<std::vector<std::pair<std::string, std::string>>>(
                       rc::gen::pair(rc::gen::map(gen_token(),
                                                  [](std::string t) { return "X-" + t; }),
                                     gen_value()))),
      rc::gen::set(&ClientRequest::body, rc::gen::container<std::string>(rc::gen::arbitrary<char>())),
      rc::gen::set(&ClientRequest::chunked),
      rc::gen::set(&ClientRequest::chunk_sizes,
                   rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, 9))));
}

std::string serialise(const ClientRequest& r) {
  std::string out = r.method + " " + r.target + " HTTP/1.1\r\nHost: example\r\n";
  for (const auto& [n, v] : r.headers) out += n + ": " + v + "\r\n";
  if (!r.chunked) {
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
    return out;
  }
  out += "Transfer-Encoding: chunked\r\n\r\n";
  std::size_t at = 0, i = 0;
  char hex[32];
  while (at < r.body.size()) {
    std::size_t n = r.chunk_sizes.empty() ? r.body.size() : r.chunk_sizes[i++ % r.chunk_sizes.size()];
    n = std::min(n, r.body.size() - at);
    std::snprintf(hex, sizeof hex, "%zx", n);
    out += std::string(hex) + "\r\n" + r.body.substr(at, n) + "\r\n";
    at += n;
  }
  return out + "0\r\n\r\n";
}

std::vector<std::string_view> split_at(std::string_view s, std::vector<std::size_t> cuts) {
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::string_view> pieces;
  std::size_t at = 0;
  for (std::size_t c : cuts) {
    c = c % (s.size() + 1);
    if (c < at) continue;
    pieces.push_back(s.substr(at, c - at));
    at = c;
  }
  pieces.push_back(s.substr(at));
  return pieces;
}

Options trace_options() {
  Options o;
  o.date_header = false;
  return o;
}

/// Up to 20 valid requests, serialised back to back (a pipelined stream).
rc::Gen<std::string> gen_valid_stream() {
  return rc::gen::map(
      rc::gen::resize(
          20, rc::gen::nonEmpty(rc::gen::container<std::vector<ClientRequest>>(gen_request()))),
      [](const std::vector<ClientRequest>& requests) {
        std::string stream;
        for (const auto& r : requests) stream += serialise(r);
        return stream;
      });
}

// 1. Split invariance: any partition of a valid stream gives the same events.
RC_GTEST_PROP(Http1Properties, AnySplitOfValidRequestsGivesTheSameTrace,
              (const std::vector<std::size_t>& cuts)) {
  std::string stream = *gen_valid_stream();
  const std::string whole = trace_request_stream(trace_options(), std::string_view(stream));
  RC_ASSERT(whole.find("\"error\"") == std::string::npos);
  const auto pieces = split_at(stream, cuts);
  RC_ASSERT(trace_request_stream(trace_options(), pieces) == whole);
}

// 1a. Lending the bytes (parsed in place, the rest kept before the buffer is reused) gives the
// same events as copying them, for any split, one buffer at a time or several lent in a row.
RC_GTEST_PROP(Http1Properties, LentInputGivesTheSameTraceAsCopiedInput,
              (const std::vector<std::size_t>& cuts)) {
  std::string stream = *gen_valid_stream();
  if (*rc::gen::arbitrary<bool>()) stream += "GET /bad HTTP/1.1\r\nX: \x01\r\n\r\n";
  const auto pieces = split_at(stream, cuts);
  const std::string copied = trace_request_stream(trace_options(), pieces, Feed::copied);
  RC_ASSERT(trace_request_stream(trace_options(), pieces, Feed::lent) == copied);
  RC_ASSERT(trace_request_stream(trace_options(), pieces, Feed::lent_in_threes) == copied);
}

// 1b. Split invariance holds for rejected input too: the same error, however it arrives.
RC_GTEST_PROP(Http1Properties, AnySplitOfInvalidInputGivesTheSameError,
              (const std::vector<std::size_t>& cuts)) {
  const std::string base = serialise(*rc::gen::resize(10, gen_request()));
  const std::string poison = *rc::gen::element<std::string>(
      "Bad Name: x\r\n", "X: a\rb\r\n", "X: y\r\n z\r\n", ": empty\r\n", "Host: again\r\n",
      "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n", "X: \x01\r\n");
  const std::string stream = base.substr(0, base.find("\r\n") + 2) + poison + base.substr(base.find("\r\n") + 2);
  const std::string whole = trace_request_stream(trace_options(), std::string_view(stream));
  RC_ASSERT(whole.find("\"event\":\"error\"") != std::string::npos);
  RC_ASSERT(trace_request_stream(trace_options(), split_at(stream, cuts)) == whole);
}

// 2. Round trip: serialise with the test client, parse, get the same request back.
RC_GTEST_PROP(Http1Properties, SerialisedRequestParsesBackToItself, ()) {
  const ClientRequest r = *rc::gen::resize(30, gen_request());
  ServerConnection conn;
  conn.receive_data(serialise(r));
  auto got = testing::receive_all(conn);
  RC_ASSERT(got.complete);
  RC_ASSERT(got.method == r.method);
  RC_ASSERT(got.target == r.target);
  RC_ASSERT(got.body == r.body);
  RC_ASSERT(got.headers.size() == r.headers.size() + 2);
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    RC_ASSERT(got.headers[i + 1].first == r.headers[i].first);
    RC_ASSERT(got.headers[i + 1].second == r.headers[i].second);
  }
}

// 2b. Response round trip: what send() queues, llhttp's response parser reads back.
struct ParsedResponse {
  int status = 0;
  std::string body;
  bool complete = false;
};

ParsedResponse parse_response(std::string_view bytes, bool head_request) {
  ParsedResponse out;
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_body = [](llhttp_t* p, const char* at, size_t n) {
    static_cast<ParsedResponse*>(p->data)->body.append(at, n);
    return 0;
  };
  s.on_message_complete = [](llhttp_t* p) {
    static_cast<ParsedResponse*>(p->data)->complete = true;
    return 0;
  };
  if (head_request) s.on_headers_complete = [](llhttp_t*) { return 1; };
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &s);
  parser.data = &out;
  if (llhttp_execute(&parser, bytes.data(), bytes.size()) == HPE_OK) llhttp_finish(&parser);
  out.status = parser.status_code;
  return out;
}

RC_GTEST_PROP(Http1Properties, QueuedResponsesParseBackWithTheirBody,
              (const std::vector<std::string>& pieces, bool declare_length, bool http10)) {
  ServerConnection conn;
  conn.receive_data(http10 ? "GET / HTTP/1.0\r\n\r\n" : "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  testing::receive_all(conn);
  std::string body;
  for (const auto& p : pieces) body += p;
  const std::uint16_t status = *rc::gen::element<std::uint16_t>(200, 201, 404, 500);
  const std::string length = std::to_string(body.size());
  const Header h[] = {{"content-length", length}};
  RC_ASSERT(conn.send({status, declare_length ? std::span<const Header>(h) : std::span<const Header>(), {}}));
  for (const auto& p : pieces) RC_ASSERT(conn.send_data(p));
  RC_ASSERT(conn.send_end());
  auto parsed = parse_response(drain(conn), false);
  RC_ASSERT(parsed.status == status);
  RC_ASSERT(parsed.body == body);
  RC_ASSERT(parsed.complete || (!declare_length && http10));  // 1.0 w/o length ends at close
}

// 3. Stickiness: after a remote error every call returns it, whatever else arrives.
RC_GTEST_PROP(Http1Properties, ErrorsStaySetWhateverArrivesAfter,
              (const std::vector<std::string>& later)) {
  ServerConnection conn;
  conn.receive_data("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n");
  auto first = conn.next_event();
  RC_ASSERT(!first);
  for (const auto& bytes : later) {
    conn.receive_data(bytes);
    auto again = conn.next_event();
    RC_ASSERT(!again);
    RC_ASSERT(again.error() == first.error());
  }
  conn.receive_eof();
  RC_ASSERT(!conn.next_event());
}

// 4. Limits: exactly at a limit passes, one byte over fails with that limit's error.
Result<Event> first_error_or_head(ServerConnection& conn) {
  for (int i = 0; i < 50; ++i) {
    auto ev = conn.next_event();
    if (!ev || std::holds_alternative<RequestHead>(*ev) || std::holds_alternative<NeedData>(*ev)) {
      return ev;
    }
  }
  return Event{NeedData{}};
}

RC_GTEST_PROP(Http1Properties, OneByteOverTheHeadLimitIs431, ()) {
  const std::size_t limit = *rc::gen::inRange<std::size_t>(40, 4000);
  const std::string prefix = "GET / HTTP/1.1\r\nHost: x\r\nX: ";
  const std::size_t fill = limit - prefix.size() - 4;
  Options o;
  o.limits.max_head_bytes = limit;
  ServerConnection fits(o);
  fits.receive_data(prefix + std::string(fill, 'v') + "\r\n\r\n");
  auto a = first_error_or_head(fits);
  RC_ASSERT(a && std::holds_alternative<RequestHead>(*a));
  ServerConnection over(o);
  over.receive_data(prefix + std::string(fill + 1, 'v') + "\r\n\r\n");
  auto b = first_error_or_head(over);
  RC_ASSERT(!b);
  RC_ASSERT(b.error().code == Errc::head_too_large);
  RC_ASSERT(b.error().http_status_hint == 431);
}

RC_GTEST_PROP(Http1Properties, OneByteOverTheTargetLimitIs414, ()) {
  const std::size_t limit = *rc::gen::inRange<std::size_t>(1, 2000);
  Options o;
  o.limits.max_target_bytes = limit;
  ServerConnection fits(o);
  fits.receive_data("GET /" + std::string(limit - 1, 't') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  auto a = first_error_or_head(fits);
  RC_ASSERT(a && std::holds_alternative<RequestHead>(*a));
  ServerConnection over(o);
  over.receive_data("GET /" + std::string(limit, 't') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  auto b = first_error_or_head(over);
  RC_ASSERT(!b);
  RC_ASSERT(b.error().code == Errc::target_too_long);
  RC_ASSERT(b.error().http_status_hint == 414);
}

RC_GTEST_PROP(Http1Properties, OneFieldOverTheCountLimitIs431, ()) {
  const std::size_t limit = *rc::gen::inRange<std::size_t>(1, 200);
  auto request = [](std::size_t fields) {
    std::string s = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (std::size_t i = 1; i < fields; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
    return s + "\r\n";
  };
  Options o;
  o.limits.max_header_count = limit;
  ServerConnection fits(o);
  fits.receive_data(request(limit));
  auto a = first_error_or_head(fits);
  RC_ASSERT(a && std::holds_alternative<RequestHead>(*a));
  ServerConnection over(o);
  over.receive_data(request(limit + 1));
  auto b = first_error_or_head(over);
  RC_ASSERT(!b);
  RC_ASSERT(b.error().code == Errc::too_many_headers);
}

RC_GTEST_PROP(Http1Properties, OneByteOverTheBodyLimitIs413, (bool chunked)) {
  const std::size_t limit = *rc::gen::inRange<std::size_t>(0, 3000);
  auto run = [&](std::size_t size) {
    ClientRequest r{"POST", "/", {}, std::string(size, 'b'), chunked, {700}};
    Options o;
    o.limits.max_body_bytes = limit;
    ServerConnection conn(o);
    conn.receive_data(serialise(r));
    for (int i = 0; i < 100; ++i) {
      auto ev = conn.next_event();
      if (!ev) return ev.error().code;
      if (std::holds_alternative<EndOfMessage>(*ev)) return Errc::bad_request;  // "no error"
    }
    return Errc::cycle_not_done;
  };
  RC_ASSERT(run(limit) == Errc::bad_request);
  RC_ASSERT(run(limit + 1) == Errc::body_too_large);
}

}  // namespace
}  // namespace lancet::http1
