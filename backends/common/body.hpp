// Request body staging shared by the backends: parsed body bytes wait in a string until the
// body window lets them go to the app.
//
// Layer: backends/common. No I/O, no Python.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

namespace lancet::backend::common {

/// The first `n` bytes of `pending`, removed from it. Taking all of it moves the buffer (no
/// copy); a part is copied out and the rest shifted down.
inline std::string take_front(std::string& pending, std::size_t n) {
  if (n >= pending.size()) {
    std::string all = std::move(pending);
    pending.clear();  // moved-from: valid but unspecified; make it empty
    return all;
  }
  std::string front = pending.substr(0, n);
  pending.erase(0, n);
  return front;
}

}  // namespace lancet::backend::common
