// See state.hpp.
#include "protocol/http1/state.hpp"

namespace lancet::http1 {

std::string_view to_string(State state) noexcept {
  switch (state) {
    case State::idle: return "idle";
    case State::send_body: return "send_body";
    case State::done: return "done";
    case State::must_close: return "must_close";
    case State::closed: return "closed";
    case State::switched_protocol: return "switched_protocol";
    case State::error: return "error";
  }
  return "unknown";
}

}  // namespace lancet::http1
