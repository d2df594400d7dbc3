// BufferRing: the server's provided-buffer ring for multishot recv, registered by hand.
//
// Layer: backends/io_uring. Knows io_uring, nothing of HTTP.
//
// Theory of operation
//   liburing 2.3 has no io_uring_setup_buf_ring(), so setup() does what it would: one anonymous
//   mmap holds the ring of io_uring_buf entries (page aligned, as the kernel requires) followed
//   by the buffers themselves; io_uring_buf_ring_init() and one io_uring_buf_ring_add() per
//   buffer fill it, io_uring_register_buf_ring() hands it to the kernel as buffer group
//   `group`, and io_uring_buf_ring_advance() publishes every buffer.
//
//   Buffer ownership, step by step:
//     1. the kernel takes the buffer at the ring's head for a recv with IOSQE_BUFFER_SELECT
//        and fills it; the CQE carries IORING_CQE_F_BUFFER and the id in
//        cqe->flags >> IORING_CQE_BUFFER_SHIFT;
//     2. the loop reads it through bytes(id, n) and hands the view to the connection: the
//        websocket parser copies it at once; http1 borrows it (lend_data) until the
//        connection's next step(), which comes before the loop's next submit;
//     3. recycle(id) puts it back at the ring's tail (not yet visible to the kernel);
//     4. publish() makes every recycled buffer visible at once (one release store), called
//        after each batch of completions, before the next submit.
//   So no buffer is held past the next submit: when a recv ends with -ENOBUFS (every buffer was
//   taken in one burst), the ring is full again by the time the loop re-arms that recv.
//
//   Memory: the mmap is only address space until the kernel writes into a buffer; the pages a
//   recv touched stay resident. With small requests that is about one page per buffer
//   (kRecvBufferCount * 4 KiB); at most kRecvBufferCount * kRecvBufferSize for the server,
//   however many connections are open (the one-shot design held 64 KiB per connection).
//
//   teardown() after io_uring_queue_exit() (which unregisters the group) unmaps the memory.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lancet::backend::io_uring {

/// 16 KiB: a request head at the default --max-head-size limit arrives in one buffer; a small
/// request uses one page of it.
inline constexpr unsigned kRecvBufferSize = 16 * 1024;
/// 64 buffers (1 MiB): what one loop turn may read before -ENOBUFS ends a recv, which the loop
/// re-arms (the bytes wait in the socket). The ring is taken in order, so under large bodies
/// every buffer ends up resident: 256 of them cost 3 MiB more RSS on the 64 KiB echo benchmark
/// (64 connections) and made no measurable difference to requests/s there or on hello with
/// 256 connections. A power of two, as the kernel requires.
inline constexpr unsigned kRecvBufferCount = 64;
/// The buffer group id of the server's ring (one ring, one group).
inline constexpr std::uint16_t kRecvBufferGroup = 0;

class BufferRing {
 public:
  BufferRing() = default;
  ~BufferRing() { teardown(); }
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  /// Maps and registers `count` buffers of `size` bytes as group `group` of `ring`. 0, or a
  /// negative errno: -EINVAL on kernels before 5.19 (no provided-buffer rings), -ENOMEM.
  int setup(::io_uring& ring, unsigned count = kRecvBufferCount,
            unsigned size = kRecvBufferSize, std::uint16_t group = kRecvBufferGroup) noexcept;
  /// Unmaps the memory. Call after io_uring_queue_exit() (or unregister first); idempotent.
  void teardown() noexcept;

  bool ready() const noexcept { return ring_ != nullptr; }
  std::uint16_t group() const noexcept { return group_; }
  unsigned buffer_size() const noexcept { return size_; }

  /// The first `n` bytes of buffer `id` (from a CQE with IORING_CQE_F_BUFFER).
  std::string_view bytes(std::uint16_t id, std::size_t n) const noexcept;
  /// Gives buffer `id` back; visible to the kernel after the next publish().
  void recycle(std::uint16_t id) noexcept;
  /// Makes every recycled buffer visible to the kernel.
  void publish() noexcept;

 private:
  char* buffer(std::uint16_t id) const noexcept { return buffers_ + std::size_t{id} * size_; }

  io_uring_buf_ring* ring_ = nullptr;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  char* buffers_ = nullptr;
  unsigned count_ = 0;
  unsigned size_ = 0;
  std::uint16_t group_ = 0;
  int recycled_ = 0;  ///< added since the last publish()
};

}  // namespace lancet::backend::io_uring
