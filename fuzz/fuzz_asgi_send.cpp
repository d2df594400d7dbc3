// libFuzzer target: ASGI send-event parsing and validation, and the HTTP cycle behind them.
//
// Input: byte 0 picks options, the rest is the neutral JSON form (protocol/asgi/json.hpp):
// one send event object, or an array of them fed in order through one HttpCycle.
//   bit 0: the request is HEAD            bit 1: do not hold the start back
//   bit 2: the client disconnects half way through the events
//   bit 3: a request body arrives and the app drains receive() after each send
//   bit 4: the app raised (on_app_exit outcome)
// Every action is drained (serialised to JSON, as lancet-trace would), and the cycle's output
// invariants are checked: one head at most, data and files only after it, nothing after the
// end or an abort, and every cycle ends once on_app_exit() has run. A violation traps.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "protocol/asgi/json.hpp"

namespace {

namespace asgi = lancet::asgi;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

/// Consumes actions the way a backend would and checks the output invariants.
struct Drain {
  bool head_sent = false;
  bool ended = false;
  std::size_t bytes = 0;

  void operator()(const asgi::Actions& actions) {
    for (const asgi::Action& action : actions) {
      require(!ended);
      bytes += boost::json::serialize(asgi::to_json(action)).size();
      if (std::holds_alternative<asgi::SendHead>(action)) {
        require(!head_sent);
        head_sent = true;
      } else if (const auto* data = std::get_if<asgi::SendData>(&action)) {
        require(head_sent && !data->bytes.empty());
      } else if (std::holds_alternative<asgi::SendFile>(action)) {
        require(head_sent);
      } else {
        ended = true;  // SendEnd or Abort
      }
    }
  }
};

void drain_receive(asgi::HttpCycle& cycle) {
  for (int i = 0; i < 4; ++i) {
    std::optional<asgi::ReceiveEvent> event = cycle.next_receive();
    if (!event) return;
    (void)boost::json::serialize(asgi::to_json(*event));
    if (std::holds_alternative<asgi::HttpDisconnect>(*event)) return;
  }
}

void run_cycle(std::uint8_t flags, std::string_view text, const boost::json::value& document) {
  std::vector<const boost::json::value*> events;
  if (const boost::json::array* list = document.if_array()) {
    for (const boost::json::value& item : *list) events.push_back(&item);
  } else {
    events.push_back(&document);
  }
  asgi::HttpCycle cycle(asgi::CycleOptions{(flags & 1) != 0, (flags & 2) == 0});
  if (flags & 8) cycle.on_body(text.substr(0, 16), true);
  Drain drain;
  std::vector<lancet::http1::Header> headers;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if ((flags & 4) && i == events.size() / 2) cycle.on_disconnect();
    lancet::Result<asgi::SendEvent> event = asgi::send_event_from_json(*events[i], headers);
    if (!event) continue;
    lancet::Result<asgi::Actions> actions = cycle.on_app_send(*event);
    if (actions) drain(*actions);
    if (flags & 8) drain_receive(cycle);
    require(!drain.ended || cycle.is_done());
  }
  drain(cycle.on_app_exit((flags & 16) ? asgi::Outcome::raised : asgi::Outcome::returned));
  require(drain.ended && cycle.is_done());
  require(cycle.on_app_exit(asgi::Outcome::returned).empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  // The standalone entry point: any text gives an event or an error, never a crash.
  lancet::Result<asgi::OwnedSendEvent> single = asgi::parse_send_event(text);
  if (single) {
    (void)asgi::validate_send_event(single->event());
    (void)boost::json::serialize(asgi::to_json(single->event()));
  }

  boost::json::parse_options options;
  options.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  boost::json::value document =
      boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, {}, options);
  if (ec) return 0;
  run_cycle(flags, text, document);
  return 0;
}
