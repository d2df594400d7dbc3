// libFuzzer target: request classification and the probe responses it leads to.
//
// Input layout (llhttp's idea: the first bytes choose the options):
//   byte 0  bit 0 probes_enabled, bit 1 alive_enabled, bit 2 ready_enabled, bit 3 custom
//           paths, bit 4 HTTP/1.0, bits 5-6 target form (0 origin, 1 absolute, 2 asterisk,
//           3 origin), bit 7 parser-style is_upgrade flag
//   byte 1  readiness (value % 3)
//   rest    lines split on '\n': method, target, [alive path, ready path when bit 3], then
//           field lines "name:value" (no ':' means an empty value)
// The head is built by hand (no ServerConnection), classified, checked against the rules in
// classify.hpp, and for a probe the response is built, serialised and checked (drained).
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/classify/classify.hpp"
#include "protocol/classify/probe_response.hpp"
#include "protocol/http1/message.hpp"

namespace {

using lancet::classify::ClassifyOptions;
using lancet::classify::ProbeKind;
using lancet::classify::ProbeResponse;
using lancet::classify::Readiness;
using lancet::classify::Route;
using lancet::classify::RouteKind;
namespace http1 = lancet::http1;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// Pops the next '\n'-terminated line (or the rest) off `rest`.
std::string_view next_line(std::string_view& rest) {
  const std::size_t end = rest.find('\n');
  std::string_view line = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return line;
}

http1::TargetForm target_form_of(std::uint8_t flags) {
  switch ((flags >> 5) & 3) {
    case 1: return http1::TargetForm::absolute;
    case 2: return http1::TargetForm::asterisk;
    default: return http1::TargetForm::origin;
  }
}

ClassifyOptions options_of(std::uint8_t flags, std::string_view& rest) {
  ClassifyOptions options;
  options.probes_enabled = (flags & 1) != 0;
  options.alive_enabled = (flags & 2) != 0;
  options.ready_enabled = (flags & 4) != 0;
  if ((flags & 8) != 0) {
    options.alive_path = std::string(next_line(rest));
    options.ready_path = std::string(next_line(rest));
  }
  return options;
}

std::string serialise(const ProbeResponse& response) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
  out += http1::reason_phrase(response.status);
  out += "\r\n";
  for (const http1::Header& h : response.header_views()) {
    out.append(h.name).append(": ").append(h.value).append("\r\n");
  }
  return out + "\r\n" + response.body;
}

void check_probe_response(ProbeKind kind, Readiness readiness, bool head_request) {
  const ProbeResponse get = lancet::classify::make_probe_response(kind, readiness, false);
  const ProbeResponse response =
      lancet::classify::make_probe_response(kind, readiness, head_request);
  check(response.status == 200 || response.status == 503);
  check(response.headers.size() == 3 && response.headers[1].name == "content-length");
  check(response.headers[1].value == std::to_string(get.body.size()));
  check(head_request ? response.body.empty() : response.body == get.body);
  boost::json::error_code ec;
  boost::json::value body = boost::json::parse(get.body, ec);
  check(!ec && body.is_object() && body.get_object().if_contains("status") != nullptr);
  const std::string wire = serialise(response);
  check(wire.size() >= response.body.size() + 4);
}

void check_route(const Route& route, const http1::RequestHead& head,
                 const ClassifyOptions& options) {
  if (route.kind == RouteKind::probe) {
    check(options.probes_enabled && (head.method == "GET" || head.method == "HEAD"));
    check(head.target_form == http1::TargetForm::origin);
    const std::string_view path = lancet::classify::target_path(head.target);
    check(route.probe == ProbeKind::alive ? options.alive_enabled && path == options.alive_path
                                          : options.ready_enabled && path == options.ready_path);
  }
  if (route.kind == RouteKind::websocket) {
    check(head.method == "GET" && head.version == http1::Version::http11);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const auto readiness = static_cast<Readiness>(data[1] % 3);
  std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);

  http1::RequestHead head;
  head.method = next_line(rest);
  head.target = next_line(rest);
  const ClassifyOptions options = options_of(flags, rest);
  head.version = (flags & 16) != 0 ? http1::Version::http10 : http1::Version::http11;
  head.target_form = target_form_of(flags);
  std::vector<http1::Header> fields;
  while (!rest.empty() && fields.size() < 64) {
    const std::string_view line = next_line(rest);
    const std::size_t colon = line.find(':');
    fields.push_back(colon == std::string_view::npos
                         ? http1::Header{line, {}}
                         : http1::Header{line.substr(0, colon), line.substr(colon + 1)});
  }
  head.headers = fields;

  const Route route = lancet::classify::classify(head, options);
  check_route(route, head, options);
  // The parser's summary flags must not change the decision (classify.hpp: not trusted).
  head.is_upgrade = (flags & 128) != 0;
  head.upgrade = head.is_upgrade ? std::string_view("websocket") : std::string_view();
  check(lancet::classify::classify(head, options) == route);
  if (route.kind == RouteKind::probe) {
    check_probe_response(route.probe, readiness, head.method == "HEAD");
  }
  return 0;
}
