// See probe_response.hpp for the status/body table.
#include "protocol/classify/probe_response.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace lancet::classify {
namespace {

// The JSON "status" word and HTTP status for one probe answer.
struct ProbeAnswer {
  std::string_view word;
  std::uint16_t status;
};

ProbeAnswer answer_for(ProbeKind kind, Readiness readiness) noexcept {
  if (kind == ProbeKind::alive) return {"alive", 200};
  return {to_string(readiness),
          readiness == Readiness::ready ? std::uint16_t{200} : std::uint16_t{503}};
}

// {"status":"<word>"}, serialised by Boost.JSON so that quoting is never hand-rolled.
std::string json_body(std::string_view word) {
  boost::json::object body;
  body["status"] = word;
  return boost::json::serialize(body);
}

}  // namespace

std::vector<http1::Header> ProbeResponse::header_views() const {
  std::vector<http1::Header> views;
  views.reserve(headers.size());
  for (const OwnedHeader& h : headers) views.push_back(http1::Header{h.name, h.value});
  return views;
}

ProbeResponse make_probe_response(ProbeKind kind, Readiness readiness, bool head_request) {
  ProbeAnswer answer = answer_for(kind, readiness);
  ProbeResponse response;
  response.status = answer.status;
  response.body = json_body(answer.word);
  response.headers = {
      {"content-type", "application/json"},
      {"content-length", std::to_string(response.body.size())},
      {"cache-control", "no-store"},
  };
  if (head_request) response.body.clear();
  return response;
}

std::string_view to_string(Readiness readiness) noexcept {
  switch (readiness) {
    case Readiness::starting: return "starting";
    case Readiness::ready: return "ready";
    case Readiness::draining: return "draining";
  }
  return "unknown";
}

}  // namespace lancet::classify
