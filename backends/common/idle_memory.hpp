// IdleMemory: gives the allocator's free pages back to the system when a server's last
// connection closes.
//
// Layer: backends/common (no I/O of its own, no threads; one per server, called on the thread
// that closes connections).
//
// A burst leaves the C heap with free memory the allocator keeps for reuse: glibc returns only
// the free top of its heap, and after a burst the top is rarely free. After 64 clients each
// post a 64 KiB body, a worker serving nothing keeps about 4.5 MiB more resident than before.
// When the last connection closes nobody is waiting on the worker, so it asks the allocator to
// release every whole free page (glibc's malloc_trim(0); a no-op on other C libraries). At most
// once per `min_interval` (1 s): a client that opens a connection per request does not pay for
// a trim on each. Memory freed later stays with the allocator until the next idle moment.
// --no-release-idle-memory turns it off.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

namespace lancet::backend::common {

/// Returns the allocator's whole free pages to the system (malloc_trim(0) on glibc).
void release_free_memory() noexcept;

class IdleMemory {
 public:
  using Clock = std::chrono::steady_clock;
  using Release = void (*)() noexcept;
  static constexpr Clock::duration kMinInterval = std::chrono::seconds(1);

  explicit IdleMemory(bool enabled, Release release = &release_free_memory,
                      Clock::duration min_interval = kMinInterval) noexcept
      : enabled_(enabled), release_(release), min_interval_(min_interval) {}

  /// A connection closed at `now` and `open` connections are left. Releases free memory when
  /// none is left and the last release is at least min_interval ago; returns whether it did.
  bool on_connection_closed(std::size_t open, Clock::time_point now) noexcept {
    if (!enabled_ || open != 0) return false;
    if (last_ && now - *last_ < min_interval_) return false;
    last_ = now;
    release_();
    return true;
  }

 private:
  bool enabled_;
  Release release_;
  Clock::duration min_interval_;
  std::optional<Clock::time_point> last_;
};

}  // namespace lancet::backend::common
